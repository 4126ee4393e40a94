"""The restart policy, as a pure function: what follows when a service's process has ended.

No process, no clock, no loop: :func:`decide` takes the spec, the history of
restarts, the exit code and the time, and returns the verdict with the new
history. The supervisor carries it out (a back-off timer, a give-up).

- ``restart = "no"``, or ``"on-failure"`` after exit 0: done.
- Otherwise a restart after an exponential back-off: ``backoff_initial``,
  doubled for each consecutive short run, at most ``backoff_max``; a run of
  at least ``backoff_reset`` starts the doubling over.
- Past ``start_limit`` restarts within ``start_limit_window`` (0: no limit): give up.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.services.spec import ServiceSpec

Action = Literal["restart", "give up", "done"]


class History(NamedTuple):
    """What the policy remembers of a service between two exits."""

    failures: int = 0  # consecutive short runs: the back-off's exponent
    restart_times: tuple[float, ...] = ()  # when each restart within the window was decided


class Decision(NamedTuple):
    action: Action
    delay: float  # for "restart": seconds before the service starts again
    history: History  # to keep for the next exit

    @property
    def restarts(self) -> int:
        """Restarts within the window, as the give-up reports them."""
        return len(self.history.restart_times)


def decide(spec: ServiceSpec, history: History, code: int, started_at: float, now: float) -> Decision:
    """The service that started at ``started_at`` ended with ``code`` (128+N: signal N) at ``now``."""
    failures = 0 if now - started_at >= spec.backoff_reset else history.failures
    if not (spec.restart == "always" or (spec.restart == "on-failure" and code != 0)):
        return Decision("done", 0.0, History(failures, history.restart_times))
    recent = tuple(t for t in history.restart_times if now - t < spec.start_limit_window)
    if spec.start_limit and len(recent) >= spec.start_limit:
        return Decision("give up", 0.0, History(failures, recent))
    # The exponent is capped: with no start limit, 2**1024 would not convert to a float.
    delay = min(spec.backoff_initial * 2 ** min(failures, 64), spec.backoff_max)
    return Decision("restart", delay, History(failures + 1, (*recent, now)))
