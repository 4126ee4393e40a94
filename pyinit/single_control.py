"""The control socket in single-child mode: ``ctl ready``, ``ctl wait-stop``, ``ctl status``.

Opened once the child runs, never before (the start-up path stays as it was),
and never fatal: a socket that cannot be made is logged and the run goes on
without it. ``ready`` is true while the child runs and no drain has begun.
"""

from __future__ import annotations

import os
import time

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.control import Server
    from pyinit.drain import Drain
    from pyinit.loop import Loop


class SingleControl:
    def __init__(self, drain: Drain, pid: int, command: list[str]) -> None:
        self.drain = drain
        self.pid = pid
        self.name = os.path.basename(command[0]) if command else "child"
        self.started = time.monotonic()
        self.last_exit: str | None = None
        self.server: Server | None = None

    def open(self, loop: Loop, path: str) -> None:
        from pyinit import control

        try:
            self.server = control.Server(loop, path, self.handle)
        except OSError as exc:
            # Another pyinit may serve the path (a nested one, a test run): not ours to fail.
            log.info("control socket unavailable", path=path, error=exc.strerror or str(exc))

    def handle(self, request: dict[str, Any], respond: Callable[[dict[str, Any]], None]) -> None:
        command = request.get("cmd")
        if command == "ready":
            respond({"ok": True, "ready": self.drain.ready, "not_ready": [] if self.drain.ready else [self.name]})
        elif command == "wait-stop":
            self.drain.announce(lambda: respond({"ok": True, "message": "drained"}))
        elif command == "status":
            running = self.drain.state not in ("ended",)
            row = {
                "name": self.name,
                "state": self.drain.state,
                "pid": self.pid if running else None,
                "uptime": time.monotonic() - self.started if running else None,
                "restarts": 0,
                "last_exit": self.last_exit,
            }
            respond({"ok": True, "services": [row]})
        else:
            respond({"ok": False, "error": f"{command!r} needs services (--config); single-child mode has none"})

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
