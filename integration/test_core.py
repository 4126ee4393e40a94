"""pyinit as PID 1 of a real PID namespace: exit codes, reaping, forwarding, a clean child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from support import PYINIT, RECORDER, Namespace, assert_never_wakes_up, ns_pid, proc_status, run_ns, wait_for

pytestmark = pytest.mark.timeout(60)


def test_pyinit_is_pid_1_and_child_is_pid_2() -> None:
    result = run_ns(["--", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"])
    assert result.returncode == 0, result.stderr
    pid, cmdline = result.stdout.splitlines()
    assert pid == "2"
    assert "pyinit" in cmdline


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["sh", "-c", "exit 0"], 0),
        (["sh", "-c", "exit 7"], 7),
        (["sh", "-c", "kill -TERM $$"], 128 + 15),
        (["sh", "-c", "kill -KILL $$"], 128 + 9),
        (["-e", "7", "sh", "-c", "exit 7"], 0),
        (["-e", "143", "sh", "-c", "kill -TERM $$"], 0),
        (["-e", "3", "sh", "-c", "exit 7"], 7),
    ],
)
def test_exit_status(args: list[str], code: int) -> None:
    assert run_ns(args).returncode == code


def test_command_not_found_is_127() -> None:
    result = run_ns(["no-such-command-xyz"])
    assert result.returncode == 127
    assert result.stderr.strip() == "pyinit: no-such-command-xyz: command not found"


def test_not_executable_is_126(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    result = run_ns([str(script)])
    assert result.returncode == 126
    assert str(script) in result.stderr and "Traceback" not in result.stderr


def test_not_an_executable_format_is_126(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\x01\x02 not an elf")
    junk.chmod(0o755)
    result = run_ns([str(junk)])
    assert result.returncode == 126
    assert "exec format" in result.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["-x", "true"], ["--bogus", "true"], ["-r", "NOPE:TERM", "true"], ["-e", "300", "true"], ["-r"], ["ctl"]],
)
def test_usage_errors_exit_2_with_one_line(args: list[str]) -> None:
    result = subprocess.run([PYINIT, *args], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("pyinit: ") and "--help" in lines[1]
    assert "Traceback" not in result.stderr


def test_ctl_after_double_dash_is_a_program() -> None:
    result = subprocess.run([PYINIT, "--", "ctl"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 127 and "ctl: command not found" in result.stderr


def test_option_parsing_stops_at_the_command() -> None:
    result = subprocess.run([PYINIT, "sh", "-c", "echo $0 $1", "-v", "-x"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert result.stdout.strip() == "-v -x"


def test_child_starts_clean() -> None:
    """Default dispositions, empty mask, only the fds pyinit was given, own process group."""
    script = (
        "grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
        "ps -o pid=,pgid= -p $$"
    )
    # An ignored SIGPIPE and SIGUSR1 in pyinit's parent must not reach the child either.
    result = run_ns(["--", "sh", "-c", script], preexec_fn=lambda: signal.signal(signal.SIGUSR1, signal.SIG_IGN))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SigBlk:", "0000000000000000"]
    assert lines[1].split() == ["SigIgn:", "0000000000000000"]
    # 0-2 from us, 3 is ls reading /proc/self/fd; nothing of pyinit's own.
    assert lines[2].split() == ["0", "1", "2", "3"]
    pid, pgid = lines[3].split()
    assert pid == pgid == "2"


def test_child_clean_even_when_pyinit_started_by_posix_spawn() -> None:
    """glibc's posix_spawn leaves signals 32 and 33 ignored; pyinit must not pass that on."""
    code = (
        "import os,sys; "
        f"pid = os.posix_spawn({PYINIT!r}, [{PYINIT!r}, 'sh', '-c', 'grep ^SigIgn /proc/self/status'], os.environ); "
        "_, status = os.waitpid(pid, 0); sys.exit(os.waitstatus_to_exitcode(status))"
    )
    result = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SigIgn:", "0000000000000000"]


