"""Health checks: what ``health = {...}`` asks for, and one attempt of each kind.

An attempt reports ``done(ok, detail)`` exactly once, within its timeout, and
never blocks: a command is a child of pyinit collected by the one reaper (and
SIGKILLed at the timeout), TCP and HTTP are non-blocking sockets waited for in
the loop. An HTTP check passes on a 2xx or 3xx status.
"""

from __future__ import annotations

import errno
import os
import socket

from pyinit import signals, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.loop import Loop, Timer
    from pyinit.reaper import Reaper

    Done = Callable[[bool, str], None]

HEALTH_KINDS = ("command", "tcp", "http")
HEALTH_KEYS = (*HEALTH_KINDS, "interval", "timeout", "failures", "start_period")
MAX_RESPONSE_HEAD = 8192


class Health:
    """``health = {...}``. ``kind`` None: no check (a ``watchdog`` alone still counts failures)."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.command: list[str] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.path = "/"  # http
        self.url = ""
        self.interval = 10.0
        self.timeout = 2.0
        self.failures = 3
        self.start_period = 0.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Health) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Health({vars(self)!r})"


def parse_address(item: Any, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``PORT`` or ``"HOST:PORT"`` (``"[::1]:PORT"``)."""
    host, port = default_host, 0
    if isinstance(item, int) and not isinstance(item, bool):
        port = item
    elif isinstance(item, str) and ":" in item:
        host_part, _, port_part = item.rpartition(":")
        host = host_part.strip("[]") or host
        port = int(port_part) if port_part.isdigit() else 0
    if not 0 < port < 65536:
        raise ValueError(f'expected a port or "HOST:PORT", not {item!r}')
    return ("127.0.0.1" if host == "localhost" else host), port


def parse_url(url: Any) -> tuple[str, int, str]:
    """``http://HOST[:PORT]/PATH`` -> (host, port, path)."""
    if not isinstance(url, str) or not url.startswith("http://"):
        raise ValueError(f'expected a URL like "http://127.0.0.1:8000/healthz", not {url!r}')
    rest = url[len("http://") :]
    authority, slash, path = rest.partition("/")
    if not authority:
        raise ValueError(f"no host in {url!r}")
    if authority.startswith("[") and "]" in authority:
        host, _, port_part = authority[1:].partition("]")
        port_part = port_part.lstrip(":")
    elif ":" in authority:
        host, _, port_part = authority.rpartition(":")
    else:
        host, port_part = authority, "80"
    if not port_part.isdigit() or not 0 < int(port_part) < 65536:
        raise ValueError(f"invalid port in {url!r}")
    return ("127.0.0.1" if host == "localhost" else host), int(port_part), slash + path or "/"


class Attempt:
    """One try: ``start(done)``; ``cancel()`` releases everything without calling ``done``."""

    def __init__(self, loop: Loop, timeout: float) -> None:
        self.loop, self.timeout = loop, timeout
        self.done: Done | None = None
        self.timer: Timer | None = None

    def start(self, done: Done) -> None:
        self.done = done
        if self.timeout > 0:
            self.timer = self.loop.call_later(self.timeout, self.timed_out)
        self.begin()

    def begin(self) -> None:
        raise NotImplementedError

    def timed_out(self) -> None:
        self.timer = None
        self.finish(False, f"no answer within {self.timeout:g}s")

    def finish(self, ok: bool, detail: str) -> None:
        done, self.done = self.done, None
        self.cancel()
        if done is not None:
            done(ok, detail)

    def cancel(self) -> None:
        self.done = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.release()

    def release(self) -> None:
        """Free what the attempt holds (a process, a socket)."""


class CommandAttempt(Attempt):
    """Passes when the command exits 0; output to /dev/null; killed at the timeout."""

    def __init__(self, loop: Loop, timeout: float, reaper: Reaper, argv: list[str]) -> None:
        super().__init__(loop, timeout)
        self.reaper, self.argv = reaper, argv
        self.pid: int | None = None

    def begin(self) -> None:
        try:
            pid, failure = spawn.spawn_quiet(self.argv)
        except OSError as exc:
            self.finish(False, f"cannot run: {exc.strerror}")
            return
        del failure  # a command that cannot run exits 126 or 127: that is the failed check
        self.pid = pid
        self.reaper.watch(pid, self.exited)

    def exited(self, pid: int, status: int) -> None:
        if self.pid != pid:
            return  # cancelled: the status of a killed check is of no interest
        self.pid = None
        from pyinit.reaper import exit_code

        code = exit_code(status)
        self.finish(code == 0, f"exit {code}")

    def release(self) -> None:
        pid, self.pid = self.pid, None
        if pid is not None:
            try:  # its status still arrives through the reaper, and is ignored
                os.killpg(pid, signals.SIGKILL)
            except OSError:
                pass


