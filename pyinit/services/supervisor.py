"""Several services under one PID 1: start in dependency order, restart, stop in reverse.

The same loop and the same single reaper as the one-child init: every service,
every probe and every orphan is collected by :class:`pyinit.reaper.Reaper`,
and every wait (back-off, stop grace, probe retries) is a loop timer.

States: waiting (for its dependencies) -> starting (spawned, not yet ready)
-> ready; then exited (ended, status 0, not restarted), failed (ended badly,
or gave up at its start limit), backoff (restart pending), stopping, stopped
(by request).
"""

from __future__ import annotations

import os
import time

from pyinit import log, signals, spawn
from pyinit.reaper import Reaper, describe, exit_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.loop import Timer
    from pyinit.services.readiness import Probe
    from pyinit.services.spec import ServiceSpec
    from pyinit.settings import Settings
    from pyinit.teardown import Teardown

ACTIVE = frozenset({"starting", "ready", "stopping"})
FINAL = frozenset({"exited", "failed", "stopped"})


def _id(value: int | None) -> int:
    return -1 if value is None else value  # -1: unchanged, for chown


def describe_status(status: int) -> str:
    fields = describe(status)
    if "signal" in fields:
        return f"killed by {fields['signal']}"
    return f"exit {fields['exit_code']}"


class Service:
    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.state = "waiting"
        self.pid: int | None = None
        # Its process group, kept after the leader exits while a stop waits for the rest of it.
        self.pgid: int | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.failures = 0  # consecutive short runs, for the back-off
        self.restart_times: list[float] = []
        self.last_exit: str | None = None
        self.last_code: int | None = None
        self.timer: Timer | None = None  # restart, kill or readiness deadline
        self.probe: Probe | None = None
        self.outputs: list[Any] = []
        self.on_stopped: list[Callable[[], None]] = []

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def notify_stopped(self) -> None:
        """Call (once) whoever waits for this stop: a control request's reply, a restart."""
        callbacks, self.on_stopped = self.on_stopped, []
        for callback in callbacks:
            callback()

    def satisfies_dependents(self) -> bool:
        """Ready, or a one-shot that finished well."""
        return self.state == "ready" or (self.state == "exited" and self.last_code == 0)

    def status(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "uptime": round(now - self.started_at, 3) if self.pid is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "ready": self.satisfies_dependents(),
        }


