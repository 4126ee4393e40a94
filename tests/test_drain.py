"""The drain before a stop, driven by the real loop's timers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyinit import drain, signals
from pyinit.loop import Loop

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def loop() -> Iterator[Loop]:
    made = Loop({signals.SIGHUP}, lambda *_: None)
    yield made
    made.close()


def run_until(loop: Loop, done: list[object]) -> None:
    while not done:
        loop.run_once()


def test_a_stop_request_waits_for_the_drain_and_readiness_goes_first(loop: Loop) -> None:
    passed: list[int] = []
    d = drain.Drain(loop, 0.05, passed.append)
    assert not d.ready  # starting: the child is not running yet
    d.running()
    assert d.ready
    d.stop_request(signals.SIGTERM)
    d.stop_request(signals.SIGINT)
    assert (d.state, d.ready, passed) == (drain.DRAINING, False, [])
    run_until(loop, passed)
    assert passed == [signals.SIGTERM, signals.SIGINT] and d.state == drain.DRAINED
    d.stop_request(signals.SIGTERM)  # after the drain: at once
    assert passed[-1] == signals.SIGTERM and len(passed) == 3


def test_wait_stop_waits_for_the_drain_under_way(loop: Loop) -> None:
    passed: list[int] = []
    answered: list[str] = []
    d = drain.Drain(loop, 0.05, passed.append)
    d.running()
    d.stop_request(signals.SIGTERM)
    d.announce(lambda: answered.append("first"))
    d.announce(lambda: answered.append("second"))
    assert not d.ready and answered == [] and passed == []
    run_until(loop, answered)
    assert answered == ["first", "second"] and passed == [signals.SIGTERM]


def test_wait_stop_without_a_pending_stop_returns_at_once_and_drains_nothing(loop: Loop) -> None:
    passed: list[int] = []
    answered: list[str] = []
    d = drain.Drain(loop, 30, passed.append)
    d.running()
    d.announce(lambda: answered.append("now"))
    assert answered == ["now"] and d.ready and d.state == drain.RUNNING and passed == []


def test_nothing_to_drain_without_a_delay(loop: Loop) -> None:
    passed: list[int] = []
    answered: list[str] = []
    d = drain.Drain(loop, 0, passed.append)
    d.running()
    d.announce(lambda: answered.append("now"))
    d.stop_request(signals.SIGTERM)
    assert answered == ["now"] and passed == [signals.SIGTERM] and d.ready


def test_the_end_releases_waiters_and_drops_held_requests(loop: Loop) -> None:
    passed: list[int] = []
    answered: list[str] = []
    d = drain.Drain(loop, 30, passed.append)
    d.running()
    d.stop_request(signals.SIGTERM)
    d.announce(lambda: answered.append("released"))
    d.ended()
    assert answered == ["released"] and passed == [] and not d.ready
