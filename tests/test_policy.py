"""The restart policy as a pure function: no process, no clock."""

from __future__ import annotations

import pytest

from pyinit.services.policy import Decision, History, decide
from pyinit.services.spec import ServiceSpec

pytestmark = pytest.mark.timeout(10)


def spec(**values: object) -> ServiceSpec:
    made = ServiceSpec("s")
    made.backoff_initial, made.backoff_max, made.backoff_reset = 0.5, 30.0, 10.0
    made.start_limit, made.start_limit_window = 5, 60.0
    for key, value in values.items():
        setattr(made, key, value)
    return made


def crash_loop(s: ServiceSpec, count: int, run: float = 1.0, code: int = 1) -> list[Decision]:
    """``count`` runs of ``run`` seconds each, restarted as soon as the back-off allows."""
    history, now, decisions = History(), 1000.0, []
    for _ in range(count):
        started = now
        now += run
        decision = decide(s, history, code, started, now)
        decisions.append(decision)
        history = decision.history
        now += decision.delay
    return decisions


@pytest.mark.parametrize(
    ("restart", "code", "action"),
    [
        ("no", 0, "done"),
        ("no", 1, "done"),
        ("no", 137, "done"),
        ("on-failure", 0, "done"),
        ("on-failure", 1, "restart"),
        ("on-failure", 143, "restart"),  # killed by a signal is a failure
        ("always", 0, "restart"),
        ("always", 2, "restart"),
    ],
)
def test_which_exits_restart(restart: str, code: int, action: str) -> None:
    assert decide(spec(restart=restart), History(), code, 0.0, 1.0).action == action


def test_back_off_doubles_up_to_its_maximum() -> None:
    delays = [d.delay for d in crash_loop(spec(backoff_max=3.0, start_limit=0), 6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_a_long_run_starts_the_back_off_over() -> None:
    s = spec()
    history = crash_loop(s, 3)[-1].history
    assert history.failures == 3
    assert decide(s, history, 1, 0.0, 9.9).delay == 4.0  # a short run: doubling on
    again = decide(s, history, 1, 0.0, 10.0)  # ran backoff_reset: from the start
    assert again.delay == 0.5 and again.history.failures == 1


def test_start_limit_gives_up_after_that_many_restarts() -> None:
    decisions = crash_loop(spec(start_limit=3), 5)
    assert [d.action for d in decisions] == ["restart", "restart", "restart", "give up", "give up"]
    assert decisions[3].restarts == 3


def test_restarts_leave_the_window_as_it_slides() -> None:
    s = spec(start_limit=2, start_limit_window=5.0, backoff_initial=0.0)
    first = decide(s, History(), 1, 0.0, 1.0)
    second = decide(s, first.history, 1, 1.0, 2.0)
    assert decide(s, second.history, 1, 2.0, 3.0).action == "give up"  # two restarts in 5 s
    late = decide(s, second.history, 1, 2.0, 6.5)  # the first left the window
    assert late.action == "restart" and late.history.restart_times == (2.0, 6.5)


def test_no_start_limit_never_gives_up_and_never_overflows() -> None:
    s = spec(start_limit=0, backoff_initial=0.5, backoff_max=30.0)
    history = History(failures=5000)
    decision = decide(s, history, 1, 0.0, 1.0)
    assert decision.action == "restart" and decision.delay == 30.0


def test_done_keeps_the_history_for_a_later_start() -> None:
    s = spec(restart="on-failure")
    history = History(failures=2, restart_times=(1.0, 2.0))
    done = decide(s, history, 0, 0.0, 3.0)
    assert done == Decision("done", 0.0, history)
