"""The one wait: blocked signals, file descriptors, deadlines.

pyinit sleeps here and nowhere else. While nothing but signals and timers is
watched (a single child, nobody connected: the usual case) the wait is
``sigtimedwait``, one system call per wake-up, as tini's; once a descriptor is
watched it is ``epoll_wait`` on a signalfd and the descriptors, both made
then. The timeout is the nearest deadline, or infinite when there is none, so
an idle pyinit never wakes up. The loop dispatches events and owns no policy;
a handler that raises is logged and the loop carries on, because PID 1 must
not die of its own bug.

Work per wake-up is bounded: one signal from ``sigtimedwait`` (up to
:data:`SIGNAL_BATCH` while they go unwanted, so they are logged per batch), or
at most :data:`SIGNAL_BATCH` records from the signalfd; then the other
descriptors and the due timers get their turn. Under a storm of queued
signals a child's exit is still reaped, and a teardown that is due still
starts, within one batch.
"""

import posix
import sys
import time
from _signal import sigtimedwait, sigwaitinfo

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

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
# One signalfd_siginfo record, as the kernel writes it (man 2 signalfd).
SIGINFO_SIZE = 128
SIGIO = 29
EPOLLIN, EPOLLOUT = 0x001, 0x004  # select's, without importing select to name them
_ORDER = sys.byteorder


class Timer:
    """A pending call; ``cancel()`` makes it a no-op."""

    __slots__ = ("callback", "cancelled", "seq", "when")

    def __init__(self, when: float, callback: "Callable[[], None]", seq: int) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.seq = seq

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: "Timer") -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Loop:
    def __init__(self, signals: set[int], on_signal: "SignalHandler") -> None:
        self._signals = signals
        self._on_signal = on_signal
        self._epoll: Any = None  # select.epoll, made with the first descriptor to watch
        self._sigfd = -1
        self._readers: dict[int, Callable[[], None]] = {}
        self._async: dict[int, Callable[[], None]] = {}  # woken by SIGIO (see add_async_reader)
        self._timers: list[Timer] = []
        self._seq = 0
        self._dropped: dict[int, int] = {}  # signals nobody wanted in this batch, by number
        log.use_loop(self)  # the log's output waits for EPOLLOUT through us, when it must

    # -- registration ------------------------------------------------------
    def add_reader(self, fd: int, callback: "Callable[[], None]") -> None:
        self._readers[fd] = callback
        self._poller().register(fd, EPOLLIN)

    def add_writer(self, fd: int, callback: "Callable[[], None]") -> None:
        """Call ``callback`` when ``fd`` is writable (a non-blocking connect completed)."""
        self._readers[fd] = callback
        self._poller().register(fd, EPOLLOUT)

    def remove_writer(self, fd: int) -> None:
        self.remove_reader(fd)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._epoll.unregister(fd)
        elif self._async.pop(fd, None) is not None:
            try:
                _set_async(fd, False)
            except OSError:  # closed already: nothing will come from it
                pass

    def add_async_reader(self, fd: int, callback: "Callable[[], None]") -> None:
        """Call ``callback`` when ``fd`` (a listening socket of ours) may be readable,
        through SIGIO rather than epoll: the loop keeps waiting in ``sigtimedwait`` while
        nothing else is watched. The callback must cope with nothing to read."""
        try:
            _set_async(fd, True)
        except OSError:
            self.add_reader(fd, callback)
            return
        self._async[fd] = callback

    def call_later(self, delay: float, callback: "Callable[[], None]") -> Timer:
        self._seq += 1
        timer = Timer(time.monotonic() + max(delay, 0.0), callback, self._seq)
        _insert(self._timers, timer)
        return timer

    def prepare(self) -> None:
        """Make epoll and the signalfd now, while descriptors are left for them: before a
        teardown's scan or a control connection, either of which may take the last ones."""
        self._poller()

    def _poller(self) -> "Any":
        """epoll and the signalfd, made when the first descriptor is watched: a single
        child's pyinit usually never needs them (and never imports select or ctypes)."""
        if self._epoll is None:
            import select

            from pyinit import linux

            self._epoll = select.epoll()
            self._sigfd = linux.signalfd(self._signals)
            self._epoll.register(self._sigfd, EPOLLIN)
        return self._epoll

    # -- running ------------------------------------------------------------
    def run_once(self) -> None:
        """Wait for the next events (or the nearest deadline) and dispatch them."""
        # Without timers (the usual case while a child runs) neither timer method is
        # called: each call costs about a microsecond on every wake-up of an orphan stream.
        if self._readers:
            for fd, _events in self._epoll.poll(self._timeout() if self._timers else -1):
                if fd == self._sigfd:
                    self._drain_signals()
                elif fd in self._readers:
                    self._guard(self._readers[fd])
        else:
            self._wait_signal()
        if self._timers:
            self._run_due_timers()

    def _wait_signal(self) -> None:
        """Nothing but signals and timers to wait for: one ``sigtimedwait``, as tini
        waits (a wake-up costs one system call, where epoll costs two).

        One signal per wake-up; more (up to a batch, without waiting) only while they go
        unwanted (a storm after the child's exit), so that they are logged once per batch."""
        signals, on_signal = self._signals, self._on_signal
        timeout = self._timeout() if self._timers else -1  # -1: the timers were all cancelled
        info = sigtimedwait(signals, timeout) if timeout >= 0 else sigwaitinfo(signals)
        taken = 0
        while info is not None:
            sig = info.si_signo
            try:  # _dispatch's work, inline: this is every forwarded signal's path
                if sig == SIGIO and info.si_code > 0:
                    self._io_ready()
                else:
                    on_signal(sig, info.si_pid)
            except Exception as exc:
                log.error("internal error; carrying on", error=repr(exc))
            taken += 1
            if not self._dropped:
                return
            if taken == SIGNAL_BATCH:
                break
            info = sigtimedwait(signals, 0)
        self._report_dropped()

    def _dispatch(self, sig: int, sender: int, code: int) -> None:
        try:  # _guard's work, inline: this runs for every signal of a storm
            if sig == SIGIO and code > 0:
                self._io_ready()
            else:
                self._on_signal(sig, sender)
        except Exception as exc:
            log.error("internal error; carrying on", error=repr(exc))

    def _io_ready(self) -> None:
        """SIGIO from the kernel (its si_code is SI_KERNEL or a POLL_* band; kill's is not
        positive): one of the async readers may have something."""
        for callback in list(self._async.values()):
            callback()

    def _timeout(self) -> float:
        while self._timers and self._timers[-1].cancelled:
            self._timers.pop()
        if not self._timers:
            return -1
        return min(max(self._timers[-1].when - time.monotonic(), 0.0), MAX_WAIT)

    def _run_due_timers(self) -> None:
        if not self._timers:
            return
        now = time.monotonic()
        while self._timers and self._timers[-1].when <= now:
            timer = self._timers.pop()
            if not timer.cancelled:
                self._guard(timer.callback)

    def _drain_signals(self) -> None:
        """One batch of signal records; the rest wait for the next round."""
        try:
            data = posix.read(self._sigfd, SIGINFO_SIZE * SIGNAL_BATCH)
        except BlockingIOError:
            return
        dispatch = self._dispatch
        for start in range(0, len(data), SIGINFO_SIZE):
            dispatch(*_parse_siginfo(data[start : start + SIGINFO_SIZE]))
        if self._dropped:
            self._report_dropped()

    def _report_dropped(self) -> None:
        if log.enabled(log.DEBUG):
            from pyinit import signals

            counts = {signals.name(sig): count for sig, count in sorted(self._dropped.items())}
            log.debug("signals dropped", count=sum(counts.values()), signals=counts)
        self._dropped.clear()

    def drop(self, sig: int) -> None:
        """A signal no one wants (the child has exited, rewritten to 0): counted, and
        logged once per batch, not once each (a storm would fill the log)."""
        self._dropped[sig] = self._dropped.get(sig, 0) + 1

    def _guard(self, callback: "Callable[..., None]", *args: int) -> None:
        try:
            callback(*args)
        except Exception as exc:
            log.error("internal error; carrying on", error=repr(exc))

    def close(self) -> None:
        log.forget_loop(self)  # the sinks stop watching through us
        for fd in list(self._async):
            self.remove_reader(fd)
        if self._epoll is not None:
            self._epoll.close()
            posix.close(self._sigfd)


