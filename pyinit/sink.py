"""Output that never blocks PID 1: a bounded buffer per stream, whole lines dropped when full.

pyinit's stdout and stderr are usually pipes to a log driver, and a log
driver can stall. A blocking write would stop PID 1 in the kernel, where it
reaps nothing and forwards nothing, so every line pyinit writes (its own log,
and the lines it relays for ``output = "prefix"`` services) goes through a
:class:`Sink`, one per file descriptor:

- A write is tried at once, without waiting (``RWF_NOWAIT``; a socket with
  ``MSG_DONTWAIT``; a private non-blocking description of the same pipe or
  terminal on kernels without it). Whatever the stream does not take now waits
  in a buffer of at most :data:`LIMIT` bytes (1 MiB), written from the loop
  when the descriptor turns writable (``EPOLLOUT``; the loop watches it only
  while something waits).
- When the buffer is full a new line is dropped whole (never half a line) and
  counted per source (``pyinit`` for its own log, the service's name for its
  lines). Once the buffer has drained, one marker line says how many lines were
  dropped, and from whom. The totals are in ``pyinit ctl status --json``.
- Regular files (and ``/dev/null``) are written as they are: the kernel cannot
  poll them, and their writes do not wait for a reader.

The descriptor's own flags are never changed: pyinit's stdout and stderr are
usually shared with the children, which must keep their blocking writes.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Loop(Protocol):
        """What a sink needs of pyinit.loop.Loop: to be told when its descriptor is writable."""

        def add_writer(self, fd: int, callback: Callable[[], None]) -> None: ...

        def remove_writer(self, fd: int) -> None: ...


# Bytes a stream may hold back before pyinit drops lines: a few seconds of a busy
# service's output, and a bounded cost (1 MiB per stream, two streams at most).
LIMIT = 1024 * 1024
# Bytes handed to the kernel per write: a pipe takes 64 KiB by default.
CHUNK = 256 * 1024
# How long pyinit waits for its last lines to be read when it exits.
EXIT_FLUSH = 1.0

_loop: Loop | None = None
_sinks: dict[int, Sink] = {}
json_markers = False  # set by the log for --log-format json


class Sink:
    """One output descriptor: lines in, written when the reader lets us, dropped when too many wait."""

    def __init__(self, fd: int, limit: int = LIMIT) -> None:
        self.fd = fd
        self.limit = limit
        self.buffer = bytearray()
        self.dropped: dict[str, int] = {}  # every line dropped so far, by source
        self.unreported: dict[str, int] = {}  # dropped since the last marker line
        self.watched = False  # the loop waits for EPOLLOUT on our descriptor
        self.broken = False  # nobody will ever read it (EPIPE, EBADF): drop silently
        try:
            st = os.fstat(fd)
            self.identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            self.identity = None
        self._write, self.pollable = _nowait_writer(fd)
        self._reopened = False

    # -- lines in ---------------------------------------------------------------
    def write(self, data: bytes, source: str = "pyinit") -> bool:
        """Queue whole lines (``data`` ends with a newline); False if they were dropped."""
        if self.broken:
            return False
        if self.buffer or self.unreported:
            return self._keep(data, source)
        written = self._send(data)
        if written < len(data) and not self.broken:
            self.buffer += data[written:]  # its tail, however long: never half a line
            self._watch()
        return True

    def _keep(self, data: bytes, source: str) -> bool:
        if self.unreported:
            # After a drop, lines are taken again only once half the buffer is free (a reader
            # that never catches up with a flood still gets a marker every half buffer); the
            # marker goes first, where the gap is.
            if len(self.buffer) > self.limit // 2:
                return self._drop(data, source)
            self.buffer += marker(self.unreported)
            self.unreported = {}
        if len(self.buffer) + len(data) > self.limit:
            return self._drop(data, source)
        self.buffer += data
        self._watch()
        return True

    def _drop(self, data: bytes, source: str) -> bool:
        lines = data.count(b"\n")
        self.dropped[source] = self.dropped.get(source, 0) + lines
        self.unreported[source] = self.unreported.get(source, 0) + lines
        self._watch()
        return False

    # -- the loop's side ----------------------------------------------------------
    def flush(self) -> None:
        """The descriptor is writable: write what waits, then the marker once all of it went."""
        while self.buffer and not self.broken:
            written = self._send(memoryview(self.buffer)[:CHUNK])
            if not written:
                break
            del self.buffer[:written]
        if not self.buffer and self.unreported and not self.broken:
            self.buffer += marker(self.unreported)
            self.unreported = {}
            self.flush()
            return
        if not self.buffer or self.broken:
            self._unwatch()

    def pending(self) -> int:
        return len(self.buffer)

    # -- helpers -------------------------------------------------------------------
    def _send(self, data: bytes | memoryview) -> int:
        try:
            return self._write(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return 0
            if exc.errno == errno.EOPNOTSUPP and not self._reopened:
                self._reopened = True
                try:
                    self._write = _reopened(self.fd)
                except OSError:
                    self._write = _plain(self.fd)  # no other way: the kernel's own write
                return self._send(data)
            # EPIPE, EBADF, EIO: the reader is gone for good. Nothing to wait for.
            self.broken = True
            self.buffer.clear()
            self._unwatch()
            return 0

    def _watch(self) -> None:
        if self.watched or _loop is None:
            return
        if not self.pollable:
            self.flush()  # a descriptor the kernel cannot poll never makes us wait
            return
        try:
            _loop.add_writer(self.fd, self.flush)
        except OSError:  # not pollable after all: write it as a file
            self.pollable = False
            return
        self.watched = True

    def _unwatch(self) -> None:
        if self.watched and _loop is not None:
            _loop.remove_writer(self.fd)
        self.watched = False

    def drain(self, deadline: float) -> None:
        """Write what waits until ``deadline`` (monotonic): pyinit is about to exit."""
        import select
        import time

        self._unwatch()
        while (self.buffer or self.unreported) and not self.broken:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pollable:
                return
            poller = select.poll()
            poller.register(self.fd, select.POLLOUT)
            if not poller.poll(left * 1000):
                return
            self.flush()
            self._unwatch()


def marker(counts: dict[str, int]) -> bytes:
    total = sum(counts.values())
    if json_markers:  # --log-format json: the stream stays one JSON object per line
        import json

        fields = {"event": "output was blocked; lines dropped", "level": "warning", "logger": "pyinit"}
        return (json.dumps({**fields, "dropped": total, "sources": counts}) + "\n").encode()
    whom = ", ".join(f"{source} {count}" for source, count in sorted(counts.items()))
    return f"pyinit: output was blocked: {total} lines dropped ({whom})\n".encode()


def _nowait_writer(fd: int) -> tuple[Callable[[bytes | memoryview], int], bool]:
    """A write that returns at once, without changing ``fd``'s flags; and whether epoll can watch it."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return _plain(fd), False  # closed: the first write fails and marks the sink broken
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return _plain(fd), False
    if stat.S_ISSOCK(mode):
        import socket

        sock = socket.socket(fileno=os.dup(fd))

        def send(data: bytes | memoryview) -> int:
            return sock.send(data, socket.MSG_DONTWAIT)

        return send, True
    if not os.get_blocking(fd):
        return _plain(fd), True

    def nowait(data: bytes | memoryview) -> int:
        return os.pwritev(fd, [data], -1, os.RWF_NOWAIT)

    return nowait, True