def test_environment_cwd_and_umask_pass_through(tmp_path: Path) -> None:
    env = {**os.environ, "PYINIT_VERBOSITY": "0", "SOMETHING": "kept"}
    result = subprocess.run(
        [PYINIT, "sh", "-c", "echo $SOMETHING $PYINIT_VERBOSITY; pwd; umask"],
        capture_output=True,
        text=True,
        timeout=10,
        env=env,
        cwd=tmp_path,
        preexec_fn=lambda: os.umask(0o027),
    )
    assert result.stdout.split() == ["kept", "0", str(tmp_path), "0027"]


def test_orphan_storm_leaves_no_zombie() -> None:
    """Hundreds of double-forked orphans are all reaped by PID 1."""
    script = "for i in $(seq 300); do ( sleep 0.2 & ) ; done; sleep 1.5; ps -eo stat= | grep -c '^Z' || true"
    result = run_ns(["--", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_orphans_of_nsentered_processes_are_reaped(namespace: type[Namespace]) -> None:
    """A process that entered from outside has getppid() == 0; its orphans go to pyinit."""
    ns = namespace(["--", "sleep", "30"])
    ns.child_pid()
    result = ns.nsenter(
        "sh", "-c", "grep ^PPid /proc/$$/status; sleep 2 >/dev/null 2>&1 & echo $!", capture_output=True, text=True
    )
    ppid_line, orphan = result.stdout.splitlines()
    assert ppid_line.split() == ["PPid:", "0"]

    def in_namespace() -> list[psutil.Process]:
        found = []
        for p in psutil.Process(ns.init_pid).children():
            try:
                if ns_pid(p.pid) == int(orphan):
                    found.append(p)
            except OSError:  # reaped between the listing and the read: ESRCH, ENOENT
                continue
        return found

    adopted = wait_for(in_namespace)  # re-parented to pyinit, PID 1
    assert adopted[0].ppid() == ns.init_pid
    wait_for(lambda: not in_namespace())  # exited and reaped: not even a zombie remains


def _recorder(ns_args: list[str], tmp_path: Path, namespace: type[Namespace], *extra: str) -> tuple[Namespace, Path]:
    out = tmp_path / "signals"
    ns = namespace([*ns_args, "--", *RECORDER, str(out), *extra])
    wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
    return ns, out


def _received(out: Path) -> list[str]:
    return out.read_text().splitlines()[1:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH])
def test_signal_from_host_is_forwarded(sig: signal.Signals, tmp_path: Path, namespace: type[Namespace]) -> None:
    ns, out = _recorder([], tmp_path, namespace, "--exit-on", "SIGINT")
    ns.kill(sig)
    wait_for(lambda: sig.name in _received(out))
    ns.kill(signal.SIGINT)
    assert ns.wait() == 0
    assert _received(out) == [sig.name, "SIGINT"]


@pytest.mark.parametrize("sig", ["TERM", "HUP", "USR1", "WINCH"])
def test_signal_from_inside_is_forwarded(sig: str, tmp_path: Path, namespace: type[Namespace]) -> None:
    ns, out = _recorder([], tmp_path, namespace, "--exit-on", "SIGINT")
    ns.nsenter("kill", f"-{sig}", "1", check=True)
    wait_for(lambda: f"SIG{sig}" in _received(out))
    ns.nsenter("kill", "-INT", "1", check=True)
    assert ns.wait() == 0
    assert _received(out) == [f"SIG{sig}", "SIGINT"]


def test_forward_to_group_reaches_grandchildren(tmp_path: Path) -> None:
    out = tmp_path / "grandchild"
    script = f"trap '' USR1; {' '.join(RECORDER)} {out} --exit-on SIGUSR1 & wait $!; exit 0"
    ns = Namespace(["--", "sh", "-c", script])
    try:
        wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
        ns.kill(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1" in _received(out))
        assert ns.wait() == 0
    finally:
        ns.close()


def test_single_child_forwards_to_the_child_only(tmp_path: Path) -> None:
    out = tmp_path / "grandchild"
    script = f"trap 'exit 5' USR1; {' '.join(RECORDER)} {out} --exit-on SIGTERM & wait $!; wait $!"
    ns = Namespace(["-c", "--", "sh", "-c", script])
    try:
        wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
        ns.kill(signal.SIGUSR1)
        assert ns.wait() == 5
        # The grandchild was not sent SIGUSR1; only, once the child had exited, the teardown's SIGTERM.
        assert _received(out) == ["SIGTERM"]
    finally:
        ns.close()


def test_rewrite_maps_and_drops(tmp_path: Path, namespace: type[Namespace]) -> None:
    ns, out = _recorder(["-r", "USR1:USR2", "-r", "SIGHUP:0", "--rewrite", "15:INT"], tmp_path, namespace)
    ns.kill(signal.SIGUSR1)
    wait_for(lambda: "SIGUSR2" in _received(out))
    ns.kill(signal.SIGHUP)
    ns.kill(signal.SIGWINCH)
    wait_for(lambda: "SIGWINCH" in _received(out))
    ns.kill(signal.SIGTERM)
    wait_for(lambda: "SIGINT" in _received(out))
    assert _received(out) == ["SIGUSR2", "SIGWINCH", "SIGINT"]


def test_kill_9_from_inside_does_not_kill_pid_1(namespace: type[Namespace]) -> None:
    ns = namespace(["--", "sleep", "30"])
    ns.child_pid()
    ns.nsenter("kill", "-KILL", "1")
    time.sleep(0.3)
    assert ns.proc.poll() is None and psutil.pid_exists(ns.init_pid)
    assert proc_status(ns.init_pid)["State"][0] in "SR"


def test_subreaper_outside_a_namespace_adopts_orphans() -> None:
    proc = subprocess.Popen(
        [PYINIT, "--", "sh", "-c", "( sleep 2 & echo $! ); sleep 3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        orphan = int(proc.stdout.readline())
        # The orphan's parent is pyinit (a subreaper), not this machine's PID 1.
        wait_for(lambda: psutil.Process(orphan).ppid() == proc.pid)
        assert proc_status(proc.pid)["NSpid"]  # pyinit is an ordinary process here
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_idle_pid_1_never_wakes_up(namespace: type[Namespace]) -> None:
    ns = namespace(["--", "sleep", "30"])
    ns.child_pid()
    time.sleep(0.5)  # let start-up settle

    assert_never_wakes_up(ns.init_pid)


def test_signals_pyinit_causes_itself_are_not_forwarded(tmp_path: Path, namespace: type[Namespace]) -> None:
    """pyinit logging into a pipe nobody reads gets SIGPIPE from the kernel, sent in its own name."""
    read_end, write_end = os.pipe()
    out = tmp_path / "signals"
    ns = namespace(["-v", "--", *RECORDER, str(out), "--exit-on", "SIGINT"], stderr=write_end)
    os.close(write_end)
    wait_for(lambda: out.exists() and out.read_text().startswith("ready"))
    os.close(read_end)  # from now on every log line pyinit writes raises SIGPIPE in pyinit
    for sig in (signal.SIGUSR1, signal.SIGUSR2):
        ns.kill(sig)  # forwarded, and logged as forwarded
        wait_for(lambda sig=sig: sig.name in _received(out))
    ns.kill(signal.SIGINT)
    assert ns.wait() == 0
    assert _received(out) == ["SIGUSR1", "SIGUSR2", "SIGINT"]  # no SIGPIPE among them


def test_logs_are_quiet_by_default_and_json_on_request() -> None:
    script = "( sleep 0.1 & ) ; sleep 0.4"
    assert run_ns(["--", "sh", "-c", script]).stderr == ""
    result = run_ns(["-v", "--log-format", "json", "--", "sh", "-c", script])
    events = [json.loads(line) for line in result.stderr.splitlines()]
    names = [event["event"] for event in events]
    assert "spawned" in names and "child exited" in names
    reaped = [event for event in events if event["event"] == "reaped"]
    assert reaped and reaped[0]["pid"] > 2 and reaped[0]["exit_code"] == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("args", [["--help"], ["ctl", "--help"], ["--version"]])
def test_output_to_a_closed_pipe_is_a_quiet_141(args: list[str]) -> None:
    """`pyinit ctl --help | true`: the reader is gone before pyinit writes; no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([PYINIT, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=20)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
