"""Container-platform features with the real pyinit: the abstract control socket,
``pyinit doctor``, the termination message, OOM attribution in a real memory cgroup,
and the drain before a stop. Each as PID 1 of ``unshare -fp --mount-proc``, and
where it differs, as a subreaper."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import PYINIT, RECORDER, Namespace, proc_status, run_ns, wait_for

from pyinit import cgroup

pytestmark = pytest.mark.timeout(60)

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def in_netns(pid: int, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command in the network namespace of ``pid`` (where its abstract sockets live)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *command], capture_output=True, text=True, timeout=timeout)


# -- the abstract control socket ---------------------------------------------------


@pytest.fixture
def public_dir(others_can_run_pyinit: None) -> Iterator[Path]:
    """A directory uid 65534 can read (pytest's tmp_path lives under a 0700 one)."""
    made = Path(tempfile.mkdtemp(prefix="pyinit-itest-"))
    made.chmod(0o755)
    yield made
    shutil.rmtree(made)


def test_non_root_without_a_writable_socket_directory_listens_on_the_abstract_name(public_dir: Path) -> None:
    """As uid 65534, /run takes no file: pyinit serves @PATH, writes nothing, and
    `pyinit ctl` finds it there without being told."""
    path = f"/run/pyinit-itest-{uuid.uuid4().hex[:10]}.sock"
    conf = public_dir / "services.toml"
    conf.write_text('[services.sleeper]\ncommand = ["sleep", "infinity"]\n')
    pyinit = [PYINIT, "-v", "--control-socket", path, "--config", str(conf)]
    proc = subprocess.Popen(
        ["unshare", "-n", "-fp", "--mount-proc", *NOBODY, *pyinit], stderr=subprocess.PIPE, text=True
    )
    try:
        client = [*NOBODY, PYINIT, "ctl", "--control-socket", path]
        status = wait_for(lambda: (r := in_netns(proc.pid, *client, "status")).returncode == 0 and r, timeout=20)
        assert status.stdout.split("\n")[1].split()[:2] == ["sleeper", "ready"]
        assert in_netns(proc.pid, *client, "ready").returncode == 0
        assert not os.path.exists(path)
        # Outside its network namespace there is nothing: the name is the container's own.
        outside = subprocess.run([PYINIT, "ctl", "--control-socket", path, "status"], capture_output=True, timeout=30)
        assert outside.returncode == 3
    finally:
        init = psutil.Process(proc.pid).children()
        if init:
            init[0].terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"@{path}" in err  # the log names the address in use


def test_a_stale_file_or_missing_directory_falls_back_too(tmp_path: Path, namespace: type[Namespace]) -> None:
    path = tmp_path / f"no-such-dir-{uuid.uuid4().hex[:8]}" / "ctl.sock"
    conf = tmp_path / "services.toml"
    conf.write_text('[services.sleeper]\ncommand = ["sleep", "infinity"]\n')
    ns = namespace(["--control-socket", str(path), "--config", str(conf)])
    ready = [PYINIT, "ctl", "--control-socket", str(path), "ready"]
    wait_for(lambda: subprocess.run(ready, capture_output=True, timeout=30).returncode == 0, timeout=20)
    ns.kill(15)
    assert ns.wait() == 0


# -- pyinit doctor -------------------------------------------------------------------


def test_doctor_as_pid_1_and_under_pyinit(tmp_path: Path) -> None:
    alone = run_ns(["doctor", "--termination-log", str(tmp_path / "t")], timeout=30)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    rows = {line.split()[1]: line.split()[0] for line in alone.stdout.splitlines()[:-1]}
    assert rows["PID"] == "ok" and rows["signals"] == "ok" and rows["termination"] == "ok"
    assert "this process is PID 1" in alone.stdout
    below = run_ns(["--", PYINIT, "doctor"], timeout=30)
    assert below.returncode == 0 and "pyinit is PID 1" in below.stdout, below.stdout


def test_doctor_fails_what_the_settings_need(tmp_path: Path) -> None:
    unwritable = "/proc/1/no-such-termination-log"
    doctor = [PYINIT, "doctor", "--termination-log", unwritable]
    result = subprocess.run(doctor, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stdout
    assert any(line.startswith("FAIL  termination") for line in result.stdout.splitlines())
    bad = subprocess.run([PYINIT, "doctor", "--grace", "soon"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# -- helpers: pyinit as PID 1 of a new PID namespace, or as a subreaper -------------


class Pyinit:
    """pyinit running in the background: ``where`` "ns" (PID 1 of ``unshare -fp
    --mount-proc``) or "subreaper" (a plain child of the test)."""

    def __init__(self, where: str, args: list[str], prefix: list[str] | None = None, **popen: object) -> None:
        unshare = ["unshare", "-fp", "--mount-proc"] if where == "ns" else []
        command = [*(prefix or []), *unshare, PYINIT, *args]
        self.proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]
        # The prefix execs what follows; unshare forks pyinit as its only child.
        self.pid = wait_for(self._find) if where == "ns" else self.proc.pid

    def _find(self) -> int | None:
        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return None
        return kids[0].pid if kids else None

    def kill(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 30) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.communicate(timeout=10)


@pytest.fixture
def pyinit() -> Iterator[type[Pyinit]]:
    made: list[Pyinit] = []

    class Tracked(Pyinit):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    yield Tracked
    for p in made:
        p.close()


def ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYINIT, "ctl", "--control-socket", str(sock), *args], capture_output=True, text=True, timeout=30
    )


def events(stderr: str) -> dict[str, dict[str, object]]:
    """The JSON log's events by name (the last of each)."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            found[str(event["event"])] = event
    return found


WHERE = pytest.mark.parametrize("where", ["ns", "subreaper"])


# -- the termination message -----------------------------------------------------------


@WHERE
def test_termination_message_says_why_and_who_was_killed(where: str, tmp_path: Path, pyinit: type[Pyinit]) -> None:
    """The child exits 3 and leaves a process that ignores SIGTERM: the message says both,
    the exit status first, and the same text is the `exit summary` event."""
    message = tmp_path / "termination-log"
    script = "sh -c 'trap \"\" TERM; exec sleep 60' & sleep 0.2; exit 3"
    p = pyinit(
        where,
        ["--log-format", "json", "-v", "--grace", "0.5", "--termination-log", str(message), "--", "sh", "-c", script],
    )
    code, err = p.wait()
    assert code == 3, err
    lines = message.read_text().splitlines()
    assert lines[0].startswith("pyinit exited with status 3: the main child (pid ")
    assert lines[0].endswith(": sh) exited with status 3")
    assert lines[1].startswith("SIGKILLed after the grace period: pid ") and "(sleep 60)" in lines[1]
    summary = events(err)["exit summary"]
    assert summary["summary"] == "\n".join(lines) and summary["exit_code"] == 3
    assert "oom_killed" not in summary  # not a SIGKILL death: nothing to say


@WHERE
def test_termination_message_from_the_environment_and_for_a_missing_command(
    where: str, tmp_path: Path, pyinit: type[Pyinit]
) -> None:
    message = tmp_path / "termination-log"
    env = {**os.environ, "PYINIT_TERMINATION_LOG": str(message)}
    code, err = pyinit(where, ["--", "no-such-command-xyz"], env=env).wait()
    assert code == 127 and err.strip() == "pyinit: no-such-command-xyz: command not found"
    assert message.read_text() == (
        "pyinit exited with status 127: the command could not be started: "
        "pyinit: no-such-command-xyz: command not found\n"
    )
    message.unlink()
    code, _ = pyinit(where, ["--termination-log", "", "--", "true"], env=env).wait()
    assert code == 0 and not message.exists()  # '' wins over the environment: none written


def test_termination_message_of_the_services_mode(tmp_path: Path, pyinit: type[Pyinit]) -> None:
    message = tmp_path / "termination-log"
    conf = tmp_path / "services.toml"
    conf.write_text(
        '[services.db]\ncommand = ["sleep", "60"]\n'
        '[services.web]\ncommand = ["sh", "-c", "echo up; echo boom >&2; sleep 0.3; exit 4"]\n'
        'critical = true\nrestart = "no"\noutput = "prefix"\n'
    )
    args = ["--control-socket", str(tmp_path / "ctl.sock"), "--termination-log", str(message), "--config", str(conf)]
    code, err = pyinit("ns", args).wait()
    assert code == 4, err
    assert message.read_text() == (
        "pyinit exited with status 4: critical service web ended (exit 4)\nlast stderr lines of web:\n  boom\n"
    )


# -- OOM attribution in a real memory cgroup --------------------------------------------

LIMIT = 64 << 20
# Touches every page, far over the limit; after pyinit's first reading of the counter (20 ms in).
HOG = ["python3", "-c", "import time; time.sleep(0.2); b = bytearray(512 << 20)"]


@pytest.fixture
def memory_cgroup() -> Iterator[Path]:
    """A memory cgroup with a 64 MiB limit and no swap (v1 or v2, as this machine has)."""
    found = cgroup.memory_directory()
    if found is None:
        pytest.skip("no memory cgroup mounted")
    parent, version = found
    if version == 2:  # a v2 cgroup with processes cannot delegate: use the hierarchy's root
        parent = next(p for r, p, t, _ in cgroup._mounts("self") if t == "cgroup2")
    made = Path(parent) / f"pyinit-itest-{uuid.uuid4().hex[:8]}"
    made.mkdir()
    try:
        if version == 2:
            (made / "memory.max").write_text(str(LIMIT))
            if (made / "memory.swap.max").exists():
                (made / "memory.swap.max").write_text("0")
        else:
            (made / "memory.limit_in_bytes").write_text(str(LIMIT))
    except OSError as exc:
        made.rmdir()
        pytest.skip(f"cannot limit a memory cgroup here: {exc}")
    yield made
    wait_for(lambda: not (made / "cgroup.procs").read_text().strip(), timeout=10)
    made.rmdir()


def inside(group: Path) -> list[str]:
    """A command prefix that moves itself into ``group`` and execs the rest."""
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group)]


@WHERE
def test_an_oom_killed_child_is_named_and_pyinit_survives(
    where: str, tmp_path: Path, memory_cgroup: Path, pyinit: type[Pyinit]
) -> None:
    message = tmp_path / "termination-log"
    args = ["--log-format", "json", "-v", "--termination-log", str(message), "--", *HOG]
    code, err = pyinit(where, args, prefix=inside(memory_cgroup)).wait(60)
    assert code == 137, err
    found = events(err)
    exited = found["child exited"]
    assert exited["signal"] == "SIGKILL" and exited["oom_killed"] is True and exited["level"] == "warning"
    assert found["exit summary"]["oom_killed"] is True
    # pyinit itself was spared (it wrote its message), and the kernel counted the kill
    lines = message.read_text().splitlines()
    assert lines[0].endswith(": python3) was killed by SIGKILL")
    assert lines[1].startswith("oom_killed=true")
    counter = "memory.events" if (memory_cgroup / "memory.events").exists() else "memory.oom_control"
    assert cgroup.read_key(str(memory_cgroup / counter), "oom_kill") == 1


@WHERE
def test_a_sigkill_that_is_no_oom_kill_says_so(
    where: str, tmp_path: Path, memory_cgroup: Path, pyinit: type[Pyinit]
) -> None:
    message = tmp_path / "termination-log"
    # After the counter's first reading, 20 ms in (a child gone sooner gets no verdict at
    # all: there is no reading from before its death).
    args = ["--log-format", "json", "-v", "--termination-log", str(message), "--", "sh", "-c", "sleep 0.3; kill -9 $$"]
    code, err = pyinit(where, args, prefix=inside(memory_cgroup)).wait()
    assert code == 137, err
    assert events(err)["exit summary"]["oom_killed"] is False
    assert "oom_killed" not in events(err)["child exited"]
    assert "oom" not in message.read_text()


def test_children_get_a_higher_oom_score_adj_than_pyinit(tmp_path: Path) -> None:
    """pyinit is the OOM killer's last choice among its processes: each child (and each
    service, unless it says otherwise) starts 100 above it."""
    script = "cat /proc/self/oom_score_adj /proc/1/oom_score_adj"
    result = run_ns(["--", "sh", "-c", script])
    child, pid1 = result.stdout.split()
    assert (int(child), int(pid1)) == (int(pid1) + 100, int(pid1)), result.stderr
    conf = tmp_path / "services.toml"
    out = tmp_path / "adj"
    conf.write_text(
        f'[services.a]\ncommand = ["sh", "-c", "cat /proc/self/oom_score_adj > {out}-a"]\noom_score_adj = 700\n'
        f'[services.b]\ncommand = ["sh", "-c", "cat /proc/self/oom_score_adj > {out}-b"]\n'
    )
    done = run_ns(["--control-socket", str(tmp_path / "ctl.sock"), "--config", str(conf)])
    assert done.returncode == 0, done.stderr
    assert (Path(f"{out}-a").read_text().strip(), Path(f"{out}-b").read_text().strip()) == ("700", str(int(pid1) + 100))


def test_an_oom_killed_service_shows_in_ctl_status(tmp_path: Path, memory_cgroup: Path, pyinit: type[Pyinit]) -> None:
    conf = tmp_path / "services.toml"
    conf.write_text(
        f'[services.hog]\ncommand = {json.dumps(HOG)}\nrestart = "no"\n[services.idle]\ncommand = ["sleep", "60"]\n'
    )
    sock, message = tmp_path / "ctl.sock", tmp_path / "termination-log"
    args = ["--log-format", "json", "-v", "--control-socket", str(sock), "--termination-log", str(message)]
    p = pyinit("ns", [*args, "--config", str(conf)], prefix=inside(memory_cgroup))

    def hog_row() -> list[str]:
        table = ctl(sock, "status").stdout.splitlines()
        return next((row.split() for row in table if row.startswith("hog ")), [])

    row = wait_for(lambda: (r := hog_row()) and r[1] == "failed" and r, timeout=60)
    assert row[-1] == "oom-killed"
    status = json.loads(ctl(sock, "status", "--json").stdout)["services"]
    assert [s["oom_killed"] for s in status if s["name"] == "hog"] == [True]
    p.kill(signal.SIGTERM)
    code, err = p.wait()
    assert code == 0, err
    assert events(err)["service exited"]["oom_killed"] is True
    assert message.read_text() == "pyinit exited with status 0: stop request (SIGTERM); failed: hog (oom-killed)\n"


def test_doctor_reads_the_memory_limit(memory_cgroup: Path) -> None:
    result = subprocess.run([*inside(memory_cgroup), PYINIT, "doctor"], capture_output=True, text=True, timeout=30)
    assert "limit 64.0 MiB" in result.stdout, result.stdout
    assert any(line.startswith("ok    OOM kills") for line in result.stdout.splitlines())


# -- drain before stop; ready and wait-stop in single-child mode -------------------------


def signal_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@WHERE
def test_a_stop_request_drains_first(where: str, tmp_path: Path, pyinit: type[Pyinit]) -> None:
    """TERM with --stop-delay: `ctl ready` fails at once while the child, still running and
    not yet signalled, keeps serving; the TERM reaches it after the delay."""
    sock, record = tmp_path / "ctl.sock", tmp_path / "signals"
    args = ["--stop-delay", "1", "--control-socket", str(sock), "--", *RECORDER, str(record), "--exit-on", "SIGTERM"]
    p = pyinit(where, args)
    wait_for(lambda: signal_lines(record) and ctl(sock, "ready").returncode == 0, timeout=20)
    assert ctl(sock, "status").stdout.split("\n")[1].split()[1] == "running"
    p.kill(signal.SIGTERM)
    wait_for(lambda: ctl(sock, "ready").returncode == 1)
    drained = ctl(sock, "status").stdout.split("\n")[1].split()[1]
    assert signal_lines(record)[1:] == [] and drained == "draining"
    assert ctl(sock, "wait-stop").returncode == 0  # returns once the drain is over ...
    wait_for(lambda: signal_lines(record)[1:] == ["SIGTERM"])  # ... when the TERM goes through
    code, _ = p.wait()
    assert code == 0


@WHERE
def test_wait_stop_without_a_pending_stop_returns_at_once(where: str, tmp_path: Path, pyinit: type[Pyinit]) -> None:
    """No stop pending: wait-stop returns at once, drains nothing and signals no one; the TERM
    that comes later still drains (not ready at once) and is forwarded after the delay."""
    sock, record = tmp_path / "ctl.sock", tmp_path / "signals"
    args = ["--stop-delay", "0.5", "--control-socket", str(sock), "--", *RECORDER, str(record), "--exit-on", "SIGTERM"]
    p = pyinit(where, args)
    wait_for(lambda: signal_lines(record) and ctl(sock, "ready").returncode == 0, timeout=20)
    hook = subprocess.run([PYINIT, "ctl", "--control-socket", str(sock), "wait-stop"], timeout=5)
    assert hook.returncode == 0
    assert ctl(sock, "ready").returncode == 0  # still ready: nothing was asked to stop
    p.kill(signal.SIGTERM)
    wait_for(lambda: ctl(sock, "ready").returncode == 1)  # the fence: the TERM drains as usual
    assert signal_lines(record)[1:] == []  # held for the delay ...
    wait_for(lambda: signal_lines(record)[1:] == ["SIGTERM"])  # ... then forwarded
    code, _ = p.wait()
    assert code == 0


def test_wait_stop_without_a_stop_delay_returns_at_once(tmp_path: Path, pyinit: type[Pyinit]) -> None:
    sock = tmp_path / "ctl.sock"
    p = pyinit("ns", ["--control-socket", str(sock), "--", "sleep", "60"])
    wait_for(lambda: ctl(sock, "ready").returncode == 0, timeout=20)
    assert ctl(sock, "wait-stop").returncode == 0
    assert ctl(sock, "ready").returncode == 0  # nothing to drain: still ready
    assert ctl(sock, "stop", "x").returncode == 1  # services only
    p.kill(signal.SIGTERM)
    assert p.wait()[0] == 128 + 15


def test_services_drain_too(tmp_path: Path, pyinit: type[Pyinit]) -> None:
    conf = tmp_path / "services.toml"
    conf.write_text('[services.web]\ncommand = ["sleep", "60"]\n')
    sock = tmp_path / "ctl.sock"
    p = pyinit("ns", ["-v", "--stop-delay", "1", "--control-socket", str(sock), "--config", str(conf)])
    wait_for(lambda: ctl(sock, "ready").returncode == 0, timeout=20)
    p.kill(signal.SIGTERM)
    wait_for(lambda: ctl(sock, "ready").returncode == 1)
    assert ctl(sock, "status").stdout.split("\n")[1].split()[1] == "ready"  # still serving
    assert ctl(sock, "wait-stop").returncode == 0
    code, err = p.wait()
    assert code == 0 and "drain over" in err


def test_a_second_pyinit_on_the_same_path_leaves_the_first_asleep(tmp_path: Path, pyinit: type[Pyinit]) -> None:
    """Whether a socket file is served is read from /proc/net/unix, not asked by connecting:
    every pyinit starting on a host would otherwise wake the idle one serving the path."""
    sock = tmp_path / "ctl.sock"
    first = pyinit("ns", ["--control-socket", str(sock), "--", "sleep", "60"])
    wait_for(lambda: ctl(sock, "ready").returncode == 0, timeout=20)
    time.sleep(0.3)  # the reply's wake-up is over

    def switches() -> tuple[str, str]:
        status = proc_status(first.pid)
        return status["voluntary_ctxt_switches"], status["nonvoluntary_ctxt_switches"]

    before = switches()
    second = pyinit("ns", ["-v", "--control-socket", str(sock), "--", "sleep", "0.3"])
    code, err = second.wait()  # the fence: its attempt to serve is over
    assert code == 0 and f"another process already serves {sock}" in err
    assert switches() == before
    first.kill(signal.SIGTERM)
    assert first.wait()[0] == 128 + 15


def test_termination_message_names_a_service_killed_after_its_stop_grace(tmp_path: Path, pyinit: type[Pyinit]) -> None:
    message, trapped = tmp_path / "termination-log", tmp_path / "trapped"
    conf = tmp_path / "services.toml"
    stubborn = ["sh", "-c", f"trap '' TERM; touch {trapped}; while :; do sleep 0.1; done"]
    conf.write_text(f'[services.stubborn]\ncommand = {json.dumps(stubborn)}\nstop_grace = "0.3s"\n')
    args = ["--control-socket", str(tmp_path / "ctl.sock"), "--termination-log", str(message), "--config", str(conf)]
    p = pyinit("ns", args)
    wait_for(trapped.exists)
    p.kill(signal.SIGTERM)
    assert p.wait()[0] == 0
    assert message.read_text().splitlines() == [
        "pyinit exited with status 0: stop request (SIGTERM)",
        "SIGKILLed after the grace period: service stubborn",
    ]


@WHERE
def test_an_oom_killed_orphan_claims_its_kill(
    where: str, tmp_path: Path, memory_cgroup: Path, pyinit: type[Pyinit]
) -> None:
    """A background job the child left behind is OOM-killed: pyinit reaps it as an orphan and
    says so; the kill is its, so the child's later `kill -9` is no OOM kill."""
    hog = " ".join(f"'{arg}'" for arg in HOG)
    go = tmp_path / "go"
    os.mkfifo(go)
    script = f"({hog} &); read line < {go}; kill -9 $$"
    args = ["--log-format", "json", "-v", "--termination-log", str(tmp_path / "message"), "--", "sh", "-c", script]
    p = pyinit(where, args, prefix=inside(memory_cgroup))

    # The counter says that an OOM kill happened, not whom it hit: the next SIGKILL death
    # pyinit reaps claims it. So the child's own `kill -9` waits until pyinit has reaped the
    # hog and said so (two SIGKILL deaths reaped in the other order would swap the claim).
    assert p.proc.stderr is not None
    before = []
    for line in p.proc.stderr:
        before.append(line)
        if '"orphan killed by the OOM killer"' in line:
            break
    counter = "memory.events" if (memory_cgroup / "memory.events").exists() else "memory.oom_control"
    assert cgroup.read_key(str(memory_cgroup / counter), "oom_kill") == 1
    with open(go, "w") as fifo:
        fifo.write("go\n")
    code, rest = p.wait(60)
    err = "".join(before) + rest
    assert code == 137, err
    found = events(err)
    assert "orphan killed by the OOM killer" in found, err
    assert found["orphan killed by the OOM killer"]["oom_killed"] is True
    assert "oom_killed" not in found["child exited"] and found["exit summary"]["oom_killed"] is False