class Supervisor:
    def __init__(self, settings: Settings, specs: dict[str, ServiceSpec]) -> None:
        from pyinit.loop import Loop
        from pyinit.services.graph import start_order

        self.settings = settings
        self.order = start_order(specs)
        self.services = {name: Service(specs[name]) for name in self.order}
        self.dependents: dict[str, list[str]] = {name: [] for name in specs}
        for spec in specs.values():
            for dep in spec.depends_on:
                self.dependents[dep].append(spec.name)
        width = max(len(name) for name in specs)
        self.prefixes = {name: f"{name:<{width}} | ".encode() for name in specs}
        self.reaper = Reaper()
        self.loop = Loop(signals.catchable(), self.on_signal)
        self.stopping = False
        self.tearing_down = False
        self.teardown: Teardown | None = None  # the rest of the namespace, once the services are down
        self.done = False
        self.exit_status = 0
        self.rundir: str | None = None
        self.control: Any = None

    # -- signals ----------------------------------------------------------------
    def on_signal(self, sig: int, sender: int) -> None:
        if sig == signals.SIGCHLD:
            self.reaper.reap()
            self.check_groups()
            return
        if sender == os.getpid() or sig in signals.JOB_CONTROL:
            return
        if sig in signals.STOP_REQUESTS:
            if self.stopping:
                self.hurry(sig)
            else:
                self.shutdown(f"received {signals.name(sig)}")
            return
        # Anything else (HUP, USR1, WINCH, ...) is for the services, after --rewrite.
        target = signals.rewrite(sig, self.settings.rewrite)
        if target == 0:
            return
        for service in self.services.values():
            if service.pid is not None:
                self._kill(service, target)

    def _kill(self, service: Service, sig: int) -> None:
        assert service.pgid is not None
        try:  # the whole group: a service's own children (sh -c ...) hear it too
            os.killpg(service.pgid, sig)
        except ProcessLookupError:
            if service.pid is None:
                return
            try:
                os.kill(service.pid, sig)
            except ProcessLookupError:
                pass

    def group_alive(self, service: Service) -> bool:
        return service.pgid is not None and signals.group_alive(service.pgid)

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
                self.start(service)
        self.check_all_ended()

    def _make_probe(self, service: Service) -> Probe:
        from pyinit.services import readiness

        ready = service.spec.ready

        def on_ready() -> None:
            self.on_ready(service)

        if ready.kind == "command":
            return readiness.CommandProbe(service.name, on_ready, self.loop, self.reaper, ready)
        if ready.kind == "tcp":
            return readiness.TcpProbe(service.name, on_ready, self.loop, ready)
        if ready.kind == "fd":
            return readiness.FdProbe(service.name, on_ready, self.loop, ready)
        if ready.kind == "notify":
            # By position, not name: a long name must not overflow sun_path's 108 bytes.
            path = os.path.join(self._rundir(), f"notify-{self.order.index(service.name)}.sock")
            return readiness.NotifyProbe(service.name, on_ready, self.loop, path, service.spec.uid)
        return readiness.Probe(service.name, on_ready)

    def _rundir(self) -> str:
        if self.rundir is None:
            import tempfile

            self.rundir = tempfile.mkdtemp(prefix="pyinit-")
            os.chmod(self.rundir, 0o711)  # services running as another user reach their socket
        return self.rundir

    def start(self, service: Service) -> None:
        spec = service.spec
        service.cancel_timer()
        probe = self._make_probe(service)
        outputs: list[Any] = []
        try:  # descriptors, sockets, the fork: any may fail, and then this start fails like a crash
            fds, extra_env = probe.prepare()
            if spec.output == "prefix":
                from pyinit.services.output import Prefixer

                owner = None if spec.uid is None and spec.gid is None else (_id(spec.uid), _id(spec.gid))
                for fd in (1, 2):
                    outputs.append(Prefixer(self.loop, self.prefixes[service.name], fd, owner))
                    fds.update(outputs[-1].child_fds())
            env = {**os.environ, **spec.user_env, **spec.env, **extra_env}
            credentials = None if spec.uid is None and spec.gid is None else (spec.uid, spec.gid, spec.groups)
            pid, failure = spawn.spawn(spec.command, spawn.PGROUP, None, env, spec.cwd, credentials, fds)
        except OSError as exc:
            log.error("cannot start service", service=service.name, error=exc.strerror or str(exc))
            probe.after_fork()
            probe.cancel()
            for output in outputs:
                output.close()
            service.state = "starting"
            service.started_at = time.monotonic()
            self.loop.call_later(0, lambda: self.on_exit(service, -1, 1 << 8))
            return
        probe.after_fork()
        for output in outputs:
            output.after_fork()
        if failure is not None:
            log.warning("service cannot run", service=service.name, error=str(failure))
        service.state = "starting"
        service.pid = service.pgid = pid
        service.started_at = time.monotonic()
        service.probe = probe
        service.outputs = outputs
        self.reaper.watch(pid, lambda _pid, status: self.on_exit(service, _pid, status))
        log.info("service starting", service=service.name, pid=pid, command=spec.command)
        if spec.ready.timeout > 0 and spec.ready.kind is not None:
            service.timer = self.loop.call_later(spec.ready.timeout, lambda: self.ready_timeout(service))
        probe.started(pid)

    def on_ready(self, service: Service) -> None:
        if service.state != "starting":
            return
        service.cancel_timer()
        service.state = "ready"
        log.info("service ready", service=service.name, pid=service.pid)
        self.schedule()

    def ready_timeout(self, service: Service) -> None:
        service.timer = None
        if service.state == "starting" and service.pid is not None:
            log.warning(
                "service not ready in time; killing it", service=service.name, timeout=service.spec.ready.timeout
            )
            self._kill(service, signals.SIGKILL)

    # -- exits ------------------------------------------------------------------
    def on_exit(self, service: Service, pid: int, status: int) -> None:
        spec = service.spec
        now = time.monotonic()
        service.pid = None
        if service.probe is not None:
            service.probe.cancel()
            service.probe = None
        code = exit_code(status)
        service.last_exit = describe_status(status)
        service.last_code = code
        if service.state == "stopping" and self.group_alive(service):
            # A wrapper (`sh -c`, every Procfile entry) dies of the stop signal at once while
            # the program it ran is still shutting down: the service is stopped when its whole
            # group is gone, or a restart (the port still taken) or a dependency's stop would
            # overlap with it. The rest are orphans now, ours, so their exits wake us up
            # (check_groups); the stop grace keeps running.
            log.info("service leader exited; waiting for its process group", service=service.name, pid=pid)
            return
        service.pgid = None
        service.cancel_timer()
        if service.state == "stopping" or self.stopping:
            self.stopped(service)
            return
        failed = code != 0
        (log.warning if failed else log.info)("service exited", service=service.name, pid=pid, **describe(status))
        if now - service.started_at >= spec.backoff_reset:
            service.failures = 0
        if spec.restart == "always" or (spec.restart == "on-failure" and failed):
            service.restart_times = [t for t in service.restart_times if now - t < spec.start_limit_window]
            if spec.start_limit and len(service.restart_times) >= spec.start_limit:
                service.state = "failed"
                log.warning(
                    "service given up",
                    service=service.name,
                    restarts=len(service.restart_times),
                    window=spec.start_limit_window,
                )
                self.ended(service)
                return
            delay = min(spec.backoff_initial * 2**service.failures, spec.backoff_max)
            service.failures += 1
            service.restart_times.append(now)
            service.state = "backoff"
            log.info("service restarting", service=service.name, delay=round(delay, 3))
            service.timer = self.loop.call_later(delay, lambda: self.restart_due(service))
            return
        service.state = "failed" if failed else "exited"
        self.ended(service)

    def stopped(self, service: Service) -> None:
        service.pgid = None
        service.cancel_timer()
        service.state = "stopped"
        log.info("service stopped", service=service.name, status=service.last_exit)
        service.notify_stopped()
        if self.stopping:
            self.continue_shutdown()

    def check_groups(self) -> None:
        """Finish the stops that were waiting for the rest of a service's process group."""
        for service in self.services.values():
            if service.state == "stopping" and service.pid is None and not self.group_alive(service):
                self.stopped(service)

    def restart_due(self, service: Service) -> None:
        service.timer = None
        if service.state == "backoff" and not self.stopping:
            service.restarts += 1
            self.start(service)

    def ended(self, service: Service) -> None:
        """The service is over for good (no restart coming)."""
        if service.spec.critical:
            code = service.last_code or 0
            log.warning("critical service ended; stopping everything", service=service.name, exit_code=code)
            self.exit_status = code
            self.shutdown(f"critical service {service.name} ended")
            return
        self.schedule()

    def blocked(self, service: Service, seen: frozenset[str] = frozenset()) -> bool:
        """A waiting service whose dependencies can no longer become ready on their own."""
        for dep in service.spec.depends_on:
            other = self.services[dep]
            if dep in seen:
                continue
            if other.state in ("failed", "stopped") or (other.state == "exited" and other.last_code != 0):
                return True
            if other.state == "waiting" and self.blocked(other, seen | {service.name}):
                return True
        return False

    def check_all_ended(self) -> None:
        """Every service ended on its own (none stopped by request): nothing left to supervise."""
        if self.stopping:
            return
        states = [s.state for s in self.services.values()]
        if "stopped" in states:
            return
        if all(
            s.state in ("exited", "failed") or (s.state == "waiting" and self.blocked(s))
            for s in self.services.values()
        ):
            ok = all(s.state == "exited" and s.last_code == 0 for s in self.services.values())
            self.exit_status = 0 if ok else 1
            self.shutdown("every service has ended")

    # -- stopping ---------------------------------------------------------------
    def stop(self, service: Service, then: Callable[[], None] | None = None) -> None:
        if then is not None:
            service.on_stopped.append(then)
        if service.state == "stopping":
            return
        service.cancel_timer()
        if service.pgid is None:
            service.state = "stopped"
            service.notify_stopped()
            return
        spec = service.spec
        if service.probe is not None:
            service.probe.cancel()
            service.probe = None
        service.state = "stopping"
        log.info("service stopping", service=service.name, signal=signals.name(spec.stop_signal), grace=spec.stop_grace)
        self._kill(service, spec.stop_signal)
        if spec.stop_signal not in (signals.SIGKILL, signals.SIGCONT):
            self._kill(service, signals.SIGCONT)  # a stopped process must run to hear it

        def too_late() -> None:
            service.timer = None
            if service.pgid is not None:
                log.warning("service did not stop in time; killing it", service=service.name)
                self._kill(service, signals.SIGKILL)
                if service.pid is None:  # only the rest of its group was left: it is as good as gone
                    self.stopped(service)

        service.timer = self.loop.call_later(spec.stop_grace, too_late)

    def shutdown(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping all services", reason=reason)
        for service in self.services.values():
            if service.pgid is None:
                service.cancel_timer()
                if service.state in ("waiting", "backoff"):
                    service.state = "stopped"
        self.continue_shutdown()

    def hurry(self, sig: int) -> None:
        """A second stop request (Ctrl-C twice): no more grace for the services, nor for the rest."""
        if self.teardown is not None:
            self.teardown.hurry()
        running = [s for s in self.services.values() if s.pgid is not None]
        if running:
            log.warning("stop requested again; killing the services now", signal=signals.name(sig))
        for service in running:
            self._kill(service, signals.SIGKILL)

    def continue_shutdown(self) -> None:
        """Stop each service once everything that depends on it is down; then the rest of the namespace."""
        running = [s for s in self.services.values() if s.pgid is not None]
        for service in running:
            if service.state == "stopping":
                continue
            if all(self.services[d].pgid is None for d in self.dependents[service.name]):
                self.stop(service)
        if not running and not self.tearing_down:
            self.tearing_down = True
            from pyinit.teardown import Teardown

            settings = self.settings
            self.teardown = Teardown(self.loop, self.reaper, settings.stop_signal, settings.grace, self.finish)
            self.teardown.start()

    def finish(self) -> None:
        self.done = True

    # -- control --------------------------------------------------------------------
    def handle(self, request: dict[str, Any], respond: Callable[[dict[str, Any]], None]) -> None:
        """A control request; ``respond`` may be called later (stop waits for the service to end)."""
        command = request.get("cmd")
        now = time.monotonic()
        if command == "status":
            respond({"ok": True, "services": [s.status(now) for s in self.services.values()]})
            return
        if command == "ready":
            waiting = [s.name for s in self.services.values() if not s.satisfies_dependents()]
            respond({"ok": True, "ready": not waiting and not self.stopping, "not_ready": waiting})
            return
        if command not in ("start", "stop", "restart", "signal"):
            respond({"ok": False, "error": f"unknown command: {command!r}"})
            return
        name = request.get("name")
        service = self.services.get(name) if isinstance(name, str) else None
        if service is None:
            respond({"ok": False, "error": f"no such service: {name!r}"})
            return
        if self.stopping:
            respond({"ok": False, "error": "pyinit is shutting down"})
            return
        if command == "signal":
            try:
                sig = signals.parse(str(request.get("signal", "")))
            except ValueError as exc:
                respond({"ok": False, "error": str(exc)})
                return
            if service.pid is None:
                respond({"ok": False, "error": f"{service.name} is not running"})
                return
            self._kill(service, sig)
            respond({"ok": True, "message": f"sent {signals.name(sig)} to {service.name}"})
            return
        if command == "stop":
            self.stop(service, lambda: respond({"ok": True, "message": f"{service.name} stopped"}))
            return
        if command == "start":
            self.request_start(service)
            respond({"ok": True, "message": f"{service.name} {service.state}"})
            return

        def again() -> None:
            if self.stopping:
                respond({"ok": False, "error": "pyinit is shutting down"})
                return
            self.request_start(service)
            respond({"ok": True, "message": f"{service.name} restarted ({service.state})"})

        self.stop(service, again)

    def request_start(self, service: Service) -> None:
        if service.pgid is not None:
            return
        service.cancel_timer()
        service.failures = 0
        service.restart_times = []
        service.state = "waiting"
        self.schedule()

    # -- the story ----------------------------------------------------------------
    def run(self) -> int:
        from pyinit.init import become_reaper

        become_reaper(self.settings)
        self.open_control()
        self.schedule()
        while not self.done:
            self.loop.run_once()
        self.reaper.reap()
        self.close()
        return 0 if self.exit_status in self.settings.expect_exit else self.exit_status

    def open_control(self) -> None:
        from pyinit import control

        try:
            self.control = control.Server(self.loop, self.settings.control_socket, self.handle)
        except OSError as exc:
            log.warning("control socket unavailable", path=self.settings.control_socket, error=exc.strerror or str(exc))

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
        for service in self.services.values():
            for output in service.outputs:
                output.close()
        if self.rundir is not None:
            import shutil

            shutil.rmtree(self.rundir, ignore_errors=True)


def main(settings: Settings) -> int:
    """Load and validate the configuration (exit 2 on any problem), then supervise."""
    import sys

    from pyinit.services.config import ConfigError, load

    path = settings.config or settings.procfile
    assert path is not None
    try:
        specs = load(path, procfile=settings.procfile is not None)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"pyinit: {problem}\n")
        return 2
    return Supervisor(settings, specs).run()
