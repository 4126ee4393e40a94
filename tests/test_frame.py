"""The frame's signal triage: every signal is sorted once, whichever mode runs inside."""

from __future__ import annotations

import os
import signal

import pytest

from pyinit import signals
from pyinit.init import Frame
from pyinit.personality import NATIVE
from pyinit.settings import Settings

OTHER = os.getpid() + 1  # a sender that is not pyinit


class Recorder:
    """A mode that writes down what the frame asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, frame: Frame) -> None:
        self.calls.append(("start", 0))

    def after_reap(self) -> None:
        self.calls.append(("after_reap", 0))

    def forward(self, sig: int) -> None:
        self.calls.append(("forward", sig))

    def stop_requested(self, sig: int) -> None:
        self.calls.append(("stop_requested", sig))

    def hurry(self, sig: int) -> None:
        self.calls.append(("hurry", sig))

    def exit_code(self) -> int:
        return 7

    def close(self) -> None:
        self.calls.append(("close", 0))


class CountingReaper:
    def __init__(self) -> None:
        self.reaps = 0
        self.children = True  # someone is left: end() has a teardown to run

    def reap(self) -> None:
        self.reaps += 1

    def has_children(self) -> bool:
        return self.children


class FakeTeardown:
    def __init__(self) -> None:
        self.hurried = 0

    def hurry(self) -> None:
        self.hurried += 1


@pytest.fixture
def frame() -> tuple[Frame, Recorder, CountingReaper]:
    frame = Frame(Settings(NATIVE))
    mode, reaper = Recorder(), CountingReaper()
    frame.mode = mode
    frame.reaper = reaper  # type: ignore[assignment]
    return frame, mode, reaper


@pytest.mark.timeout(10)
def test_sigchld_reaps_then_tells_the_mode(frame: tuple[Frame, Recorder, CountingReaper]) -> None:
    f, mode, reaper = frame
    f.on_signal(signals.SIGCHLD, OTHER)
    assert reaper.reaps == 1
    assert mode.calls == [("after_reap", 0)]


@pytest.mark.timeout(10)
def test_signals_pyinit_caused_are_dropped(frame: tuple[Frame, Recorder, CountingReaper]) -> None:
    f, mode, _ = frame
    f.on_signal(signals.SIGHUP, os.getpid())
    f.on_signal(signals.SIGTERM, os.getpid())
    f.on_signal(signal.SIGUSR1, OTHER)  # the fence: a signal from elsewhere still arrives
    assert mode.calls == [("forward", signal.SIGUSR1)]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("sig", sorted(signals.STOP_REQUESTS))
def test_first_stop_request_stops_the_mode_later_ones_hurry_it(
    frame: tuple[Frame, Recorder, CountingReaper], sig: int
) -> None:
    f, mode, _ = frame
    f.on_signal(sig, OTHER)
    f.on_signal(sig, 0)  # sent from an ancestor namespace: si_pid reads 0
    f.on_signal(signals.SIGINT, OTHER)
    assert mode.calls == [("stop_requested", sig), ("hurry", sig), ("hurry", signals.SIGINT)]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("sig", [signals.SIGHUP, signal.SIGUSR1, signal.SIGWINCH, signals.SIGTSTP, 34])
def test_everything_else_is_the_modes_to_forward(frame: tuple[Frame, Recorder, CountingReaper], sig: int) -> None:
    f, mode, _ = frame
    f.on_signal(sig, OTHER)
    assert mode.calls == [("forward", sig)]


@pytest.mark.timeout(10)
def test_once_the_work_is_over_stop_requests_hurry_the_teardown(
    frame: tuple[Frame, Recorder, CountingReaper],
) -> None:
    f, mode, reaper = frame
    teardown = FakeTeardown()
    f.ending, f.teardown = True, teardown  # type: ignore[assignment]
    f.on_signal(signal.SIGUSR1, OTHER)
    f.on_signal(signals.SIGTERM, OTHER)
    f.on_signal(signals.SIGCHLD, OTHER)  # reaping goes on to the end
    assert teardown.hurried == 1
    assert reaper.reaps == 1
    assert mode.calls == [("after_reap", 0)]  # nothing forwarded, no stop request for the mode


@pytest.mark.timeout(10)
def test_end_without_teardown_finishes_at_once(frame: tuple[Frame, Recorder, CountingReaper]) -> None:
    f, _, _ = frame
    f.end(teardown=False)
    assert f.finished and f.teardown is None
    f.end()  # a second end changes nothing
    assert f.teardown is None


@pytest.mark.timeout(10)
def test_end_starts_the_teardown_from_the_loop_not_from_the_caller(
    frame: tuple[Frame, Recorder, CountingReaper],
) -> None:
    f, _, _ = frame
    f.settings.grace = 0.5
    f.end()
    assert f.teardown is not None
    assert f.teardown.phase == "idle"  # scheduled, not started inside end() (which may run inside a reap)
    assert not f.finished
    f.loop.close()


@pytest.mark.timeout(10)
def test_end_with_nobody_left_finishes_without_a_teardown(frame: tuple[Frame, Recorder, CountingReaper]) -> None:
    f, _, reaper = frame
    f.settings.grace = 0.5
    reaper.children = False
    f.pid = 4242  # a subreaper: no child means no descendant (as PID 1, /proc must list only us too)
    f.end()
    assert f.teardown is None
    assert f.finished
