"""Readiness probes: how pyinit learns that a service is ready for its dependents.

Each probe prepares what the child needs (descriptors, environment) before the
fork, is told the pid after it, and calls ``on_ready`` once. Everything is
driven by the loop: command probes are spawned children collected by the one
reaper, TCP probes are non-blocking connects waited for in epoll, and retries
are timers. Nothing sleeps and nothing polls.
"""

from __future__ import annotations

import errno
import os
import socket

from pyinit import log, signals, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop, Timer
    from pyinit.reaper import Reaper
    from pyinit.services.logring import Entry, LogRing
    from pyinit.services.spec import Ready


class Probe:
    """Ready as soon as the process is started: the default."""

    def __init__(self, name: str, on_ready: Callable[[], None]) -> None:
        self.name = name
        self.on_ready = on_ready
        self.done = False

    def prepare(self) -> tuple[dict[int, int], dict[str, str]]:
        """``(fds for the child, environment for the child)``."""
        return {}, {}

    def after_fork(self) -> None:
        """Close what only the child needed."""

    def started(self, pid: int) -> None:
        self.ready()

    def ready(self) -> None:
        if not self.done:
            self.done = True
            self.cancel()
            self.on_ready()

    def cancel(self) -> None:
        """Stop probing and release everything (the service exited or is ready)."""


class RetryingProbe(Probe):
    """Tries once the service is started, then every ``interval`` until ready or cancelled."""

    def __init__(self, name: str, on_ready: Callable[[], None], loop: Loop, interval: float) -> None:
        super().__init__(name, on_ready)
        self.loop, self.interval = loop, interval
        self.timer: Timer | None = None
        self.cancelled = False

    def started(self, pid: int) -> None:
        self.try_now()

    def try_now(self) -> None:
        self.timer = None
        if not self.cancelled:
            self.attempt()

    def try_later(self) -> None:
        self.timer = self.loop.call_later(self.interval, self.try_now)

    def attempt(self) -> None:
        """One try: it calls ``ready()``, or ``try_later()`` once it knows it failed."""

    def cancel(self) -> None:
        self.cancelled = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class CommandProbe(RetryingProbe):
    """Ready when a command exits 0; retried every ``interval``."""

    def __init__(self, name: str, on_ready: Callable[[], None], loop: Loop, reaper: Reaper, ready: Ready) -> None:
        super().__init__(name, on_ready, loop, ready.interval)
        self.reaper, self.argv = reaper, ready.command
        self.pid: int | None = None

    def attempt(self) -> None:
        try:
            pid, failure = spawn.spawn_quiet(self.argv)
        except OSError as exc:
            log.warning("cannot run readiness probe", service=self.name, error=exc.strerror)
            self.try_later()
            return
        if failure is not None:
            log.warning("readiness probe cannot run", service=self.name, error=str(failure))
        self.pid = pid
        self.reaper.watch(pid, self.finished)

    def finished(self, pid: int, status: int) -> None:
        self.pid = None
        if self.cancelled:
            return
        if status == 0:
            self.ready()
        else:
            self.try_later()

    def cancel(self) -> None:
        super().cancel()
        if self.pid is not None:
            try:  # its status still comes back through the reaper, and is ignored
                os.killpg(self.pid, signals.SIGKILL)
            except OSError:
                pass


