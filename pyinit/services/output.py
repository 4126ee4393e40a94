"""``output = "prefix"``: a service's lines, with its name in front, read through pipes in the loop."""

from __future__ import annotations

import os

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

    def render(self, lines: list[bytes], prefix: bytes) -> bytes:
        if not self.json:
            return b"".join(prefix + line + b"\n" for line in lines)
        import json
        import time

        from pyinit.services.logring import timestamp

        when = timestamp(time.time())
        return b"".join(
            json.dumps(
                {"time": when, "service": self.service, "stream": self.stream, "line": line.decode("utf-8", "replace")}
            ).encode()
            + b"\n"
            for line in lines
        )


# A line longer than this is passed on in pieces rather than buffered without bound.
MAX_LINE = 64 * 1024


def write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            continue  # pyinit's own stdout is blocking unless someone made it otherwise
        except OSError:
            return  # nobody reads our output any more: drop it
        data = data[written:]


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
        self.buffer = b""
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
            data = os.read(self.read_end, 65536)
        except BlockingIOError:
            return
        if not data:  # every writer, grandchildren included, has closed it
            self.close()
            return
        self.take(data)

    def take(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > MAX_LINE:
            lines.append(self.buffer)
            self.buffer = b""
        if not lines:
            return
        if self.relay is None:
            write_all(self.target, b"".join(self.prefix + line + b"\n" for line in lines))
            return
        for line in lines:
            self.relay.line(line)
        if not self.relay.quiet:
            write_all(self.target, self.relay.render(lines, self.prefix))

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
                data = os.read(self.read_end, 65536)
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
