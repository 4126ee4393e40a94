"""The services as a mode of the PID-1 frame: what each of the frame's calls means for them.

The frame (:mod:`pyinit.init`) sorts the signals and calls the Mode protocol;
this class answers in the services' terms and hands the orchestration to
:class:`~pyinit.services.supervisor.Supervisor`: a stop request drains first
(``--stop-delay``, :mod:`pyinit.drain`), then stops the services in reverse
order; a second one kills them; other signals go to every running service.
It also owns what lives as long as the run: the launcher, the control
socket, the OOM counter.
"""

from __future__ import annotations

from pyinit import log, signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.control import Server
    from pyinit.init import Frame
    from pyinit.services.supervisor import Supervisor
    from pyinit.summary import Report


class ServicesMode:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.settings = supervisor.settings
        self.control: Server | None = None

    def start(self, frame: Frame) -> None:
        from pyinit import oom
        from pyinit.drain import Drain
        from pyinit.services.launch import Launcher

        sup = self.supervisor
        json_lines = self.settings.log_format == "json"
        launcher = Launcher(frame.loop, frame.reaper, sup.order, sup.on_ready, sup.on_exit, json_lines)
        drain = Drain(frame.loop, self.settings.stop_delay, self.stop_now)
        sup.attach(frame, launcher, drain, oom.OomCounter())
        frame.reaper.on_orphan = self.on_orphan
        drain.running()
        self.open_control(frame)
        for service in sup.services.values():
            sup.add_job(service)
        sup.schedule()

    def after_reap(self) -> None:
        self.supervisor.after_reap()

    def on_orphan(self, pid: int, status: int) -> None:
        """An orphan's SIGKILL death claims the OOM kill it explains (not a service's later one)."""
        from pyinit import oom

        counter, frame = self.supervisor.oom, self.supervisor.frame
        if counter is not None and not frame.ending and oom.killed_by_sigkill(status) and counter.verdict():
            log.warning("orphan killed by the OOM killer", pid=pid, oom_killed=True)

    def forward(self, sig: int) -> None:
        """HUP, USR1, WINCH, ... are for every running service, after --rewrite."""
        if sig in signals.JOB_CONTROL:
            return  # they concern pyinit's own terminal, and services are not jobs of it
        target = signals.rewrite(sig, self.settings.rewrite)
        if target != 0:
            self.supervisor.signal_all(target)

    def stop_requested(self, sig: int) -> None:
        if self.supervisor.stopping:  # already stopping (a critical service ended): do not wait any longer
            self.hurry(sig)
        else:  # not ready at once; the stop after --stop-delay (pyinit/drain.py)
            self.supervisor.drain.stop_request(sig)

    def stop_now(self, sig: int) -> None:
        """A stop request the drain let through."""
        self.supervisor.shutdown(f"stop request ({signals.name(sig)})")

    def hurry(self, sig: int) -> None:
        """A second stop request (Ctrl-C twice): no more grace for the services."""
        sup = self.supervisor
        if not sup.stopping:  # still draining: it waits for the drain like the first
            sup.drain.stop_request(sig)
            return
        running = [s for s in sup.services.values() if s.running]
        if running:
            log.warning("stop requested again; killing the services now", signal=signals.name(sig))
        for service in running:
            service.kill(signals.SIGKILL)

    def exit_code(self) -> int:
        return self.supervisor.exit_code()

    def report(self, code: int) -> Report:
        from pyinit.services.report import report

        sup = self.supervisor
        return report(code, list(sup.services.values()), sup.critical, sup.reason)

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
        self.supervisor.close()

    def open_control(self, frame: Frame) -> None:
        from pyinit import control
        from pyinit.services.api import Api

        path = self.settings.control_socket
        try:
            self.control = control.Server(frame.loop, path, Api(self.supervisor).handle)
        except OSError as exc:
            log.warning("control socket unavailable", path=path, error=exc.strerror or str(exc))