def _insert(timers: list[Timer], timer: Timer) -> None:
    """Into ``timers``, kept latest first, so the nearest is popped from the end.

    Not heapq: its C half is a shared object to load (about 0.2 ms) on the way
    to the child; pyinit holds a handful of timers (a few per service)."""
    low, high = 0, len(timers)
    while low < high:
        middle = (low + high) // 2
        if timer < timers[middle]:
            low = middle + 1
        else:
            high = middle
    timers.insert(low, timer)


def _set_async(fd: int, on: bool) -> None:
    """O_ASYNC on ``fd``, owned by us: the kernel sends SIGIO when it turns readable."""
    import fcntl

    if on:
        fcntl.fcntl(fd, fcntl.F_SETOWN, posix.getpid())
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | posix.O_ASYNC if on else flags & ~posix.O_ASYNC)


def _parse_siginfo(record: bytes) -> tuple[int, int, int]:
    """``(signo, pid, code)`` from one signalfd_siginfo record (man 2 signalfd); pid is
    the sender's (0 from outside the namespace).

    Slices and ``int.from_bytes``: measured right after a wake-up (the only time this
    runs), that is faster than a ``memoryview`` cast of the batch, whose code is cold
    then (16 us against 27 here, though the cast wins in a warm loop)."""
    return (
        int.from_bytes(record[0:4], _ORDER),
        int.from_bytes(record[12:16], _ORDER),
        int.from_bytes(record[8:12], _ORDER, signed=True),
    )
