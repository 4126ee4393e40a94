"""The loop's wait: its timeout comes from the nearest deadline."""

from __future__ import annotations

import pytest

from pyinit import signals
from pyinit.loop import MAX_WAIT, Loop

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("delay", [1e9, 1e300, float("inf")])
def test_a_far_deadline_waits_no_longer_than_epoll_takes(delay: float) -> None:
    loop = Loop({signals.SIGHUP}, lambda *_: None)
    try:
        loop.call_later(delay, lambda: None)
        assert loop._timeout() == MAX_WAIT
        assert MAX_WAIT * 1000 <= 2**31 - 1  # epoll_wait's int of milliseconds
    finally:
        loop.close()
