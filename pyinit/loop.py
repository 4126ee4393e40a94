"""The one wait: blocked signals through a signalfd, file descriptors, deadlines.

pyinit sleeps in ``epoll_wait`` and nowhere else. The timeout is the nearest
deadline, or infinite when there is none, so an idle pyinit never wakes up.
The loop dispatches events and owns no policy; a handler that raises is
logged and the loop carries on, because PID 1 must not die of its own bug.

Work per wake-up is bounded: at most :data:`SIGNAL_BATCH` signal records are
read, then the other descriptors and the due timers get their turn, and the
signalfd (still readable) wakes the next round at once. Under a storm of
queued signals a child's exit is still reaped, and a teardown that is due
still starts, within one batch.
"""

from __future__ import annotations

import os
import select
import time

# The C half of heapq: heapq.py itself is one more module to import (about 0.3 ms)
# on the path from exec to the child running, for two functions.
from _heapq import heappop, heappush

from pyinit import linux, log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    SignalHandler = Callable[[int, int], None]  # (signal, sender's pid)


# epoll_wait takes an int of milliseconds: a farther deadline (``--grace 1e9``)
# would raise out of the loop, so the wait is cut short and simply taken again.
MAX_WAIT = 2**31 // 1000 - 1
# Signal records read per wake-up (128 bytes each): enough that a burst costs few
# wake-ups, few enough that one batch takes well under a millisecond or two. The
# kernel's own cost per record sets the bound: it hands out real-time signals lowest
# number first and searches the queue from its head for each, so with the queue at its
# limit (RLIMIT_SIGPENDING, ~96,000 here) one record cost about 180 us, and a batch of
# 64 kept a SIGCHLD queued behind it waiting about 12 ms (measured: the storm bench).
SIGNAL_BATCH = 8


class Timer:
    """A pending call; ``cancel()`` makes it a no-op."""

    __slots__ = ("callback", "cancelled", "seq", "when")

    def __init__(self, when: float, callback: Callable[[], None], seq: int) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.seq = seq

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Loop:
    def __init__(self, signals: set[int], on_signal: SignalHandler) -> None:
        self._epoll = select.epoll()
        self._sigfd = linux.signalfd(signals)
        self._on_signal = on_signal
        self._readers: dict[int, Callable[[], None]] = {}
        self._timers: list[Timer] = []
        self._seq = 0
        self._dropped: dict[int, int] = {}  # signals nobody wanted in this batch, by number
        self._epoll.register(self._sigfd, select.EPOLLIN)
        log.use_loop(self)  # the log's output waits for EPOLLOUT through us, when it must

    # -- registration ------------------------------------------------------
    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._readers[fd] = callback
        self._epoll.register(fd, select.EPOLLIN)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` when ``fd`` is writable (a non-blocking connect completed)."""
        self._readers[fd] = callback
        self._epoll.register(fd, select.EPOLLOUT)

    def remove_writer(self, fd: int) -> None:
        self.remove_reader(fd)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        self._seq += 1
        timer = Timer(time.monotonic() + max(delay, 0.0), callback, self._seq)
        heappush(self._timers, timer)
        return timer

    # -- running ------------------------------------------------------------
    def run_once(self) -> None:
        """Wait for the next events (or the nearest deadline) and dispatch them."""
        # Without timers (the usual case while a child runs) neither timer method is
        # called: each call costs about a microsecond on every wake-up of an orphan stream.
        for fd, _events in self._epoll.poll(self._timeout() if self._timers else -1):
            if fd == self._sigfd:
                self._drain_signals()
            elif fd in self._readers:
                self._guard(self._readers[fd])
        if self._timers:
            self._run_due_timers()

    def _timeout(self) -> float:
        while self._timers and self._timers[0].cancelled:
            heappop(self._timers)
        if not self._timers:
            return -1
        return min(max(self._timers[0].when - time.monotonic(), 0.0), MAX_WAIT)

    def _run_due_timers(self) -> None:
        if not self._timers:
            return
        now = time.monotonic()
        while self._timers and self._timers[0].when <= now:
            timer = heappop(self._timers)
            if not timer.cancelled:
                self._guard(timer.callback)

    def _drain_signals(self) -> None:
        """One batch of signal records; the rest wait for the next round."""
        try:
            data = os.read(self._sigfd, linux.SIGINFO_SIZE * SIGNAL_BATCH)
        except BlockingIOError:
            return
        on_signal, parse, size = self._on_signal, linux.parse_siginfo, linux.SIGINFO_SIZE
        for start in range(0, len(data), size):
            try:  # _guard's work, inline: this runs for every signal of a storm
                on_signal(*parse(data[start : start + size]))
            except Exception as exc:
                log.error("internal error; carrying on", error=repr(exc))
        if self._dropped:
            if log.enabled(log.DEBUG):
                from pyinit import signals

                counts = {signals.name(sig): count for sig, count in sorted(self._dropped.items())}
                log.debug("signals dropped", count=sum(counts.values()), signals=counts)
            self._dropped.clear()

    def drop(self, sig: int) -> None:
        """A signal no one wants (the child has exited, rewritten to 0): counted, and
        logged once per batch, not once each (a storm would fill the log)."""
        self._dropped[sig] = self._dropped.get(sig, 0) + 1

    def _guard(self, callback: Callable[..., None], *args: int) -> None:
        try:
            callback(*args)
        except Exception as exc:
            log.error("internal error; carrying on", error=repr(exc))

    def close(self) -> None:
        log.forget_loop(self)  # the sinks stop watching through us
        self._epoll.close()
        os.close(self._sigfd)
