"""Stop everything that is left: the stop signal, a grace period, then SIGKILL.

The timeline::

    start()  -> stop signal to every member (and SIGCONT to the stopped ones)
             -> wait, event-driven: each member's pidfd turns readable when it exits
             -> all gone: re-scan for processes forked meanwhile, until a scan finds
                no one and pyinit has no child left (see _settled) -> done
    grace    -> SIGKILL to every member left, logged at warning level (pid, command)
             -> wait for them the same way (at most KILL_TIMEOUT) -> done
    hurry()  -> the grace ends now (pyinit calls it on a second stop request)

Who the members are is :class:`pyinit.members.Scope`'s business. The teardown
waits on pidfds rather than on SIGCHLD because most members are not pyinit's
children; the ones that are (orphans it adopted) are reaped by the reaper as
usual, and a final ``reap()`` before ``on_done`` collects the last of them.

Usage (``on_done`` is called once, from the loop)::

    Teardown(loop, reaper, stop_signal, grace, on_done).start()
"""

from __future__ import annotations

import time

from pyinit import log, signals
from pyinit.members import Member, Scope

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop, Timer
    from pyinit.reaper import Reaper

# After SIGKILL a process is normally gone within milliseconds; one stuck in
# uninterruptible sleep (a dead NFS server) may never go. Do not wait forever.
KILL_TIMEOUT = 3.0
# Culprits named one by one at warning level; the rest in one summary line (how
# many, and their most common commands), not thousands of lines that would
# themselves fill a log pipe.
KILL_LOG_LIMIT = 20
# Re-scans when a scan finds no one but pyinit still has a child (see _settled).
SETTLE_TRIES = 50
SUMMARY_COMMANDS = 3

IDLE, STOPPING, KILLING, DONE = "idle", "stopping", "killing", "done"


