"""pyinit's own personality: the defaults, wording and exit codes the others override.

Only this is loaded on the usual start; the tini and dumb-init personalities
(:mod:`pyinit.personalities`) are imported when the program's name or
``--compat`` asks for one of them.
"""

from pyinit import spawn
from pyinit.options import NATIVE_OPTIONS, Option, UsageError
from pyinit.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# The names that make pyinit answer as another init: dockerd --init-path and
# podman run --init inject theirs as docker-init and podman-init (both are tini).
PROGRAM_NAMES = {
    "tini": "tini",
    "docker-init": "tini",
    "podman-init": "tini",
    "dumb-init": "dumb-init",
}


class Personality:
    """pyinit itself; the others override what differs."""

    name = "pyinit"
    options: "Sequence[Option]" = NATIVE_OPTIONS

    def defaults(self, settings: Settings) -> None:
        pass

    def environment(self, settings: Settings, env: "Mapping[str, str]") -> None:
        pass

    def before_options(self, args: list[str]) -> None:
        pass

    def finish(self, settings: Settings) -> None:
        pass

    def usage_failure(self, program: str, error: UsageError) -> tuple[str, int]:
        """What to print on stderr for a bad command line, and the exit code."""
        return f"pyinit: {error}\nTry 'pyinit --help' for more information.\n", error.code

    def exec_failure(self, command: str, failure: spawn.SpawnError, pid: int) -> spawn.SpawnError:
        """The message and exit code when the command cannot be started (``failure`` from spawn)."""
        return spawn.SpawnError(failure.code, f"pyinit: {failure}", failure.errno, failure.step)


NATIVE = Personality()
