"""The same scenarios under each personality, invoked as a real drop-in would be:
through a symlink named tini / docker-init / dumb-init, or with --compat."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from support import PYINIT, RECORDER, Namespace, proc_status, wait_for

pytestmark = pytest.mark.timeout(60)

# What each mode does by default.
EXPECT = {
    "native": {"usage": 2, "not_found": 127, "not_executable": 126, "group": True, "session": False},
    "tini": {"usage": 1, "not_found": 127, "not_executable": 126, "group": False, "session": False},
    "dumb-init": {"usage": 1, "not_found": 2, "not_executable": 2, "group": True, "session": True},
}

# (mode, how it is invoked): a symlink name, or pyinit with --compat.
INVOCATIONS = [
    ("native", "pyinit"),
    ("tini", "tini"),
    ("tini", "docker-init"),
    ("tini", "--compat tini"),
    ("dumb-init", "dumb-init"),
    ("dumb-init", "--compat dumb-init"),
]
IDS = [how.replace(" ", "=") for _, how in INVOCATIONS]


def invoke(how: str, tmp_path: Path) -> list[str]:
    """The argv prefix that starts pyinit as ``how`` (a program name, or --compat NAME)."""
    if how == "pyinit":
        return [PYINIT]
    if how.startswith("--compat"):
        return [PYINIT, *how.split()]
    link = tmp_path / "bin" / how
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        link.symlink_to(PYINIT)
    return [str(link)]


@pytest.fixture(params=INVOCATIONS, ids=IDS)
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """The mode's name and the argv prefix that starts pyinit in it."""
    name, how = request.param
    return name, invoke(how, tmp_path)


class Launched(Namespace):
    """A Namespace whose init is started through ``prefix`` (a symlink or --compat)."""

    def __init__(self, prefix: list[str], args: list[str], **popen: object) -> None:
        popen.setdefault("stdin", subprocess.DEVNULL)  # no terminal: these scenarios are not about one
        self.proc = subprocess.Popen(["unshare", "-fp", "--mount-proc", *prefix, *args], **popen)  # type: ignore[call-overload]
        self.init_pid = wait_for(self._find_init)


def run(prefix: list[str], args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "-fp", "--mount-proc", *prefix, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def ready(out: Path) -> bool:
    return out.exists() and out.read_text().startswith("ready")


def received(out: Path) -> list[str]:
    return out.read_text().splitlines()[1:]


def state(pid: int) -> str:
    return proc_status(pid)["State"][0]


def test_exit_status_passes_through(mode: tuple[str, list[str]]) -> None:
    _, prefix = mode
    assert run(prefix, ["--", "sh", "-c", "exit 7"]).returncode == 7
    assert run(prefix, ["--", "sh", "-c", "kill -TERM $$"]).returncode == 128 + 15


def test_usage_error(mode: tuple[str, list[str]]) -> None:
    name, prefix = mode
    result = subprocess.run(prefix, capture_output=True, text=True, timeout=10)
    assert result.returncode == EXPECT[name]["usage"]
    assert result.stderr and "Traceback" not in result.stderr


def test_command_not_found(mode: tuple[str, list[str]]) -> None:
    name, prefix = mode
    result = run(prefix, ["--", "no-such-command-xyz"])
    assert result.returncode == EXPECT[name]["not_found"]
    line = result.stderr.strip()
    if name == "tini":  # the child's pid, in the namespace: 2
        assert line == "[FATAL tini (2)] exec no-such-command-xyz failed: No such file or directory"
    elif name == "dumb-init":
        assert line == "[dumb-init] no-such-command-xyz: No such file or directory"
    else:
        assert line == "pyinit: no-such-command-xyz: command not found"


def test_not_executable(mode: tuple[str, list[str]], tmp_path: Path) -> None:
    name, prefix = mode
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    result = run(prefix, ["--", str(script)])
    assert result.returncode == EXPECT[name]["not_executable"]
    assert "ermission denied" in result.stderr and "Traceback" not in result.stderr


def test_session_and_group(mode: tuple[str, list[str]]) -> None:
    """dumb-init puts the child in a session of its own; tini and pyinit in a group of their own."""
    name, prefix = mode
    result = run(prefix, ["--", "sh", "-c", "cat /proc/self/stat"])
    assert result.returncode == 0, result.stderr
    fields = result.stdout.rpartition(")")[2].split()
    pid, pgrp, session = 2, int(fields[2]), int(fields[3])  # the child is PID 2 of the namespace
    assert pgrp == pid
    assert (session == pid) == EXPECT[name]["session"]


# Each invocation with its defaults, then the flags and variables that switch
# the target: (invoked as, flags, variables, signals reach the group).
FORWARDING = [
    *((how, [], {}, EXPECT[name]["group"]) for name, how in INVOCATIONS),
    ("pyinit", ["-c"], {}, False),
    ("pyinit", [], {"PYINIT_SINGLE_CHILD": "1"}, False),
    ("tini", ["-g"], {}, True),
    ("--compat tini", [], {"TINI_KILL_PROCESS_GROUP": ""}, True),  # set, even empty, means on
    ("dumb-init", ["-c"], {}, False),
    ("--compat dumb-init", ["--single-child"], {}, False),
    ("dumb-init", [], {"DUMB_INIT_SETSID": "0"}, False),
]


@pytest.mark.parametrize(
    ("how", "extra", "env", "expected"),
    FORWARDING,
    ids=[f"{h.replace(' ', '=')}:{' '.join(e) or ','.join(v) or 'default'}" for h, e, v, _ in FORWARDING],
)
def test_forwarding_target(how: str, extra: list[str], env: dict[str, str], expected: bool, tmp_path: Path) -> None:
    prefix = invoke(how, tmp_path)
    out, marker = tmp_path / "grandchild", tmp_path / "child-got-it"
    script = f"trap 'touch {marker}' USR1; {' '.join(RECORDER)} {out} & wait $!; wait $!"
    ns = Launched(prefix, [*extra, "--", "sh", "-c", script], env={**os.environ, **env})
    try:
        wait_for(lambda: ready(out))
        ns.kill(signal.SIGUSR1)
        wait_for(marker.exists)  # the child always gets it
        if expected:
            wait_for(lambda: "SIGUSR1" in received(out))
        else:
            time.sleep(0.5)  # ample time for a signal that was sent to arrive
            assert received(out) == []
    finally:
        ns.close()


def test_job_control_signals_sent_to_pid_1(mode: tuple[str, list[str]]) -> None:
    """kill -TSTP: native and tini forward it, dumb-init stops the group; TTIN is dropped
    by native and tini and becomes SIGSTOP with dumb-init. PID 1 itself never stops."""
    name, prefix = mode
    ns = Launched(prefix, ["--", "sleep", "30"])
    try:
        child = ns.child_pid()
        ns.kill(signal.SIGTTIN)
        if name == "dumb-init":
            wait_for(lambda: state(child) == "T")
            ns.kill(signal.SIGCONT)
            wait_for(lambda: state(child) == "S")
        ns.kill(signal.SIGTSTP)
        wait_for(lambda: state(child) == "T")
        assert state(ns.init_pid) in "SR"
        ns.kill(signal.SIGCONT)
        wait_for(lambda: state(child) == "S")
        ns.kill(signal.SIGTERM)
        assert ns.wait() == 128 + 15
    finally:
        ns.close()


def test_dumb_init_not_pid_1_stops_with_its_child(tmp_path: Path) -> None:
    """Outside a namespace dumb-init's answer to TSTP is to stop the child and itself."""
    link = tmp_path / "dumb-init"
    link.symlink_to(PYINIT)
    proc = subprocess.Popen([str(link), "sleep", "30"])
    try:
        child = wait_for(lambda: psutil.Process(proc.pid).children() and psutil.Process(proc.pid).children()[0].pid)
        proc.send_signal(signal.SIGTSTP)
        wait_for(lambda: state(child) == "T" and state(proc.pid) == "T")
        proc.send_signal(signal.SIGCONT)
        wait_for(lambda: state(child) == "S" and state(proc.pid) in "SR")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 128 + 15
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("how", "env", "logs"),
    [
        ("tini", {}, False),  # tini's default verbosity 1: warnings only
        ("tini", {"TINI_VERBOSITY": "2"}, True),
        ("dumb-init", {}, False),
        ("dumb-init", {"DUMB_INIT_DEBUG": "1"}, True),
        ("dumb-init", {"DUMB_INIT_DEBUG": "yes"}, False),  # only "1" counts, as in dumb-init
    ],
)
def test_verbosity_variables(how: str, env: dict[str, str], logs: bool, tmp_path: Path) -> None:
    link = tmp_path / how
    link.symlink_to(PYINIT)
    result = run([str(link)], ["--", "true"], env=env)
    assert result.returncode == 0
    assert ("spawned" in result.stderr) == logs, result.stderr


