"""The control requests of the services mode: status, ready, wait-stop, start, stop, restart,
signal, logs, reload, scale.

:mod:`pyinit.control` delivers each request (a dict) with a ``respond``
callback; the reply may come later (a stop answers once the service is down).
The requests act through the supervisor, never on a service's state directly.
A NAME is a service, or a service with ``instances`` meaning all of its instances.
"""

from __future__ import annotations

import time

from pyinit import log, signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from pyinit.drain import Drain
    from pyinit.services.logring import Entry
    from pyinit.services.service import Service

    Respond = Callable[..., Any]  # (message, more=False) -> False once the client is gone

    class Services(Protocol):
        """What the requests need of the supervisor."""

        services: dict[str, Service]
        stopping: bool

        @property
        def drain(self) -> Drain: ...

        def stop(self, service: Service, then: Callable[[], None] | None = None) -> None: ...

        def request_start(self, service: Service) -> None: ...

        def reload(self) -> dict[str, Any]: ...

        def scale(self, name: str, count: int) -> dict[str, Any]: ...


SHUTTING_DOWN = {"ok": False, "error": "pyinit is shutting down"}
ACTIONS = ("start", "stop", "restart", "signal", "logs")


class Api:
    def __init__(self, supervisor: Services) -> None:
        self.supervisor = supervisor

    def handle(self, request: dict[str, Any], respond: Respond) -> None:
        command = request.get("cmd")
        services = self.supervisor.services
        if command == "status":
            now = time.monotonic()
            statuses = [s.status(now) for s in services.values()]
            respond({"ok": True, "services": statuses, "log_dropped_lines": log.dropped_lines()})
            return
        if command == "ready":
            # A scheduled job is not something to wait for: it runs at its times.
            waiting = [s.name for s in services.values() if not s.satisfies_dependents() and s.job is None]
            ready = not waiting and not self.supervisor.stopping and self.supervisor.drain.ready
            respond({"ok": True, "ready": ready, "not_ready": waiting})
            return
        if command == "wait-stop":  # answer once a pending stop has drained; at once if none
            self.supervisor.drain.announce(lambda: respond({"ok": True, "message": "drained"}))
            return
        if command in ("reload", "scale"):
            self.change(command, request, respond)
            return
        if command not in ACTIONS:
            respond({"ok": False, "error": f"unknown command: {command!r}"})
            return
        name = request.get("name")
        chosen = self.resolve(name)
        if not chosen:
            respond({"ok": False, "error": f"no such service: {name!r}"})
        elif command == "logs":
            self.logs(str(name), chosen, request, respond)
        elif self.supervisor.stopping:
            respond(SHUTTING_DOWN)
        elif command == "signal":
            self.signal(chosen, str(request.get("signal", "")), respond)
        elif command == "stop":
            self.each(chosen, self.supervisor.stop, lambda: respond({"ok": True, "message": f"{name} stopped"}))
        elif command == "start":
            for service in chosen:
                self.supervisor.request_start(service)
            respond({"ok": True, "message": ", ".join(f"{s.name} {s.state}" for s in chosen)})
        else:
            self.restart(chosen, respond)

    def resolve(self, name: Any) -> list[Service]:
        """The service of that name, or the instances of the service of that name."""
        if not isinstance(name, str):
            return []
        services = self.supervisor.services
        if name in services:
            return [services[name]]
        return [s for s in services.values() if s.spec.group == name]

    @staticmethod
    def each(
        chosen: list[Service], act: Callable[[Service, Callable[[], None]], None], then: Callable[[], None]
    ) -> None:
        """``act(service, done)`` on each; ``then()`` once every one is done."""
        pending = {s.name for s in chosen}

        def done(name: str) -> None:
            pending.discard(name)
            if not pending:
                then()

        for service in chosen:

            def one_done(name: str = service.name) -> None:
                done(name)

            act(service, one_done)

    def signal(self, chosen: list[Service], text: str, respond: Respond) -> None:
        try:
            sig = signals.parse(text)
        except ValueError as exc:
            respond({"ok": False, "error": str(exc)})
            return
        running = [s for s in chosen if s.pid is not None]
        if not running:
            respond({"ok": False, "error": f"{', '.join(s.name for s in chosen)} not running"})
            return
        for service in running:
            service.kill(sig)
        respond({"ok": True, "message": f"sent {signals.name(sig)} to {', '.join(s.name for s in running)}"})

    def restart(self, chosen: list[Service], respond: Respond) -> None:
        def again() -> None:
            if self.supervisor.stopping:
                respond(SHUTTING_DOWN)
                return
            for service in chosen:
                self.supervisor.request_start(service)
            states = ", ".join(f"{s.name} restarted ({s.state})" for s in chosen)
            respond({"ok": True, "message": states})

        self.each(chosen, self.supervisor.stop, again)

    def change(self, command: str, request: dict[str, Any], respond: Respond) -> None:
        if self.supervisor.stopping:
            respond(SHUTTING_DOWN)
        elif command == "reload":
            respond(self.supervisor.reload())
        else:
            count = request.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or not isinstance(request.get("name"), str):
                respond({"ok": False, "error": 'scale wants {"name": NAME, "count": N}'})
                return
            respond(self.supervisor.scale(request["name"], count))

    def logs(self, name: str, chosen: list[Service], request: dict[str, Any], respond: Respond) -> None:
        """The last lines (``lines``: how many), and with ``follow`` each new one as a reply line of its own."""
        rings = [(s.name, s.ring) for s in chosen if s.ring is not None]
        if not rings:
            respond({"ok": False, "error": f'{name}: its output is not kept (output = "prefix" or "quiet" keeps it)'})
            return
        count = request.get("lines")
        count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
        several = len(rings) > 1  # instances: each line says whose it is

        def shown(entry: Entry, owner: str) -> dict[str, str]:
            return {**entry.as_dict(), "service": owner} if several else entry.as_dict()

        entries = sorted(((e, owner) for owner, ring in rings for e in ring.tail(count)), key=lambda item: item[0].when)
        if count is not None:
            entries = entries[len(entries) - count :] if count else []
        follow = bool(request.get("follow"))
        if not respond({"ok": True, "lines": [shown(e, owner) for e, owner in entries]}, follow) or not follow:
            return
        unfollows: list[Callable[[], None]] = []

        for owner, ring in rings:

            def follower(entry: Entry, owner: str = owner) -> None:
                if not respond({"line": shown(entry, owner)}, True):
                    for unfollow in unfollows:  # the client is gone
                        unfollow()

            unfollows.append(ring.follow(follower))
