"""The services mode: start in dependency order, restart by policy, stop in reverse.

It runs inside the PID-1 frame (:mod:`pyinit.init`) like the single child
does: the same loop, the same single reaper. The frame sorts the signals and
calls the methods of the Mode protocol (``start``, ``after_reap``,
``forward``, ``stop_requested``, ``hurry``, ``exit_code``, ``close``); this
class decides what each means for the services and leaves the rest of the
namespace to the frame: once every service is down it calls ``frame.end()``,
which starts the final teardown from the loop.

Who does what: :class:`~pyinit.services.service.Service` holds one service's
state machine, :mod:`~pyinit.services.policy` decides restarts,
:mod:`~pyinit.services.graph` the order, :mod:`~pyinit.services.launch` starts
a process, :mod:`~pyinit.services.api` answers the control socket.
"""

from __future__ import annotations

import time

from pyinit import log, oom, signals
from pyinit.services import graph
from pyinit.services.service import Service

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.drain import Drain
    from pyinit.init import Frame
    from pyinit.services.jobs import JobBoard
    from pyinit.services.launch import Launcher
    from pyinit.services.spec import ServiceSpec
    from pyinit.settings import Settings


class Supervisor:
    def __init__(self, settings: Settings, specs: dict[str, ServiceSpec]) -> None:
        from pyinit.services import instances

        self.settings = settings
        self.templates = specs  # as configured: ``instances`` not yet expanded (reload, scale)
        self.counts: dict[str, int] = {}  # instance counts set by ``ctl scale``
        self.specs = instances.expand(specs)
        self.order = graph.start_order(self.specs)
        self.services = {name: Service(self.specs[name]) for name in self.order}
        self.dependents = graph.dependents(self.specs)
        self._jobs: JobBoard | None = None
        self.stopping = False
        self.exit_status = 0
        self._frame: Frame | None = None
        self._launcher: Launcher | None = None
        self._drain: Drain | None = None
        self.oom: oom.OomCounter | None = None
        self.reason = ""  # why the services are stopping
        self.critical: Service | None = None  # the critical service whose end ended everything

    @property
    def frame(self) -> Frame:
        assert self._frame is not None, "started by the frame"
        return self._frame

    @property
    def drain(self) -> Drain:
        assert self._drain is not None, "started by the frame"
        return self._drain

    @property
    def jobs(self) -> JobBoard:
        if self._jobs is None:
            from pyinit.services.jobs import JobBoard

            self._jobs = JobBoard(self.frame.loop, self.run_job)
        return self._jobs

    @property
    def launcher(self) -> Launcher:
        assert self._launcher is not None, "started by the frame"
        return self._launcher

    def attach(self, frame: Frame, launcher: Launcher, drain: Drain, oom_counter: oom.OomCounter) -> None:
        """What the run gives the orchestration (pyinit.services.mode makes them in ``start``)."""
        self._frame, self._launcher, self._drain, self.oom = frame, launcher, drain, oom_counter

    def after_reap(self) -> None:
        """Finish the stops that were waiting for the rest of a service's process group."""
        for service in self.services.values():
            if service.state == "stopping" and service.pid is None and not service.group_alive():
                self.stopped(service)

    def signal_all(self, sig: int) -> None:
        for service in self.services.values():
            if service.pid is not None:
                service.kill(sig)

    def exit_code(self) -> int:
        return 0 if self.exit_status in self.settings.expect_exit else self.exit_status

    def close(self) -> None:
        if self._drain is not None:
            self._drain.ended()
        for service in self.services.values():
            for output in service.outputs:
                output.close()
        if self._launcher is not None:
            self._launcher.close()

    # -- starting ---------------------------------------------------------------
    def schedule(self) -> None:
        """Start every waiting service whose dependencies are all ready."""
        if self.stopping:
            return
        for name in self.order:
            service = self.services[name]
            if service.state == "waiting" and all(
                self.services[dep].satisfies_dependents() for dep in service.spec.depends_on
            ):
                self.launcher.launch(service)
        self.check_all_ended()

    def on_ready(self, service: Service) -> None:
        if service.became_ready():
            from pyinit.services.vitals import Vitals

            if Vitals.wanted(service.spec):
                loop, reaper = self.frame.loop, self.frame.reaper
                service.vitals = Vitals(loop, reaper, service.spec, lambda: self.unhealthy(service))
                service.vitals.start()
            self.schedule()

    def unhealthy(self, service: Service) -> None:
        """Failed its checks: its stop signal (SIGKILL after its grace); its exit then counts as a
        failure and the restart policy decides."""
        if service.state != "ready" or service.pid is None or self.stopping:
            return
        service.unhealthy = True
        service.send_stop_signal()
        service.cancel_timer()
        service.timer = self.frame.loop.call_later(service.spec.stop_grace, lambda: service.kill(signals.SIGKILL))

    # -- reload and scale (pyinit.services.changes) -----------------------------
    def reload(self) -> dict[str, Any]:
        from pyinit.services import changes

        return changes.reload(self)

    def scale(self, name: str, count: int) -> dict[str, Any]:
        from pyinit.services import changes

        return changes.scale(self, name, count)

    # -- scheduled jobs (pyinit.services.jobs) ------------------------------------
    def add_job(self, service: Service) -> None:
        self.jobs.add(service)

    def run_job(self, service: Service) -> bool:
        if self.stopping or not all(self.services[dep].satisfies_dependents() for dep in service.spec.depends_on):
            return False
        service.cancel_timer()
        self.launcher.launch(service)
        return True

    def request_start(self, service: Service) -> None:
        """``ctl start``: a fresh back-off and start limit, then start as soon as its dependencies allow."""
        if service.running:
            return
        if service.job is not None:
            self.jobs.run_now(service.job)
            return
        service.reset()
        self.schedule()

    def restart_due(self, service: Service) -> None:
        service.timer = None
        if service.state == "backoff" and not self.stopping:
            service.restarts += 1
            self.launcher.launch(service)

    # -- exits ------------------------------------------------------------------
    def on_exit(self, service: Service, pid: int, status: int) -> None:
        verdict = None
        if self.oom is not None and oom.killed_by_sigkill(status) and not service.sigkilled:
            verdict = self.oom.verdict()  # a SIGKILL pyinit did not send: the OOM killer's?
        outcome = service.leader_exited(pid, status, time.monotonic(), self.stopping, verdict)
        if service.job is not None and outcome != "lingering":
            service.job.finished()
            if outcome == "ended":  # the run is over; the next one is the timetable's
                service.wait_for_schedule()
                return
        if outcome == "stopped":
            self.after_stop()
        elif outcome == "backoff":
            service.timer = self.frame.loop.call_later(service.backoff, lambda: self.restart_due(service))
        elif outcome == "ended":
            self.ended(service)

    def ended(self, service: Service) -> None:
        """The service is over for good (no restart coming)."""
        if service.spec.critical:
            code = service.last_code or 0
            log.warning("critical service ended; stopping everything", service=service.name, exit_code=code)
            self.exit_status = code
            self.critical = service
            self.shutdown(f"critical service {service.name} ended")
            return
        if service.state == "failed":
            self.fail_dependents(service)
        self.schedule()

    def fail_dependents(self, failed: Service) -> None:
        """``on_dependency_failure = "stop"``: its dependents will not run, the running ones stop first."""
        cause = failed.last_exit or "failed"
        for name in self.dependents.get(failed.name, []):
            dependent = self.services.get(name)
            if dependent is None or dependent.spec.on_dependency_failure != "stop" or dependent.job is not None:
                continue
            if dependent.running:
                if dependent.state != "stopping":

                    def then(dependent: Service = dependent) -> None:
                        if not self.stopping:
                            dependent.dependency_failed(failed.name, cause)
                            self.ended(dependent)

                    self.stop(dependent, then)
            elif dependent.state in ("waiting", "backoff"):
                dependent.dependency_failed(failed.name, cause)
                self.ended(dependent)

    def check_all_ended(self) -> None:
        """Every service ended on its own (none stopped by request): nothing left to supervise."""
        if self.stopping:
            return
        services = self.services.values()
        if any(s.state == "stopped" for s in services):
            return

        if all(s.state in ("exited", "failed") or (s.state == "waiting" and self.blocked(s)) for s in services):
            ok = all(s.state == "exited" and s.last_code == 0 for s in services)
            self.exit_status = 0 if ok else 1
            self.shutdown("every service has ended")

    def blocked(self, service: Service) -> bool:
        """Waiting for a dependency that will not become ready without a request."""
        services = self.services
        return graph.blocked(
            service.name, self.specs, lambda name: services[name].dead(), lambda name: services[name].state == "waiting"
        )

    # -- stopping ---------------------------------------------------------------
    def stop(self, service: Service, then: Callable[[], None] | None = None) -> None:
        if service.job is not None:  # a job stopped is off its timetable too, until started again
            service.job.cancel()
        if service.vitals is not None:  # a service on its way out is not checked any more
            service.vitals.stop()
        if then is not None:
            service.on_stopped.append(then)
        if service.stop():

            def too_late() -> None:
                if service.grace_over():
                    self.after_stop()

            service.timer = self.frame.loop.call_later(service.spec.stop_grace, too_late)

    def stopped(self, service: Service) -> None:
        service.stop_finished()
        self.after_stop()

    def after_stop(self) -> None:
        if self.stopping:
            self.continue_shutdown()

    def shutdown(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.reason = reason
        log.info("stopping all services", reason=reason)
        for service in self.services.values():
            if service.job is not None:
                service.job.cancel()
            if not service.running:
                service.halt()
        self.continue_shutdown()

    def continue_shutdown(self) -> None:
        """Stop each service once everything that depends on it is down; then the rest of the namespace."""
        running = [s for s in self.services.values() if s.running]
        for service in running:
            if service.state != "stopping" and not any(self.services[d].running for d in self.dependents[service.name]):
                self.stop(service)
        if not running:
            self.frame.end()  # the teardown starts from the loop, not from inside this reap
