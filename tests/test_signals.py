"""Signal names, numbers and rewrite maps."""

from __future__ import annotations

import signal

import pytest

from pyinit import signals

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("text", ["TERM", "SIGTERM", "sigterm", "term", "15", " TERM "])
def test_parse_spellings(text: str) -> None:
    assert signals.parse(text) == signal.SIGTERM


def test_realtime_signals() -> None:
    assert signals.parse("RTMIN+2") == signal.SIGRTMIN + 2
    assert signals.parse("SIGRTMAX-1") == signal.SIGRTMAX - 1
    assert signals.name(signal.SIGRTMIN + 3) == "SIGRTMIN+3"


@pytest.mark.parametrize("text", ["NOPE", "0", "65", "-1", "", "RTMIN+99"])
def test_invalid(text: str) -> None:
    with pytest.raises(signals.SignalError):
        signals.parse(text)


def test_names_are_the_kernels() -> None:
    assert signals.name(6) == "SIGABRT"
    assert signals.name(17) == "SIGCHLD"
    assert signals.name(29) == "SIGIO"


def test_rewrite_table() -> None:
    assert signals.parse_rewrite("USR1:HUP") == (signal.SIGUSR1, signal.SIGHUP)
    assert signals.parse_rewrite("TERM:0") == (signal.SIGTERM, 0)
    table = dict([signals.parse_rewrite("TERM:INT")])
    assert signals.rewrite(signal.SIGTERM, table) == signal.SIGINT
    assert signals.rewrite(signal.SIGHUP, table) == signal.SIGHUP


def test_catchable_excludes_kill_and_stop() -> None:
    sigs = signals.catchable()
    assert signal.SIGKILL not in sigs and signal.SIGSTOP not in sigs
    assert signal.SIGTERM in sigs and signal.SIGCHLD in sigs
