"""The one place that waits for children.

Every exit status in pyinit passes through :meth:`Reaper.reap`, which hands it
to whoever registered the pid (the main child, a service, a probe) or logs it
as a reaped orphan. Nothing else may call ``waitpid``: two waiters steal each
other's statuses.
"""

import posix

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    ExitCallback = Callable[[int, int], None]


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    if posix.WIFSIGNALED(status):
        return 128 + posix.WTERMSIG(status)
    if posix.WIFEXITED(status):
        return posix.WEXITSTATUS(status)
    return 1


def describe(status: int) -> dict[str, int | str]:
    if posix.WIFSIGNALED(status):
        from pyinit import signals

        return {"signal": signals.name(posix.WTERMSIG(status))}
    return {"exit_code": posix.WEXITSTATUS(status)}


def describe_status(status: int) -> str:
    """For people: "exit 3", "killed by SIGKILL" (ctl status's LAST EXIT)."""
    fields = describe(status)
    if "signal" in fields:
        return f"killed by {fields['signal']}"
    return f"exit {fields['exit_code']}"


class Reaper:
    def __init__(self) -> None:
        self._owners: dict[int, ExitCallback] = {}
        self.on_orphan: ExitCallback | None = None

    def watch(self, pid: int, callback: "ExitCallback") -> None:
        """Call ``callback(pid, status)`` when ``pid`` is reaped."""
        self._owners[pid] = callback

    def has_children(self) -> bool:
        """Whether pyinit has any child, running or not yet reaped (the status is left in place)."""
        try:
            posix.waitid(posix.P_ALL, 0, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
        except ChildProcessError:
            return False
        return True

    def reap(self) -> None:
        """Collect every child that has exited."""
        verbose = log.enabled(log.INFO)  # asked once per reap, not per zombie: a burst brings thousands
        while True:
            try:
                pid, status = posix.waitpid(-1, posix.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            owner = self._owners.pop(pid, None)
            try:
                if owner is not None:
                    owner(pid, status)
                    continue
                if verbose:
                    log.info("reaped", pid=pid, **describe(status))
                if self.on_orphan is not None:
                    self.on_orphan(pid, status)
            except Exception as exc:  # the rest must still be reaped
                log.error("internal error while reaping; carrying on", pid=pid, error=repr(exc))