class TcpProbe(RetryingProbe):
    """Ready when a TCP connection to host:port is accepted; retried every ``interval``."""

    def __init__(self, name: str, on_ready: Callable[[], None], loop: Loop, ready: Ready) -> None:
        super().__init__(name, on_ready, loop, ready.interval)
        host = "127.0.0.1" if ready.host == "localhost" else ready.host
        self.address = (host, ready.port)
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock: socket.socket | None = None

    def attempt(self) -> None:
        sock = socket.socket(self.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        err = sock.connect_ex(self.address)
        if err == 0:
            sock.close()
            self.ready()
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            self.sock = sock
            self.loop.add_writer(sock.fileno(), self.connected)
            # A connect that never completes (a dropped SYN) must not stall the probe.
            self.timer = self.loop.call_later(max(self.interval * 5, 1.0), self.retry)
        else:
            sock.close()
            self.try_later()

    def connected(self) -> None:
        sock = self._release()
        if sock is None:
            return
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        sock.close()
        if err == 0:
            self.ready()
        elif not self.cancelled:
            self.try_later()

    def retry(self) -> None:
        sock = self._release()
        if sock is not None:
            sock.close()
        self.try_now()

    def _release(self) -> socket.socket | None:
        sock, self.sock = self.sock, None
        if sock is not None:
            self.loop.remove_writer(sock.fileno())
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        return sock

    def cancel(self) -> None:
        super().cancel()
        sock = self._release()
        if sock is not None:
            sock.close()


class FdProbe(Probe):
    """The s6 way: the service writes a newline on descriptor ``fd`` when ready."""

    def __init__(self, name: str, on_ready: Callable[[], None], loop: Loop, ready: Ready) -> None:
        super().__init__(name, on_ready)
        self.loop, self.target = loop, ready.fd
        self.read_end: int | None = None
        self.write_end: int | None = None

    def prepare(self) -> tuple[dict[int, int], dict[str, str]]:
        self.read_end, self.write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(self.write_end, True)
        return {self.target: self.write_end}, {}

    def after_fork(self) -> None:
        if self.write_end is not None:
            os.close(self.write_end)
            self.write_end = None

    def started(self, pid: int) -> None:
        if self.read_end is not None:
            self.loop.add_reader(self.read_end, self.readable)

    def readable(self) -> None:
        if self.read_end is None:
            return
        try:
            data = os.read(self.read_end, 4096)
        except BlockingIOError:
            return
        if b"\n" in data:
            self.ready()
        elif not data:  # closed without a newline: it will never say so
            log.warning("readiness descriptor closed before a newline", service=self.name)
            self.cancel()

    def cancel(self) -> None:
        self.after_fork()
        if self.read_end is not None:
            self.loop.remove_reader(self.read_end)
            os.close(self.read_end)
            self.read_end = None


class NotifyProbe(Probe):
    """The systemd way: ``READY=1`` in a datagram on ``$NOTIFY_SOCKET``; and ``WATCHDOG=1``.

    With ``inner``, readiness is that probe's and the socket is only for the
    watchdog (``watchdog = "10s"`` next to another kind of ``ready``).
    """

    def __init__(
        self,
        name: str,
        on_ready: Callable[[], None],
        loop: Loop,
        path: str,
        uid: int | None,
        inner: Probe | None = None,
        on_watchdog: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name, on_ready)
        self.loop, self.path, self.uid = loop, path, uid
        self.inner, self.on_watchdog = inner, on_watchdog
        self.sock: socket.socket | None = None

    def prepare(self) -> tuple[dict[int, int], dict[str, str]]:
        fds, env = self.inner.prepare() if self.inner is not None else ({}, {})
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        sock.bind(self.path)
        if self.uid is not None:
            os.chown(self.path, self.uid, -1)
        self.sock = sock
        return fds, {**env, "NOTIFY_SOCKET": self.path}

    def after_fork(self) -> None:
        if self.inner is not None:
            self.inner.after_fork()

    def started(self, pid: int) -> None:
        if self.sock is not None:
            self.loop.add_reader(self.sock.fileno(), self.readable)
        if self.inner is not None:
            self.inner.started(pid)

    def readable(self) -> None:
        for _ in range(64):  # a service that floods its socket gets its turn, no more
            if self.sock is None:
                return
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            fields = data.split(b"\n")
            if b"READY=1" in fields and self.inner is None:
                self.ready()
            if b"WATCHDOG=1" in fields and self.on_watchdog is not None:
                self.on_watchdog()

    def ready(self) -> None:
        # Keep the socket until the service ends: later STATUS= and WATCHDOG= messages must not fail.
        if not self.done:
            self.done = True
            self.on_ready()

    def cancel(self) -> None:
        if self.inner is not None:
            self.inner.cancel()
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
            try:
                os.unlink(self.path)
            except OSError:
                pass


class LogProbe(Probe):
    """``ready = { log = "REGEX" }``: ready when a line of the service's output matches."""

    def __init__(self, name: str, on_ready: Callable[[], None], ring: LogRing, pattern: str) -> None:
        import re

        super().__init__(name, on_ready)
        self.ring, self.pattern = ring, re.compile(pattern)
        self.unfollow: Callable[[], None] | None = None

    def started(self, pid: int) -> None:
        self.unfollow = self.ring.follow(self.line)

    def line(self, entry: Entry) -> None:
        if self.pattern.search(entry.line):
            self.ready()

    def cancel(self) -> None:
        if self.unfollow is not None:
            self.unfollow()
            self.unfollow = None
