"""When the main child exits, pyinit stops what is left: stop signal, grace, SIGKILL, then exit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import HERE, PYINIT, RECORDER, Namespace, wait_for

pytestmark = pytest.mark.timeout(90)

SPAWNER = [sys.executable, str(HERE / "helpers" / "spawner.py")]
# Bounds are generous: two shared cores, other suites running.
SLACK = 3.0
ON_TERM = ["--exit-on", "SIGTERM"]  # recorder: exit 0 on SIGTERM
CLOCK = f"{sys.executable} -c 'import time; print(time.monotonic())'"  # in sh: when the main child ends


def _received(out: Path) -> list[str]:
    return out.read_text().splitlines()[1:]


def _pid(out: Path) -> int:
    return int(out.read_text().split()[1])


def _outs(prefix: Path, count: int) -> list[Path]:
    return [Path(f"{prefix}.{i}") for i in range(count)]


def _run(mode: str, args: list[str], **kw: object) -> tuple[subprocess.CompletedProcess[str], float]:
    """pyinit ARGS as PID 1 ("pid1"), PID 1 over the host's /proc ("hostproc"), or a subreaper
    (outside any new namespace, or inside one over the host's /proc: "nested-subreaper").

    Returns the result and the time from the main child's exit (it prints its monotonic clock
    last) to pyinit's exit.
    """
    prefix = {
        "pid1": ["unshare", "-fp", "--mount-proc"],
        "hostproc": ["unshare", "-fp"],
        "subreaper": [],
        # Not PID 1 (a shell is), in a namespace over the host's /proc: PIDs must be translated.
        "nested-subreaper": ["unshare", "-fp", "sh", "-c", '"$@"; exit $?', "sh"],
    }[mode]
    result = subprocess.run(
        [*prefix, PYINIT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kw,  # type: ignore[call-overload]
    )
    done = time.monotonic()
    lines = result.stdout.split()
    return result, done - float(lines[-1]) if lines else float("nan")


@pytest.fixture
def bystander(tmp_path: Path) -> Iterator[Path]:
    """A process outside pyinit's charge: it must receive nothing and survive."""
    out = tmp_path / "bystander"
    proc = subprocess.Popen([*RECORDER, str(out)])
    try:
        wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
        yield out
        assert proc.poll() is None, "the bystander died"
        assert _received(out) == [], "the bystander was signalled"
    finally:
        proc.kill()
        proc.wait()


def _gone(host_pid: int, cmdline: list[str]) -> bool:
    try:
        p = psutil.Process(host_pid)
        return p.status() == psutil.STATUS_ZOMBIE or p.cmdline() != cmdline
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("mode", ["pid1", "subreaper", "nested-subreaper"])
def test_processes_ignoring_term_are_killed_after_the_grace(mode: str, tmp_path: Path) -> None:
    prefix = tmp_path / "stubborn"
    grace = 2.0
    result, elapsed = _run(
        mode, ["--grace", str(grace), "--", *SPAWNER, "--count", "3", "--code", "7", str(prefix), "--ignore-term"]
    )
    assert result.returncode == 7, result.stderr  # still the main child's status
    assert grace <= elapsed < grace + SLACK
    # The operator is told who ignored SIGTERM: pid and command, at warning level.
    warnings = [line for line in result.stderr.splitlines() if "warning" in line and "killing" in line]
    named = {int(m.group(1)) for line in warnings if (m := re.search(r"\bpid=(\d+)", line))}
    pids = {_pid(out) for out in _outs(prefix, 3)}
    assert named == pids
    assert all("recorder.py" in line for line in warnings)
    if mode == "subreaper":  # as PID 1 the kernel would clean up anyway; here only pyinit can
        assert all(_gone(_pid(out), [*RECORDER, str(out), "--ignore-term"]) for out in _outs(prefix, 3))


