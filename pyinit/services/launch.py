"""Starting one service: its readiness probe, its prefixed outputs, the spawn, the reaper's watch.

Everything a start needs before the fork (descriptors, sockets, the notify
directory) is made here, and released again when the start fails: a failed
start counts as a crash, whose exit the supervisor gets like any other.
"""

from __future__ import annotations

import os
import time

from pyinit import log, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pyinit.loop import Loop
    from pyinit.reaper import Reaper
    from pyinit.services.output import Prefixer
    from pyinit.services.readiness import Probe
    from pyinit.services.service import Service

    OnReady = Callable[[Service], None]
    OnExit = Callable[[Service, int, int], None]

# The wait status a start that failed before the fork reports: exit 1.
FAILED_START = 1 << 8


def _id(value: int | None) -> int:
    return -1 if value is None else value  # -1: unchanged, for chown


class Launcher:
    def __init__(
        self,
        loop: Loop,
        reaper: Reaper,
        names: Sequence[str],
        on_ready: OnReady,
        on_exit: OnExit,
        json_lines: bool = False,
    ) -> None:
        self.loop, self.reaper = loop, reaper
        self.on_ready, self.on_exit = on_ready, on_exit
        self.json_lines = json_lines  # --log-format json: relayed lines as JSON objects too
        self.index: dict[str, int] = {}
        self.prefixes: dict[str, bytes] = {}
        self.names(names)
        self.rundir: str | None = None

    def names(self, names: Sequence[str]) -> None:
        """The services there are (again, after a reload or a scale)."""
        for name in names:
            # A notify socket's number is never given to another name: a service still
            # stopping keeps its socket while a new one starts.
            self.index.setdefault(name, len(self.index))
        width = max((len(name) for name in names), default=0)
        self.prefixes = {name: f"{name:<{width}} | ".encode() for name in names}

    def launch(self, service: Service) -> None:
        spec = service.spec
        service.cancel_timer()
        probe = self._probe(service)
        outputs: list[Prefixer] = []
        try:  # descriptors, sockets, the fork: any may fail, and then this start fails like a crash
            fds, extra_env = probe.prepare()
            if spec.watchdog > 0:
                from pyinit.services.health import Watchdog

                extra_env.update(Watchdog.environment(spec.watchdog))
            if spec.relayed:
                outputs = self._outputs(service)
                for output in outputs:
                    fds.update(output.child_fds())
            env = {**os.environ, **spec.user_env, **spec.env, **extra_env}
            credentials = None if spec.uid is None and spec.gid is None else (spec.uid, spec.gid, spec.groups)
            pid, failure = spawn.spawn(
                spec.command, spawn.PGROUP, None, env, spec.cwd, credentials, fds, oom_score_adj=spec.oom_score_adj
            )
        except OSError as exc:
            probe.after_fork()
            probe.cancel()
            for output in outputs:
                output.close()
            service.launch_failed(exc.strerror or str(exc), time.monotonic())
            self.loop.call_later(0, lambda: self._failed(service))
            return
        probe.after_fork()
        for output in outputs:
            output.after_fork()
        if failure is not None:
            log.warning("service cannot run", service=service.name, error=str(failure))
        service.launched(pid, time.monotonic(), probe, outputs)
        self.reaper.watch(pid, lambda _pid, status: self.on_exit(service, _pid, status))
        if failure is not None:
            return  # never ready: its exit (127, 126, ...) comes through the reaper like any other
        ready = spec.ready
        if ready.timeout > 0 and ready.kind is not None:
            service.timer = self.loop.call_later(ready.timeout, service.ready_too_late)
        probe.started(pid)

    def _outputs(self, service: Service) -> list[Prefixer]:
        """Pipes for stdout and stderr, read by pyinit: each line to the service's ring,
        and printed with its prefix unless ``quiet``."""
        from pyinit.services.output import STREAMS, Prefixer, Relay

        spec = service.spec
        assert service.ring is not None  # every relayed service has one
        owner = None if spec.uid is None and spec.gid is None else (_id(spec.uid), _id(spec.gid))
        prefix = self.prefixes.get(service.name, f"{service.name} | ".encode())
        outputs: list[Prefixer] = []
        for fd in (1, 2):
            relay = Relay(service.name, STREAMS[fd], service.ring, spec.output == "quiet", self.json_lines)
            outputs.append(Prefixer(self.loop, prefix, fd, owner, relay))
        return outputs

    def _failed(self, service: Service) -> None:
        if service.state == "starting" and service.pid is None:  # not stopped meanwhile
            self.on_exit(service, -1, FAILED_START)

    def _probe(self, service: Service) -> Probe:
        from pyinit.services import readiness

        ready = service.spec.ready

        def on_ready() -> None:
            self.on_ready(service)

        probe: Probe | None = None
        if ready.kind == "command":
            probe = readiness.CommandProbe(service.name, on_ready, self.loop, self.reaper, ready)
        elif ready.kind == "tcp":
            probe = readiness.TcpProbe(service.name, on_ready, self.loop, ready)
        elif ready.kind == "fd":
            probe = readiness.FdProbe(service.name, on_ready, self.loop, ready)
        elif ready.kind == "log":
            assert service.ring is not None  # config: ready.log needs a relayed output
            probe = readiness.LogProbe(service.name, on_ready, service.ring, ready.pattern)
        elif ready.kind != "notify":
            probe = readiness.Probe(service.name, on_ready)
        if ready.kind != "notify" and not service.spec.watchdog:
            assert probe is not None
            return probe

        def kick() -> None:
            if service.vitals is not None:
                service.vitals.kick()

        # By number, not name: a long name must not overflow sun_path's 108 bytes.
        self.index.setdefault(service.name, len(self.index))
        path = os.path.join(self._rundir(), f"notify-{self.index[service.name]}.sock")
        return readiness.NotifyProbe(service.name, on_ready, self.loop, path, service.spec.uid, probe, kick)

    def _rundir(self) -> str:
        if self.rundir is None:
            import tempfile

            self.rundir = tempfile.mkdtemp(prefix="pyinit-")
            os.chmod(self.rundir, 0o711)  # services running as another user reach their socket
        return self.rundir

    def close(self) -> None:
        if self.rundir is not None:
            import shutil

            shutil.rmtree(self.rundir, ignore_errors=True)