class Teardown:
    def __init__(
        self,
        loop: Loop,
        reaper: Reaper,
        stop_signal: int = signals.SIGTERM,
        grace: float = 5.0,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.reaper = reaper
        self.stop_signal = stop_signal
        self.grace = grace
        self.on_done = on_done
        self.scope: Scope | None = None  # made in start(), where its failure is handled
        self.phase = IDLE
        self.members: dict[int, Member] = {}  # by proc PID: at most one live process holds it
        self.stopped = 0  # members that went within the grace
        self.killed: list[Member] = []  # members that had to be SIGKILLed
        self._timer: Timer | None = None
        self._backstop: Timer | None = None
        self._started = 0.0
        self._raised_limit = False
        self._hurried = False

    # -- the interface --------------------------------------------------------
    def start(self) -> None:
        """Send the stop signal to every member and start the grace period."""
        if self.phase != IDLE:
            return
        self._started = time.monotonic()
        self.phase = STOPPING
        # Whatever happens below (a bug included), pyinit must not wait forever.
        self._backstop = self.loop.call_later(self.grace + 2 * KILL_TIMEOUT, self._overdue)
        self.reaper.reap()  # what is already dead needs no signal
        try:
            self.loop.prepare()  # before the scan's pidfds can take the last descriptors
            if self.scope is None:
                self.scope = Scope()
            count = self._sweep(self.stop_signal)
        except OSError as exc:  # no pidfds (kernel < 5.3, an old seccomp profile): exit as tini does
            log.error("cannot stop the remaining processes", error=exc.strerror or repr(exc))
            self._finish()
            return
        log.info("teardown started", remaining=count, signal=signals.name(self.stop_signal), grace=self.grace)
        if not self.members and self._settled(self.stop_signal):
            self._finish()
        elif self._hurried:
            self._expire()
        else:
            self._timer = self.loop.call_later(self.grace, self._expire)

    def hurry(self) -> None:
        """End the grace period now: SIGKILL whatever is left."""
        if self.phase == IDLE:
            self._hurried = True  # asked before start(): no grace at all
        elif self.phase == STOPPING:
            log.info("teardown hurried: killing the remaining processes now", remaining=len(self.members))
            self._expire()

    # -- events ---------------------------------------------------------------
    def _sweep(self, sig: int) -> int:
        """Find members not yet known, send them ``sig``, watch them; return how many."""
        assert self.scope is not None
        found = self.scope.scan(self.members)
        if self.scope.full and not self._raised_limit:
            self._raised_limit = True
            _raise_descriptor_limit()
            found += self.scope.scan([*self.members, *(m.proc_pid for m in found)])
        if sig == signals.SIGKILL:
            self._report_killed(found)
        for member in found:
            self.members[member.proc_pid] = member
            self.loop.add_reader(member.pidfd, self._watcher(member))
            member.send(sig)
            if member.stopped and sig not in (signals.SIGKILL, signals.SIGCONT):
                member.send(signals.SIGCONT)  # a stopped process acts on the signal only once continued
        return len(found)

    def _watcher(self, member: Member) -> Callable[[], None]:
        """``partial(self._gone, member)`` without importing functools (about 2 ms)."""

        def gone() -> None:
            self._gone(member)

        return gone

    def _gone(self, member: Member) -> None:
        self._forget(member)
        if self.phase == STOPPING:
            self.stopped += 1
        if not self.members and self._settled(signals.SIGKILL if self.phase == KILLING else self.stop_signal):
            self._finish()

    def _settled(self, sig: int) -> bool:
        """Nothing is left: a scan finds no one, and pyinit has no child left either.

        A scan can miss a process forked at that very moment: listing our children
        before its parent exits, and its parent's after, finds neither of them (a
        process that re-forks every few milliseconds does this on purpose). Every
        process left in our charge has pyinit for an ancestor, so while pyinit has a
        child, someone is left: reap, and look again (a few times: the window is
        microseconds wide). Found someone: they are watched like the rest (False).
        """
        for _ in range(SETTLE_TRIES):
            self.reaper.reap()
            if self._sweep(sig):
                return False
            if not self.reaper.has_children():
                return True
        return True

    def _expire(self) -> None:
        if self.phase != STOPPING:
            return
        self.phase = KILLING
        if self._timer is not None:
            self._timer.cancel()
        left = list(self.members.values())
        self._report_killed(left)
        for member in left:
            member.send(signals.SIGKILL)
        self._sweep(signals.SIGKILL)  # and whatever was forked since the last scan
        if not self.members and self._settled(signals.SIGKILL):  # they were all gone already
            self._finish()
            return
        self._timer = self.loop.call_later(KILL_TIMEOUT, self._give_up)

    def _give_up(self) -> None:
        if self.phase != KILLING:
            return
        for member in self.members.values():
            log.error("still running after SIGKILL; leaving it", pid=member.pid, command=member.command)
        self._finish()

    def _overdue(self) -> None:
        if self.phase != DONE:
            log.error("teardown overdue; giving up", phase=self.phase, remaining=len(self.members))
            self._finish()

    def _finish(self) -> None:
        for timer in (self._timer, self._backstop):
            if timer is not None:
                timer.cancel()
        self._timer = self._backstop = None
        for member in list(self.members.values()):
            self._forget(member)
        self.reaper.reap()
        self.phase = DONE
        if len(self.killed) > KILL_LOG_LIMIT:
            self._summarize_killed()
        log.info(
            "teardown done",
            stopped=self.stopped,
            killed=len(self.killed),
            seconds=round(time.monotonic() - self._started, 3),
        )
        if self.on_done is not None:
            self.on_done()

    # -- helpers --------------------------------------------------------------
    def _forget(self, member: Member) -> None:
        self.loop.remove_reader(member.pidfd)
        member.close()
        self.members.pop(member.proc_pid, None)

    def _summarize_killed(self) -> None:
        rest = self.killed[KILL_LOG_LIMIT:]
        log.warning(
            "more processes did not stop in time; killed them too",
            count=len(rest),
            most_common=most_common([member.command for member in rest]),
            signal=signals.name(self.stop_signal),
            grace=self.grace,
        )

    def _report_killed(self, members: list[Member]) -> None:
        for member in members:
            if len(self.killed) < KILL_LOG_LIMIT:
                log.warning(
                    "did not stop in time; killing it",
                    pid=member.pid,
                    command=member.current_command(),
                    signal=signals.name(self.stop_signal),
                    grace=self.grace,
                )
            self.killed.append(member)


def most_common(commands: list[str], top: int = SUMMARY_COMMANDS) -> str:
    """``"sleep 1000" x4980, "python -m worker" x20``: who a crowd was made of."""
    counts: dict[str, int] = {}
    for command in commands:
        counts[command] = counts.get(command, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    text = ", ".join(f"{command[:80]!r} x{count}" for command, count in ranked)
    return text + (", ..." if len(counts) > top else "")


def _raise_descriptor_limit() -> None:
    """Every member holds a pidfd: let a crowded namespace have enough of them."""
    import resource

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.debug("cannot raise the descriptor limit", error=repr(exc))