@pytest.mark.parametrize("mode", ["pid1", "subreaper", "nested-subreaper"])
def test_processes_stopping_on_term_end_the_teardown_early(mode: str, tmp_path: Path) -> None:
    prefix = tmp_path / "polite"
    result, elapsed = _run(
        mode, ["--grace", "20", "--", *SPAWNER, "--count", "3", "--code", "5", str(prefix), "--exit-on", "SIGTERM"]
    )
    assert result.returncode == 5, result.stderr
    assert elapsed < 10  # event-driven: it does not sit out the 20 s
    assert all(_received(out) == ["SIGTERM"] for out in _outs(prefix, 3))
    assert "killing" not in result.stderr


def test_setsid_double_forked_daemon_is_stopped(tmp_path: Path) -> None:
    prefix = tmp_path / "daemon"
    result, elapsed = _run("pid1", ["--grace", "20", "--", *SPAWNER, "--daemon", str(prefix), "--exit-on", "SIGTERM"])
    assert result.returncode == 0, result.stderr
    assert _received(Path(f"{prefix}.0")) == ["SIGTERM"]
    assert elapsed < 10


def test_process_entered_with_nsenter_is_stopped(tmp_path: Path, namespace: type[Namespace]) -> None:
    main, visitor = tmp_path / "main", tmp_path / "visitor"
    ns = namespace(["--grace", "20", "--", *RECORDER, str(main), "--exit-on", "SIGUSR1"])
    wait_for(lambda: main.exists() and main.read_text().startswith("ready"))
    entered = subprocess.Popen(
        ["nsenter", "-t", str(ns.init_pid), "-p", "-m", *RECORDER, str(visitor), "--exit-on", "SIGTERM"]
    )
    try:
        wait_for(lambda: visitor.exists() and visitor.read_text().startswith("ready"))
        inside = psutil.Process(entered.pid).children()[0].pid
        assert psutil.Process(inside).ppid() == entered.pid  # its parent is outside the namespace
        ns.kill(signal.SIGUSR1)  # the main child exits
        assert ns.wait() == 0
        assert entered.wait(10) == 0
        assert _received(visitor) == ["SIGTERM"]  # stopped gracefully, not by the kernel's SIGKILL
    finally:
        entered.kill()
        entered.wait()


def test_namespace_over_the_host_proc_is_torn_down_and_the_host_untouched(tmp_path: Path, bystander: Path) -> None:
    prefix = tmp_path / "member"
    result, elapsed = _run(
        "hostproc",
        ["--grace", "20", "--", *SPAWNER, "--count", "3", "--code", "4", str(prefix), "--exit-on", "SIGTERM"],
    )
    assert result.returncode == 4, result.stderr
    assert all(_received(out) == ["SIGTERM"] for out in _outs(prefix, 3))
    assert elapsed < 10
    # bystander: checked by the fixture


def test_namespace_over_the_host_proc_kills_the_stubborn(tmp_path: Path, bystander: Path) -> None:
    prefix = tmp_path / "member"
    result, elapsed = _run("hostproc", ["--grace", "1", "--", *SPAWNER, "--count", "2", str(prefix), "--ignore-term"])
    assert result.returncode == 0, result.stderr
    assert 1 <= elapsed < 1 + SLACK
    assert result.stderr.count("killing it") == 2


def test_subreaper_stops_its_subtree_and_only_that(tmp_path: Path, bystander: Path) -> None:
    prefix = tmp_path / "descendant"
    result, elapsed = _run(
        "subreaper",
        ["--grace", "20", "--", *SPAWNER, "--daemon", "--count", "2", "--code", "3", str(prefix), *ON_TERM],
    )
    assert result.returncode == 3, result.stderr
    assert all(_received(out) == ["SIGTERM"] for out in _outs(prefix, 2))
    assert elapsed < 10


@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_two_hundred_background_processes_are_all_stopped(mode: str) -> None:
    script = f"for i in $(seq 200); do sleep 1000 & echo $!; done; {CLOCK}"
    result, elapsed = _run(mode, ["-v", "--grace", "20", "--", "sh", "-c", script + "; exit 6"])
    assert result.returncode == 6, result.stderr[-2000:]
    assert elapsed < 15
    pids = [int(pid) for pid in result.stdout.split()[:-1]]
    assert len(pids) == 200
    assert "killing" not in result.stderr  # every one went on SIGTERM
    reaped = re.findall(r"reaped .*pid=(\d+) signal=SIGTERM", result.stderr)
    assert sorted(map(int, reaped)) == sorted(pids)
    if mode == "subreaper":
        assert all(_gone(pid, ["sleep", "1000"]) for pid in pids)


