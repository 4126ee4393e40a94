"""The terminal pyinit shares with its child: hand over its foreground, never
steal it, follow the child when it is suspended, give it back at the end.

Every call here runs with SIGTTOU and SIGTTIN blocked (pyinit blocks all
signals), which is what makes ``tcsetpgrp`` from a background group safe: the
kernel lets a process that blocks SIGTTOU change the foreground, where a
namespace init with SIGTTOU at its default would spin forever in the kernel.
So each call first checks that pyinit's own group really holds the terminal.
"""

from __future__ import annotations

import posix

from pyinit import log, signals

TIOCNOTTY = 0x5422


def holds_foreground(fd: int) -> bool:
    """Whether pyinit's process group is the foreground group of terminal ``fd``."""
    try:
        pgrp = posix.getpgrp()
        if posix.tcgetpgrp(fd) != pgrp:
            return False
        if pgrp == 0:
            # Our group's leader is outside our PID namespace (``unshare -fp``
            # from a shell): both ids read 0 whichever group is in the foreground.
            # Ask the kernel instead: with SIGTTIN blocked, reading from the
            # background fails with EIO; an empty read in the foreground returns at once.
            posix.read(fd, 0)
    except OSError:
        return False
    return True


def detach() -> None:
    """Give up the controlling terminal so that a child in a new session can take it (dumb-init).

    When the session leader does this, the kernel sends SIGHUP and SIGCONT to
    the terminal's foreground group, pyinit's own. It sends them in pyinit's
    name (``ssi_pid`` is pyinit's pid), so the rule that pyinit never forwards
    a signal it caused keeps them from the child, which would hang up at once.
    """
    if not posix.isatty(0):
        return
    import fcntl

    try:
        fcntl.ioctl(0, TIOCNOTTY)
    except OSError as exc:
        log.debug("cannot detach from the terminal", error=exc.strerror)


def _state(pid: int) -> str:
    from pyinit.members import read_stat

    try:
        return read_stat(pid).state
    except (OSError, ValueError, IndexError):  # gone, or its stat cut short as it exits
        return ""


class Terminal:
    """Job control across pyinit, for a pyinit that handed its terminal to the child.

    When pyinit is a job of an interactive shell (not PID 1), Ctrl-Z stops the
    child's group, which holds the foreground; the shell, waiting for pyinit,
    would never get its terminal back. So pyinit then takes the foreground back
    and stops itself; when the shell continues it in the foreground (``fg``),
    pyinit hands the terminal to the child again and forwards SIGCONT.
    """

    def __init__(self, fd: int | None, child: int) -> None:
        self.fd = fd
        self.child = child  # also the child's process group id
        self.suspended = False

    def _give(self, pgrp: int) -> bool:
        assert self.fd is not None
        try:
            posix.tcsetpgrp(self.fd, pgrp)
        except OSError as exc:  # not fatal: the child just runs without the foreground
            log.debug("cannot hand over the terminal", to=pgrp, error=exc.strerror)
            return False
        return True

    def _foreground(self) -> int:
        assert self.fd is not None
        try:
            return posix.tcgetpgrp(self.fd)
        except OSError:
            return -1

    def child_changed(self) -> None:
        """On SIGCHLD: suspend along with a child stopped from the terminal."""
        if self.fd is None or self.suspended or posix.getpid() == 1 or _state(self.child) != "T":
            return
        if self._foreground() == self.child:
            self._give(posix.getpgrp())
        self.suspended = True
        log.info("child stopped; stopping too")
        posix.kill(posix.getpid(), signals.SIGSTOP)  # returns once continued

    def continued(self) -> None:
        """On SIGCONT: back in the foreground (``fg``), the child gets the terminal again."""
        if self.fd is None or not self.suspended:
            return
        self.suspended = False
        if holds_foreground(self.fd):
            self._give(self.child)

    def release(self) -> None:
        """At exit: take the foreground back from the child's group if it still has it
        (or nobody does), so whatever started pyinit finds its terminal usable."""
        if self.fd is None:
            return
        pgrp = self._foreground()
        if pgrp not in (-1, posix.getpgrp()) and (pgrp == self.child or not signals.group_alive(pgrp)):
            self._give(posix.getpgrp())
