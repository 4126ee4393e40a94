"""The control requests of the services mode: status, ready, wait-stop, start, stop, restart, signal.

:mod:`pyinit.control` delivers each request (a dict) with a ``respond``
callback; the reply may come later (a stop answers once the service is down).
The requests act through the supervisor, never on a service's state directly.
"""

from __future__ import annotations

import time

from pyinit import signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from pyinit.drain import Drain
    from pyinit.services.service import Service

    Respond = Callable[[dict[str, Any]], None]

    class Services(Protocol):
        """What the requests need of the supervisor."""

        services: dict[str, Service]
        stopping: bool

        @property
        def drain(self) -> Drain: ...

        def stop(self, service: Service, then: Callable[[], None] | None = None) -> None: ...

        def request_start(self, service: Service) -> None: ...


SHUTTING_DOWN = {"ok": False, "error": "pyinit is shutting down"}


class Api:
    def __init__(self, supervisor: Services) -> None:
        self.supervisor = supervisor

    def handle(self, request: dict[str, Any], respond: Respond) -> None:
        command = request.get("cmd")
        services = self.supervisor.services
        if command == "status":
            now = time.monotonic()
            respond({"ok": True, "services": [s.status(now) for s in services.values()]})
            return
        if command == "ready":
            waiting = [s.name for s in services.values() if not s.satisfies_dependents()]
            ready = not waiting and not self.supervisor.stopping and self.supervisor.drain.ready
            respond({"ok": True, "ready": ready, "not_ready": waiting})
            return
        if command == "wait-stop":  # a preStop hook: drain now, answer when the drain is over
            self.supervisor.drain.announce(lambda: respond({"ok": True, "message": "drained"}))
            return
        if command not in ("start", "stop", "restart", "signal"):
            respond({"ok": False, "error": f"unknown command: {command!r}"})
            return
        name = request.get("name")
        service = services.get(name) if isinstance(name, str) else None
        if service is None:
            respond({"ok": False, "error": f"no such service: {name!r}"})
        elif self.supervisor.stopping:
            respond(SHUTTING_DOWN)
        elif command == "signal":
            self.signal(service, str(request.get("signal", "")), respond)
        elif command == "stop":
            self.supervisor.stop(service, lambda: respond({"ok": True, "message": f"{service.name} stopped"}))
        elif command == "start":
            self.supervisor.request_start(service)
            respond({"ok": True, "message": f"{service.name} {service.state}"})
        else:
            self.restart(service, respond)

    def signal(self, service: Service, text: str, respond: Respond) -> None:
        try:
            sig = signals.parse(text)
        except ValueError as exc:
            respond({"ok": False, "error": str(exc)})
            return
        if service.pid is None:
            respond({"ok": False, "error": f"{service.name} is not running"})
            return
        service.kill(sig)
        respond({"ok": True, "message": f"sent {signals.name(sig)} to {service.name}"})

    def restart(self, service: Service, respond: Respond) -> None:
        def again() -> None:
            if self.supervisor.stopping:
                respond(SHUTTING_DOWN)
                return
            self.supervisor.request_start(service)
            respond({"ok": True, "message": f"{service.name} restarted ({service.state})"})

        self.supervisor.stop(service, again)
