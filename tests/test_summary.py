"""The termination message: at most 4096 bytes, most important first, the newest output kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyinit import summary
from pyinit.summary import Report

pytestmark = pytest.mark.timeout(10)


def test_most_important_first() -> None:
    report = Report(137, "the main child (pid 7: app) was killed by SIGKILL", True, ["pid 9 (sleep)"])
    lines = summary.text(report).splitlines()
    assert lines[0] == "pyinit exited with status 137: the main child (pid 7: app) was killed by SIGKILL"
    assert lines[1].startswith("oom_killed=true")
    assert lines[2] == "SIGKILLed after the grace period: pid 9 (sleep)"


def test_no_oom_line_when_unknown_or_false() -> None:
    for verdict in (None, False):
        assert "oom_killed" not in summary.text(Report(137, "killed", verdict))
    assert Report(1, "x", None).fields() == {"exit_code": 1, "cause": "x"}
    assert Report(137, "x", False).fields()["oom_killed"] is False


def test_cut_to_fit_keeps_the_newest_output() -> None:
    tail = [f"line {i} " + "x" * 90 for i in range(200)]
    message = summary.text(Report(1, "critical service web exited with status 1", tail=tail, tail_of="web"))
    assert len(message.encode()) <= summary.LIMIT
    lines = message.splitlines()
    assert lines[0].startswith("pyinit exited with status 1")
    assert lines[1] == "last stderr lines of web:"
    assert lines[-1].startswith("  line 199 ")
    assert len(lines) > 30  # filled, not emptied


def test_a_huge_cause_is_cut_inside_the_line_on_a_character_boundary() -> None:
    message = summary.text(Report(1, "é" * 5000, tail=["lost"]))
    assert len(message.encode()) <= summary.LIMIT
    assert message.endswith("é\n") and "lost" not in message


def test_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary, "DEFAULT_TERMINATION_LOG", str(tmp_path / "termination-log"))
    assert summary.target(None) is None  # no such file: not on Kubernetes
    (tmp_path / "termination-log").touch()
    assert summary.target(None) == str(tmp_path / "termination-log")
    assert summary.target("") is None
    assert summary.target("/x/y") == "/x/y"


def test_write_replaces_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("old content that is longer\n")
    summary.write(str(path), "new\n")
    assert path.read_text() == "new\n"
    summary.write(str(tmp_path / "no" / "dir"), "x")  # logged, not raised