def test_tini_warns_on_reaping_with_w(tmp_path: Path) -> None:
    link = tmp_path / "tini"
    link.symlink_to(PYINIT)
    # (sleep &) orphans the sleep: PID 1 reaps it, not the shell.
    quiet = run([str(link)], ["--", "sh", "-c", "(sleep 0.1 &); sleep 0.5"])
    loud = run([str(link)], ["-w", "--", "sh", "-c", "(sleep 0.1 &); sleep 0.5"])
    assert quiet.returncode == loud.returncode == 0
    assert "Reaped zombie process with pid=" not in quiet.stderr
    assert "Reaped zombie process with pid=" in loud.stderr  # tini's wording


def _ignore_hup_block_usr1() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})


@pytest.mark.parametrize(("how", "inherited"), [("tini", True), ("pyinit", False)])
def test_tini_child_keeps_the_signals_it_was_started_with(how: str, inherited: bool, tmp_path: Path) -> None:
    """tini gives its child the mask and ignored signals tini was started with
    (nohup's SIGHUP, say); pyinit's own mode starts the child clean."""
    prefix = invoke(how, tmp_path)
    result = subprocess.run(
        [*prefix, "--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_ignore_hup_block_usr1,
    )
    fields = dict(line.split(":") for line in result.stdout.splitlines())
    ignored, blocked = int(fields["SigIgn"], 16), int(fields["SigBlk"], 16)
    assert bool(ignored & 1 << (signal.SIGHUP - 1)) == inherited
    assert bool(blocked & 1 << (signal.SIGUSR1 - 1)) == inherited
    assert not ignored & 1 << (signal.SIGPIPE - 1)  # Python's own, never passed on


def test_pyinit_holds_no_working_directory(mode: tuple[str, list[str]], tmp_path: Path) -> None:
    """As dumb-init, pyinit moves to / once the child runs (a volume it was started in
    can be unmounted); the child still starts where it was asked to. dumb-init's own
    test resolves the symlink, so this holds in every mode."""
    _, prefix = mode
    script = "readlink /proc/$PPID/cwd; readlink /proc/$$/cwd"
    result = subprocess.run(
        [*prefix, "--", "sh", "-c", script], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert result.stdout.split() == ["/", str(tmp_path)]
