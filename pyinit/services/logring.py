"""A service's recent output: a bounded ring of time-stamped lines, and its followers.

``log_buffer = "256KiB"`` bounds the ring by the bytes it holds (text plus a
small per-line overhead), so a chatty service costs a fixed amount of memory;
the oldest lines go first. Followers (``pyinit ctl logs -f``) are told of
each line as it is added.
"""

from __future__ import annotations

import time
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Follower = Callable[["Entry"], None]

DEFAULT_CAPACITY = 256 * 1024
LINE_OVERHEAD = 64  # the entry object, its time and its stream name
SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}


def parse_size(value: Any) -> int:
    """Bytes from ``65536``, ``"64KiB"``, ``"1MiB"``, ``"500kB"``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a size (bytes, or a string like '256KiB', '1MiB'), not {value!r}")
    if isinstance(value, int):
        number, unit = value, ""
    else:
        text = value.strip().lower()
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
        unit = text[len(digits) :].strip()
        if not digits.isdigit() or unit not in SIZE_UNITS:
            raise ValueError(f"invalid size {value!r} (bytes, or a string like '256KiB', '1MiB')")
        number = int(digits)
    if number < 0:
        raise ValueError(f"invalid size {value!r}")
    return number * SIZE_UNITS[unit]


class Entry:
    __slots__ = ("cost", "line", "stream", "when")

    def __init__(self, when: float, stream: str, line: str, cost: int = 0) -> None:
        self.when, self.stream, self.line, self.cost = when, stream, line, cost

    def as_dict(self) -> dict[str, str]:
        return {"time": timestamp(self.when), "stream": self.stream, "line": self.line}


def timestamp(when: float) -> str:
    """UTC, to the millisecond: ``2026-12-03T08:11:34.123Z``."""
    whole = int(when)
    millis = int((when - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


class LogRing:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.entries: deque[Entry] = deque()
        self.size = 0
        self.followers: list[Follower] = []

    def add(self, stream: str, line: bytes) -> None:
        entry = Entry(time.time(), stream, line.decode("utf-8", "replace"), len(line) + LINE_OVERHEAD)
        if entry.cost <= self.capacity:
            self.entries.append(entry)
            self.size += entry.cost
            self._trim()
        for follower in list(self.followers):
            follower(entry)

    def tail(self, count: int | None = None) -> list[Entry]:
        """The last ``count`` lines (all of them with None), oldest first."""
        if count is None or count >= len(self.entries):
            return list(self.entries)
        if count <= 0:
            return []
        return list(self.entries)[-count:]

    def follow(self, follower: Follower) -> Callable[[], None]:
        """Tell ``follower`` of every line from now on; returns what stops it."""
        self.followers.append(follower)

        def unfollow() -> None:
            if follower in self.followers:
                self.followers.remove(follower)

        return unfollow

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._trim()

    def _trim(self) -> None:
        while self.entries and self.size > self.capacity:
            self.size -= self.entries.popleft().cost