def _plain(fd: int) -> Callable[[bytes | memoryview], int]:
    def write(data: bytes | memoryview) -> int:
        return os.write(fd, data)

    return write


def _reopened(fd: int) -> Callable[[bytes | memoryview], int]:
    """For kernels (or files: terminals) without RWF_NOWAIT: a non-blocking description of
    our own, reopened through /proc (pipes, fifos, terminals), leaving the shared one alone."""
    own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)

    def write(data: bytes | memoryview) -> int:
        return os.write(own, data)

    return write


# -- the registry: one sink per descriptor, shared by the log and the relays ----------------


def for_fd(fd: int) -> Sink:
    """The sink of ``fd``'s file: stdout and stderr on one pipe (``2>&1``, a terminal) share
    one, so their lines keep their order and one's half-written line never has the other's
    in its middle."""
    sink = _sinks.get(fd)
    if sink is not None:
        return sink
    try:
        st = os.fstat(fd)
    except OSError:
        st = None
    for other in _sinks.values():
        if st is not None and other.identity == (st.st_dev, st.st_ino):
            _sinks[fd] = other
            return other
    sink = _sinks[fd] = Sink(fd)
    return sink


def attach(loop: Loop | None) -> None:
    """The loop that flushes the sinks; what waited for it gets its watch now."""
    global _loop
    if loop is _loop:
        return
    for sink in _unique():
        sink._unwatch()
    _loop = loop
    for sink in _unique():
        if sink.buffer or sink.unreported:
            sink._watch()


def dropped(source: str | None = None) -> int:
    """Lines dropped so far on every stream: from ``source``, or from anyone."""
    return sum(count for sink in _unique() for name, count in sink.dropped.items() if source is None or name == source)


def drain_all(timeout: float = EXIT_FLUSH) -> None:
    """pyinit is exiting: give the readers ``timeout`` seconds to take what waits."""
    import time

    deadline = time.monotonic() + timeout
    attach(None)
    for sink in _unique():
        sink.drain(deadline)


def _unique() -> list[Sink]:
    """Each sink once, though two descriptors may share it."""
    return list({id(sink): sink for sink in _sinks.values()}.values())