def test_exit_status_of_a_child_killed_by_a_signal_survives_the_teardown() -> None:
    result = subprocess.run(
        ["unshare", "-fp", "--mount-proc", PYINIT, "--grace", "20", "--", "sh", "-c", "sleep 100 & kill -KILL $$"],
        timeout=30,
    )
    assert result.returncode == 128 + 9


def test_grace_zero_exits_at_once(tmp_path: Path) -> None:
    prefix = tmp_path / "stubborn"
    result, elapsed = _run("pid1", ["--grace", "0", "--", *SPAWNER, "--code", "2", str(prefix), "--ignore-term"])
    assert result.returncode == 2
    assert elapsed < SLACK
    assert "killing" not in result.stderr  # no teardown: the kernel's SIGKILL did it


def test_second_stop_request_during_teardown_kills_at_once(tmp_path: Path, namespace: type[Namespace]) -> None:
    prefix = tmp_path / "stubborn"
    ns = namespace(
        ["--grace", "40", "--", *SPAWNER, "--wait-stdin", str(prefix), "--ignore-term"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: Path(f"{prefix}.0").exists() and Path(f"{prefix}.0").read_text().startswith("ready"))
    main = psutil.Process(ns.init_pid).children()[0].pid
    ns.proc.stdin.close()  # type: ignore[union-attr]
    wait_for(lambda: not psutil.pid_exists(main))  # reaped: the teardown is under way
    started = time.monotonic()
    ns.kill(signal.SIGTERM)
    assert ns.wait() == 0
    assert time.monotonic() - started < 10  # not the 40 s grace
    assert "killing it" in ns.proc.stderr.read()  # type: ignore[union-attr]


def test_stop_delay_holds_the_stop_request_back(tmp_path: Path, namespace: type[Namespace]) -> None:
    out = tmp_path / "child"
    ns = namespace(["--stop-delay", "1.5", "--", *RECORDER, str(out), "--exit-on", "SIGTERM"])
    wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
    ns.kill(signal.SIGTERM)
    ns.kill(signal.SIGUSR1)  # sent after TERM, yet forwarded first: TERM waits for the delay
    wait_for(lambda: "SIGUSR1" in _received(out))
    assert _received(out) == ["SIGUSR1"]
    assert ns.wait() == 0
    assert _received(out) == ["SIGUSR1", "SIGTERM"]


def test_pdeathsig_forwards_to_the_child_when_the_parent_dies(tmp_path: Path, namespace: type[Namespace]) -> None:
    out = tmp_path / "child"
    ns = namespace(["--pdeathsig", "TERM", "--", *RECORDER, str(out), "--exit-on", "SIGTERM"])
    wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
    init = psutil.Process(ns.init_pid)
    cmdline = init.cmdline()
    try:
        ns.proc.kill()  # unshare, pyinit's parent
        ns.proc.wait()
        wait_for(lambda: "SIGTERM" in _received(out))
        wait_for(lambda: _gone(ns.init_pid, cmdline))  # and pyinit exited after its child
    finally:
        if init.is_running():
            os.kill(ns.init_pid, signal.SIGKILL)
    assert _received(out) == ["SIGTERM"]


def test_processes_forked_during_the_teardown_are_stopped_too(tmp_path: Path) -> None:
    """A process that starts another on SIGTERM, then exits: the re-scan must catch the newcomer."""
    late = tmp_path / "late"
    helper = f"{sys.executable} {HERE / 'helpers' / 'late.py'} {late}"
    script = f"{helper} & while [ ! -e {late}.ready ]; do sleep 0.05; done; {CLOCK}"
    result, _ = _run("subreaper", ["--grace", "20", "--", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    newcomer = int(late.read_text())
    assert _gone(newcomer, ["sleep", "1000"])
    assert "killing" not in result.stderr  # it went on the stop signal, within the grace
