"""``output = "prefix"``: a service's lines, with its name in front, read through pipes in the loop.

Each line goes to pyinit's stdout or stderr through :mod:`pyinit.sink`, so a
log reader that stalls costs dropped lines (counted per service), never a
PID 1 stuck in a write, and the service itself never waits either: its pipe
is read as fast as it writes. What the relay does to the bytes:

- A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (a progress bar's
  redraws become lines of their own, each with the prefix).
- A line longer than :data:`MAX_LINE` bytes is passed on in pieces of at most
  that size, cut between UTF-8 sequences; every piece after the first has ``+``
  in place of the prefix's ``|`` (``web + ...``), so it reads as a continuation.
- Bytes that are not valid UTF-8 pass through as they are, like ``inherit``.
- A service that closes its stdout (or stderr) and keeps running: the pipe's end
  is read, closed and forgotten; the service is not affected.
"""

from __future__ import annotations

import os

from pyinit import sink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.loop import Loop
    from pyinit.services.logring import LogRing

STREAMS = {1: "stdout", 2: "stderr"}


class Relay:
    """What becomes of one stream's lines besides the prefix: the service's log ring,
    ``output = "quiet"`` (the ring only) and ``--log-format json`` (JSON objects)."""

    def __init__(self, service: str, stream: str, ring: LogRing, quiet: bool, json: bool) -> None:
        self.service, self.stream, self.ring = service, stream, ring
        self.quiet, self.json = quiet, json

    def line(self, line: bytes) -> None:
        self.ring.add(self.stream, line)

    def json_line(self, line: bytes) -> bytes:
        import json
        import time

        from pyinit.services.logring import timestamp

        text = line.decode("utf-8", "replace")
        record = {"time": timestamp(time.time()), "service": self.service, "stream": self.stream, "line": text}
        return json.dumps(record).encode() + b"\n"


# The longest line relayed in one piece: longer ones are cut (see above), so a
# 10 MB line costs 64 KiB of memory, not 10 MB.
MAX_LINE = 64 * 1024
# Bytes read per wake-up: a service that writes without pause gets its turn, no more.
READ_SIZE = 65536


def cut(data: bytes, size: int) -> int:
    """Where to cut ``data`` (longer than ``size``): at most ``size`` bytes in, and not inside
    a UTF-8 sequence, which has at most 3 continuation bytes (``10xxxxxx``)."""
    end = size
    while end > size - 3 and data[end] & 0xC0 == 0x80:
        end -= 1
    return end


class Prefixer:
    """One pipe: the child's end goes to ``target`` in the child; we copy lines to our ``target``."""

    def __init__(
        self,
        loop: Loop,
        prefix: bytes,
        target: int,
        owner: tuple[int, int] | None = None,
        relay: Relay | None = None,
    ) -> None:
        self.loop, self.prefix, self.target = loop, prefix, target
        self.relay = relay
        # "web   | " -> "web   + ": the mark of a long line's later pieces.
        self.continued = prefix[:-2] + b"+ " if prefix.endswith(b"| ") else prefix
        # Whose lines these are, for the drop counts: the service (its prefix, without a relay).
        self.source = relay.service if relay is not None else prefix.decode(errors="replace").rstrip(" |")
        self.sink = sink.for_fd(target)
        sink.attach(loop)
        self.buffer = b""
        self.continuing = False  # pieces of the line in ``buffer`` were passed on already
        self.after_cr = False  # the last chunk ended in \r: a \n starting the next one ends nothing
        self.read_end, self.write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(self.write_end, True)
        if owner is not None:
            # A pipe is its creator's, mode 0600: a service running as another user could
            # not open /dev/stdout (/proc/self/fd/1) by name, as log settings often do.
            os.fchown(self.write_end, *owner)

    def child_fds(self) -> dict[int, int]:
        return {self.target: self.write_end}

    def after_fork(self) -> None:
        os.close(self.write_end)
        self.write_end = -1
        self.loop.add_reader(self.read_end, self.readable)

    def readable(self) -> None:
        try:
            data = os.read(self.read_end, READ_SIZE)
        except BlockingIOError:
            return
        if not data:  # every writer, grandchildren included, has closed it
            self.close()
            return
        self.take(data)

    def take(self, data: bytes) -> None:
        if self.after_cr and data.startswith(b"\n"):
            data = data[1:]
        self.after_cr = data.endswith(b"\r")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, rest = (self.buffer + data).split(b"\n")
        out: list[bytes] = []
        for line in lines:
            self._pieces(line, out, whole=True)
        self.buffer = self._pieces(rest, out, whole=False) if len(rest) > MAX_LINE else rest
        if out:
            self.sink.write(b"".join(out), self.source)

    def _pieces(self, line: bytes, out: list[bytes], whole: bool) -> bytes:
        """Append ``line``'s pieces to ``out``; without ``whole``, return the unfinished tail."""
        while len(line) > MAX_LINE:
            end = cut(line, MAX_LINE)
            self._line(self.continued if self.continuing else self.prefix, line[:end], out)
            self.continuing = True
            line = line[end:]
        if not whole:
            return line
        self._line(self.continued if self.continuing else self.prefix, line, out)
        self.continuing = False
        return b""

    def _line(self, mark: bytes, line: bytes, out: list[bytes]) -> None:
        """One line (or piece of a long one): into the service's ring, and out unless ``quiet``."""
        if self.relay is None:
            out.append(mark + line + b"\n")
            return
        self.relay.line(line)
        if self.relay.quiet:
            return
        out.append(self.relay.json_line(line) if self.relay.json else mark + line + b"\n")

    def close(self) -> None:
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1
        if self.read_end < 0:
            return
        # What is still in the pipe: a service's last words (its shutdown messages) arrive
        # together with its exit, and pyinit may be done before the loop reads them.
        # Bounded: a writer that never stops must not keep pyinit from exiting.
        for _ in range(64):
            try:
                data = os.read(self.read_end, READ_SIZE)
            except OSError:  # BlockingIOError: nothing more for now
                break
            if not data:
                break
            self.take(data)
        if self.buffer:
            self.take(b"\n")
        self.loop.remove_reader(self.read_end)
        os.close(self.read_end)
        self.read_end = -1
