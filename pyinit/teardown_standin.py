"""A minimal namespace teardown, used until pyinit/teardown.py is available.

Same interface: ``Teardown(loop, reaper, stop_signal, grace, on_done).start()``
signals everything left in the namespace (PID 1) or subtree (subreaper), waits
up to ``grace`` for it to be reaped (event-driven: each reaped orphan rechecks),
SIGKILLs the rest, then calls ``on_done``.
"""

from __future__ import annotations

import os

from pyinit import log, signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop, Timer
    from pyinit.reaper import Reaper


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found.extend(int(word) for word in handle.read().split())
        except OSError:
            continue
    return found


def descendants() -> list[int]:
    found: list[int] = []
    pending = children(os.getpid())
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children(pid))
    return found


def signal_all(sig: int) -> None:
    if os.getpid() == 1:
        try:  # every process in the namespace but ourselves
            os.kill(-1, sig)
        except ProcessLookupError:
            pass
        return
    for pid in descendants():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class Teardown:
    def __init__(self, loop: Loop, reaper: Reaper, stop_signal: int, grace: float, on_done: Callable[[], None]) -> None:
        self.loop = loop
        self.reaper = reaper
        self.stop_signal = stop_signal
        self.grace = grace
        self.on_done = on_done
        self.timer: Timer | None = None
        self.finished = False

    def start(self) -> None:
        self.reaper.reap()
        if not children(os.getpid()):
            self._finish()
            return
        previous = self.reaper.on_orphan

        def reaped(pid: int, status: int) -> None:
            if previous is not None:
                previous(pid, status)
            self._check()

        self.reaper.on_orphan = reaped
        log.info("stopping remaining processes", signal=signals.name(self.stop_signal), grace=self.grace)
        signal_all(self.stop_signal)
        signal_all(signals.SIGCONT)
        self.timer = self.loop.call_later(self.grace, self._kill)

    def _check(self) -> None:
        if not self.finished and not children(os.getpid()):
            self._finish()

    def _kill(self) -> None:
        if self.finished:
            return
        left = children(os.getpid())
        if left:
            log.warning("killing processes that outlived the grace period", count=len(left))
            signal_all(signals.SIGKILL)

    def _finish(self) -> None:
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
        self.on_done()
