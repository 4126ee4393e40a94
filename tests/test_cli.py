"""Option parsing, environment, durations and exit-status mapping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyinit import cli, signals
from pyinit.reaper import exit_code

pytestmark = pytest.mark.timeout(10)


def parse(*args: str, env: dict[str, str] | None = None) -> cli.Settings:
    return cli.parse(["pyinit", *args], env or {})


def test_command_after_double_dash() -> None:
    assert parse("--", "-c", "x").command == ["-c", "x"]


def test_parsing_stops_at_first_non_option() -> None:
    s = parse("-v", "app", "-c", "--grace", "1")
    assert s.command == ["app", "-c", "--grace", "1"]
    assert s.verbosity == 1 and not s.single_child


def test_short_options_combine_and_take_attached_values() -> None:
    s = parse("-cvv", "-rUSR1:USR2", "-e", "3", "-e4", "x")
    assert s.single_child and s.verbosity == 2
    assert s.rewrite == {signals.parse("SIGUSR1"): signals.parse("SIGUSR2")}
    assert s.expect_exit == {3, 4}


def test_long_options_with_equals_or_separate_value() -> None:
    s = parse("--rewrite=TERM:0", "--grace", "500ms", "--stop-signal=INT", "--log-format", "json", "x")
    assert s.rewrite == {15: 0}
    assert s.grace == 0.5 and s.stop_signal == 2 and s.log_format == "json"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no command given"),
        (("-x", "a"), "unknown option: -x"),
        (("--nope", "a"), "unknown option: --nope"),
        (("-r",), "option -r needs a value"),
        (("-r", "TERM", "a"), "invalid rewrite"),
        (("-e", "256", "a"), "invalid exit code"),
        (("--grace", "soon", "a"), "invalid duration"),
        (("--log-format", "xml", "a"), "invalid log format"),
        (("--single-child=1", "a"), "takes no value"),
        (("ctl", "status"), "reserved for the control client"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(cli.UsageError, match=message) as caught:
        parse(*args)
    assert caught.value.code == 2


def test_environment_then_flags_win() -> None:
    env = {"PYINIT_VERBOSITY": "2", "PYINIT_LOG_FORMAT": "json", "PYINIT_SINGLE_CHILD": "1", "PYINIT_GRACE": "2s"}
    s = parse("x", env=env)
    assert (s.verbosity, s.log_format, s.single_child, s.grace) == (2, "json", True, 2.0)
    s = parse("--log-format", "console", "--grace", "0", "x", env=env)
    assert (s.log_format, s.grace) == ("console", 0.0)


def test_bad_environment_is_a_usage_error() -> None:
    with pytest.raises(cli.UsageError, match="environment"):
        parse("x", env={"PYINIT_GRACE": "forever"})


@pytest.mark.parametrize(("text", "seconds"), [("5", 5.0), ("2.5", 2.5), ("500ms", 0.5), ("5s", 5.0), ("2m", 120.0)])
def test_durations(text: str, seconds: float) -> None:
    assert cli.parse_duration(text) == seconds


def test_help_and_version_exit_early() -> None:
    with pytest.raises(cli.EarlyExit, match="usage: pyinit"):
        parse("--help")
    with pytest.raises(cli.EarlyExit, match=r"pyinit \d"):
        parse("--version")


@pytest.mark.parametrize(
    ("status", "code"),
    [(0, 0), (3 << 8, 3), (255 << 8, 255), (15, 143), (9, 137), (2 | 0x80, 130)],
)
def test_exit_code_mapping(status: int, code: int) -> None:
    assert os.WIFSIGNALED(status) or os.WIFEXITED(status)
    assert exit_code(status) == code


def test_relative_paths_are_anchored_where_pyinit_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pyinit moves to / before the child starts; the socket and the message are opened later.
    monkeypatch.chdir(tmp_path)
    s = cli.parse(["pyinit", "--control-socket", "c.sock", "--termination-log", "why", "true"], {})
    assert (s.control_socket, s.termination_log) == (str(tmp_path / "c.sock"), str(tmp_path / "why"))
    s = cli.parse(["pyinit", "--control-socket", "@abstract", "--termination-log", "", "true"], {})
    assert (s.control_socket, s.termination_log) == ("@abstract", "")