class SocketAttempt(Attempt):
    """A non-blocking TCP connect; subclasses carry on once it is connected."""

    def __init__(self, loop: Loop, timeout: float, host: str, port: int) -> None:
        super().__init__(loop, timeout)
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.watching: str = ""

    def begin(self) -> None:
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        self.sock = sock
        try:
            err = sock.connect_ex(self.address)
        except OSError as exc:  # a name that is not an address
            self.finish(False, str(exc))
            return
        if err == 0:
            self.connected()
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            self._watch("write", self._connect_done)
        else:
            self.finish(False, os.strerror(err))

    def _watch(self, how: str, callback: Callable[[], None]) -> None:
        assert self.sock is not None
        self._unwatch()
        fd = self.sock.fileno()
        (self.loop.add_writer if how == "write" else self.loop.add_reader)(fd, callback)
        self.watching = how

    def _unwatch(self) -> None:
        if self.watching and self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
        self.watching = ""

    def _connect_done(self) -> None:
        if self.sock is None:
            return
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.finish(False, os.strerror(err))
        else:
            self._unwatch()
            self.connected()

    def connected(self) -> None:
        self.finish(True, "connected")

    def release(self) -> None:
        self._unwatch()
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()


class HttpAttempt(SocketAttempt):
    """``GET path``; passes on a 2xx or 3xx status line."""

    def __init__(self, loop: Loop, timeout: float, host: str, port: int, path: str) -> None:
        super().__init__(loop, timeout, host, port)
        self.path = path
        self.received = b""

    def connected(self) -> None:
        assert self.sock is not None
        host = f"[{self.address[0]}]" if ":" in self.address[0] else self.address[0]
        request = f"GET {self.path} HTTP/1.0\r\nHost: {host}:{self.address[1]}\r\nUser-Agent: pyinit-health\r\n"
        request += "Connection: close\r\n\r\n"
        try:  # a few hundred bytes into an empty socket buffer: it does not block
            self.sock.send(request.encode())
        except OSError as exc:
            self.finish(False, exc.strerror or str(exc))
            return
        self._watch("read", self.readable)

    def readable(self) -> None:
        if self.sock is None:
            return
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(False, exc.strerror or str(exc))
            return
        self.received += data
        line, newline, _ = self.received.partition(b"\n")
        if newline or not data or len(self.received) > MAX_RESPONSE_HEAD:
            self.finish(*status_ok(line))


def status_ok(line: bytes) -> tuple[bool, str]:
    """The verdict on an HTTP status line."""
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return False, "not an HTTP response"
    code = int(parts[1])
    return 200 <= code < 400, f"HTTP {code}"


def attempt(health: Health, loop: Loop, reaper: Reaper) -> Attempt:
    if health.kind == "command":
        return CommandAttempt(loop, health.timeout, reaper, health.command)
    if health.kind == "http":
        return HttpAttempt(loop, health.timeout, health.host, health.port, health.path)
    return SocketAttempt(loop, health.timeout, health.host, health.port)


def parse_health(value: Any, duration: Callable[[Any], float], command: Callable[[Any], list[str]]) -> Health:
    """``health = {...}`` with the config's own duration and command converters."""
    if not isinstance(value, dict):
        raise ValueError("expected a table with one of: command, tcp, http")
    unknown = sorted(set(value) - set(HEALTH_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(HEALTH_KEYS)})")
    kinds = [kind for kind in HEALTH_KINDS if kind in value]
    if len(kinds) != 1:
        raise ValueError("needs exactly one of: command, tcp, http")
    health = Health()
    health.kind = kind = kinds[0]
    item = value[kind]
    try:
        if kind == "command":
            health.command = command(item)
        elif kind == "tcp":
            health.host, health.port = parse_address(item)
        else:
            health.host, health.port, health.path = parse_url(item)
            health.url = item
    except ValueError as exc:
        raise ValueError(f"{kind}: {exc}") from None
    for key in ("interval", "timeout", "start_period"):
        if key in value:
            try:
                setattr(health, key, duration(value[key]))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    if health.interval <= 0:
        raise ValueError("interval: must be more than 0")
    if "failures" in value:
        failures = value["failures"]
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ValueError(f"failures: expected a whole number >= 1, not {failures!r}")
        health.failures = failures
    return health
