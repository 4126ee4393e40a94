"""Single-child mode on a container platform: readiness, the drain, the control socket,
the OOM verdict, and what the termination message says.

Nothing here is on the start-up path: single.py makes it SERVE_AFTER (20 ms)
after the spawn if the child still runs then (a child that is over by then never
pays for it), or at a stop request that comes sooner. The OOM counter's first reading
is taken then, and the control socket opened; a socket that cannot be made is
logged and the run goes on without it. ``ctl ready`` is true while the child
runs and no drain has begun.
"""

import time

from pyinit import drain, log, oom
from pyinit.fs import basename

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.control import Server
    from pyinit.loop import Loop
    from pyinit.settings import Settings


class SingleControl:
    def __init__(self, loop: "Loop", settings: "Settings", pid: int, send: "Callable[[int], None]") -> None:
        """``send(sig)`` forwards a stop request to the child once the drain allows it."""
        self.settings = settings
        self.pid = pid
        self.name = basename(settings.command[0])
        self.started = time.monotonic()
        self.oom = oom.OomCounter()  # the reading "before"
        self.drain = drain.Drain(loop, settings.stop_delay, send)
        self.drain.running()
        self.last_exit: str | None = None
        self.oom_killed: bool | None = None
        self.server: Server | None = None
        self.open(loop)

    # -- what single.py tells ------------------------------------------------------
    def stop_request(self, sig: int) -> None:
        self.drain.stop_request(sig)

    def child_exited(self, status: int) -> "dict[str, Any]":
        """The OOM verdict for a SIGKILL death; the fields it adds to the exit event."""
        from pyinit.reaper import describe_status

        self.oom_killed = self.oom.verdict() if oom.killed_by_sigkill(status) else None
        self.last_exit = "oom-killed" if self.oom_killed else describe_status(status)
        self.drain.ended()
        return {"oom_killed": True} if self.oom_killed else {}

    def orphan_reaped(self, status: int) -> bool:
        """An orphan's SIGKILL death claims the OOM kill it explains, so the child's later
        death is not blamed on it. True when the OOM killer ended it."""
        return bool(oom.killed_by_sigkill(status) and self.oom.verdict())

    # -- the socket ------------------------------------------------------------------
    def open(self, loop: "Loop") -> None:
        from pyinit import control

        path = self.settings.control_socket
        try:
            self.server = control.Server(loop, path, self.handle)
        except OSError as exc:
            # Another pyinit may serve the path (a nested one, a test run): not ours to fail.
            log.info("control socket unavailable", path=path, error=exc.strerror or str(exc))

    def handle(self, request: "dict[str, Any]", respond: "Callable[[dict[str, Any]], None]") -> None:
        command = request.get("cmd")
        if command == "ready":
            ready = self.drain.ready
            respond({"ok": True, "ready": ready, "not_ready": [] if ready else [self.name]})
        elif command == "wait-stop":
            self.drain.announce(lambda: respond({"ok": True, "message": "drained"}))
        elif command == "status":
            running = self.drain.state != drain.ENDED
            row = {
                "name": self.name,
                "state": self.drain.state,
                "pid": self.pid if running else None,
                "uptime": round(time.monotonic() - self.started, 3) if running else None,
                "restarts": 0,
                "last_exit": self.last_exit,
                "ready": self.drain.ready,
            }
            if self.oom_killed is not None:
                row["oom_killed"] = self.oom_killed
            respond({"ok": True, "services": [row], "log_dropped_lines": log.dropped_lines()})
        else:
            respond({"ok": False, "error": f"{command!r} needs services (--config); single-child mode has none"})

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
