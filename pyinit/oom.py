"""Did the kernel's OOM killer end that process?

A death by SIGKILL alone does not say: ``kill -9``, a runtime's stop timeout
and the OOM killer all look the same in a wait status. The memory cgroup
counts its OOM kills (``oom_kill`` in cgroup v2 ``memory.events``, in cgroup
v1 ``memory.oom_control``), so pyinit reads that counter when it starts and
again at each SIGKILL death it did not cause: a higher count means the OOM
killer struck since the last look. Without a readable counter the verdict is
None and nothing is said: pyinit never guesses.

The counter is the cgroup's, not the process's: an OOM kill of a grandchild
pyinit never hears of makes the next SIGKILL death it does hear of count as
one. Each kill counted is given to one death only.
"""

import posix

from pyinit import cgroup
from pyinit.spawn import OOM_SCORE_STEP

MAX_ADJ = 1000


class OomCounter:
    """The memory cgroup's OOM kills, and the ones not yet given to a death."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            found = cgroup.memory_directory()
            if found is not None:
                directory, version = found
                path = f"{directory}/{'memory.events' if version == 2 else 'memory.oom_control'}"
        self.path = path
        self.seen = self.read()
        self.unclaimed = 0

    def read(self) -> int | None:
        return None if self.path is None else cgroup.read_key(self.path, "oom_kill")

    def verdict(self) -> bool | None:
        """For a SIGKILL death just reaped: True when an OOM kill not yet claimed happened,
        False when none did, None when the counter cannot be read (or could not at start)."""
        if self.seen is None:
            return None
        now = self.read()
        if now is None:
            return None
        self.unclaimed += max(now - self.seen, 0)
        self.seen = now
        if self.unclaimed:
            self.unclaimed -= 1
            return True
        return False


def killed_by_sigkill(status: int) -> bool:
    return posix.WIFSIGNALED(status) and posix.WTERMSIG(status) == 9


def child_score_adj(own: int) -> int:
    """The documented default for pyinit's children (set by spawn): its own value plus OOM_SCORE_STEP."""
    return min(own + OOM_SCORE_STEP, MAX_ADJ)
