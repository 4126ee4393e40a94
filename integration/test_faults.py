"""PID 1 under faults a container meets: blocked output, signal storms, fd and pid exhaustion.

Each test runs the real pyinit in real namespaces (and a real pids cgroup),
and checks what the kernel shows: zombies in /proc, exit statuses, files the
children write, bytes that came out of pyinit's pipes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psutil
import pytest
from support import PYINIT, Namespace, wait_for

pytestmark = pytest.mark.timeout(120)


def _load_storm() -> ModuleType:
    """scripts/storm.py (the storm and its child, shared with the measurement), loaded by path."""
    path = Path(__file__).parent.parent / "scripts" / "storm.py"
    spec = importlib.util.spec_from_file_location("storm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STORM = _load_storm()


# -- helpers ----------------------------------------------------------------------------


def zombies_of(pid: int) -> int:
    try:
        kids = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return 0
    count = 0
    for kid in kids:
        with contextlib.suppress(psutil.Error):
            count += kid.status() == psutil.STATUS_ZOMBIE
    return count


@contextlib.contextmanager
def unread_pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose reader never reads (a stalled log driver): (read end, write end)."""
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)


class Drain(threading.Thread):
    """Reads a pipe to its end from the moment it is started: the reader came back."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()
        self.lock = threading.Lock()

    def run(self) -> None:
        while chunk := os.read(self.fd, 1 << 20):
            with self.lock:
                self.data += chunk

    def text(self) -> bytes:
        with self.lock:
            return bytes(self.data)


def private(tmp_path: Path) -> list[str]:
    """A control socket of the test's own: never the machine's /run/pyinit.sock."""
    return ["--control-socket", str(tmp_path / "ctl.sock")]


def ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYINIT, "ctl", "--control-socket", str(sock), *args], capture_output=True, text=True, timeout=30
    )


def status(sock: Path) -> dict[str, object]:
    result = ctl(sock, "status", "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert isinstance(reply, dict)
    return reply


def services(sock: Path) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in status(sock)["services"]}  # type: ignore[attr-defined]


def supervise(
    tmp_path: Path, namespace: type[Namespace], toml: str, *args: str, **popen: object
) -> tuple[Namespace, Path]:
    conf = tmp_path / "services.toml"
    conf.write_text(toml)
    sock = tmp_path / "ctl.sock"
    ns = namespace(["--control-socket", str(sock), "--config", str(conf), *args], **popen)
    wait_for(sock.exists)
    return ns, sock


# -- output that blocks -----------------------------------------------------------------

ORPHAN_STORM = """
exec 2>/dev/null  # the shell's own messages must not block on the same pipe
trap 'echo usr1 > {out}/usr1' USR1
trap 'exit 7' TERM
for i in $(seq {count}); do (sleep 0.01 &); done
touch {out}/spawned
while :; do sleep 0.05; done
"""


def test_blocked_stderr_during_an_orphan_storm(tmp_path: Path, namespace: type[Namespace]) -> None:
    """stderr a pipe nobody reads, -vv (a line per reaped orphan): PID 1 keeps reaping and forwarding."""
    with unread_pipe() as (r, w):
        script = ORPHAN_STORM.format(out=tmp_path, count=2000)
        sock = tmp_path / "ctl.sock"
        ns = namespace(["-vv", "--control-socket", str(sock), "--", "sh", "-c", script], stderr=w)
        peak = 0

        def spawned() -> bool:
            nonlocal peak
            peak = max(peak, zombies_of(ns.init_pid))
            return (tmp_path / "spawned").exists()

        wait_for(spawned, timeout=60, interval=0.01)
        wait_for(lambda: zombies_of(ns.init_pid) == 0, timeout=20)
        # ctl answers; 2000 lines (~200 KB) fit in the 1 MiB buffer: nothing needed dropping yet.
        dropped = status(sock)["log_dropped_lines"]
        assert isinstance(dropped, int)
        print(f"zombie peak {peak}, log lines dropped {dropped}")
        ns.kill(signal.SIGUSR1)
        wait_for((tmp_path / "usr1").exists)
        ns.kill(signal.SIGTERM)
        assert ns.wait(20) == 7
        # What it could not write was dropped whole; what it wrote is whole lines.
        os.close(w)
        os.set_blocking(r, False)
        head = os.read(r, 1 << 20)
        assert head.endswith(b"\n")


PREFIX_BLOCKED = """
[services.spew]
command = ["yes", "spew"]
output = "prefix"

[services.orphans]
command = ["sh", "-c", "for i in $(seq {count}); do (sleep 0.01 &); done; touch {out}/spawned; exec sleep 1000"]
"""


def test_blocked_stdout_with_prefix_output(tmp_path: Path, namespace: type[Namespace]) -> None:
    """A service spews through `prefix` into a stdout nobody reads: orphans are reaped, ctl answers,
    the drop count shows, the marker comes once the pipe is read, and a stop works."""
    with unread_pipe() as (r, w):
        toml = PREFIX_BLOCKED.format(out=tmp_path, count=500)
        ns, sock = supervise(tmp_path, namespace, toml, stdout=w)
        os.close(w)
        wait_for((tmp_path / "spawned").exists, timeout=60)
        wait_for(lambda: zombies_of(ns.init_pid) == 0, timeout=20)
        dropped = wait_for(lambda: services(sock)["spew"]["dropped_lines"], timeout=20)
        assert isinstance(dropped, int) and dropped > 0
        drain = Drain(r)
        drain.start()
        wait_for(lambda: b"lines dropped (spew " in drain.text(), timeout=20)
        print(f"dropped before the reader came back: {dropped}")
        ns.kill(signal.SIGTERM)
        assert ns.wait(30) == 0
        drain.join(10)
        text = drain.text()
        # Never half a line: every line is a whole "spew | spew" or a marker.
        for line in text.splitlines():
            assert line.startswith((b"spew    | spew", b"pyinit: output was blocked: ")), line[:80]


def test_sigterm_ignoring_service_spewing_during_shutdown(tmp_path: Path, namespace: type[Namespace]) -> None:
    """It is killed after its stop grace and pyinit exits, its stdout read or not."""
    trapped = tmp_path / "trapped"
    toml = f"""
[services.loud]
command = ["sh", "-c", "trap '' TERM; touch {trapped}; while :; do echo still here; done"]
output = "prefix"
stop_grace = "1s"
"""
    with unread_pipe() as (_r, w):
        ns, sock = supervise(tmp_path, namespace, toml, stdout=w, stderr=w)
        os.close(w)
        wait_for(trapped.exists)
        assert services(sock)["loud"]["state"] == "ready"
        ns.kill(signal.SIGTERM)
        assert ns.wait(30) == 0


# -- what the relay must cope with -------------------------------------------------------

AWKWARD = r"""
import os, sys, time
out = sys.stdout.buffer
out.write(b"bad \xff\xfe utf-8 \xc3\n")
out.write(b"10%\r20%\r\n")
out.write("é".encode() * (5 * 1024 * 1024) + b"\n")
out.write(b"after\n")
out.flush()
os.close(1)
sys.stderr.write("stdout closed\n")
sys.stderr.flush()
open(sys.argv[1], "w").close()
time.sleep(1000)
"""


def test_relay_copes_with_invalid_utf8_carriage_returns_huge_lines_and_a_closed_stdout(
    tmp_path: Path, namespace: type[Namespace]
) -> None:
    closed = tmp_path / "closed"
    toml = f"""
[services.odd]
command = [{json.dumps(sys.executable)}, "-c", {json.dumps(AWKWARD)}, "{closed}"]
output = "prefix"
"""
    out = tmp_path / "out"
    with out.open("wb") as sink:
        ns, sock = supervise(tmp_path, namespace, toml, stdout=sink, stderr=sink)
        wait_for(closed.exists)
        wait_for(lambda: b"odd | stdout closed\n" in out.read_bytes())
        assert services(sock)["odd"]["state"] == "ready"  # closing stdout did not end it
        ns.kill(signal.SIGTERM)
        assert ns.wait(30) == 0
    lines = out.read_bytes().split(b"\n")
    relayed = [line for line in lines if line.startswith((b"odd | ", b"odd + "))]
    assert relayed[0] == b"odd | bad \xff\xfe utf-8 \xc3"
    assert relayed[1:3] == [b"odd | 10%", b"odd | 20%"]
    pieces = [line for line in relayed if line.startswith(b"odd + ") or line.startswith("odd | é".encode())]
    assert pieces[0].startswith(b"odd | ") and all(p.startswith(b"odd + ") for p in pieces[1:])
    assert all(len(p) <= 64 * 1024 + len(b"odd | ") for p in pieces)
    body = b"".join(p[len(b"odd | ") :] for p in pieces)
    assert body == "é".encode() * (5 * 1024 * 1024)  # no sequence cut in half, nothing lost
    after = relayed.index(b"odd | after")
    assert after == 3 + len(pieces)


# -- signal storms -----------------------------------------------------------------------


def test_sigterm_ends_the_run_during_a_signal_storm(tmp_path: Path, namespace: type[Namespace]) -> None:
    """100k signals (real-time ones queue, each a record), then SIGTERM in the middle of the storm:
    pyinit exits with the child's status while the storm is still going."""
    ready = tmp_path / "ready"
    args = ["--grace", "30", "--control-socket", str(tmp_path / "ctl.sock")]
    ns = namespace([*args, "--", sys.executable, "-c", STORM.CHILD, str(ready)])
    wait_for(ready.exists)
    assert STORM.storm(ns.init_pid, 100_000) == 100_000
    ns.kill(signal.SIGTERM)
    # The storm goes on (bounded); pyinit must be gone long before it ends.
    sent = STORM.storm(ns.init_pid, 2_000_000)
    assert sent < 2_000_000
    assert ns.wait(10) == 3


# -- fd and pid exhaustion -----------------------------------------------------------------


def test_teardown_of_200_processes_with_24_descriptors(tmp_path: Path) -> None:
    """As a subreaper with RLIMIT_NOFILE 24 (no pidfd for most of them at once): nothing is left."""
    script = f"trap '' TERM; for i in $(seq 200); do sleep 1000 & done; touch {tmp_path}/up"
    with pids_cgroup(f"pyinit-fds-{os.getpid()}") as group:
        result = subprocess.run(
            [
                *inside(group),
                "prlimit",
                "--nofile=24:24",
                PYINIT,
                *private(tmp_path),
                "--grace",
                "0.5",
                "--",
                "sh",
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "up").exists()
        assert procs(group) == [], result.stderr


HOPPER = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork(): os._exit(0)
open({up!r}, "w").close()
while True:
    time.sleep({pause})
    if os.fork(): os._exit(0)
"""


@pytest.mark.parametrize("pause", [0.003, 0])
def test_a_process_that_reforks_to_dodge_the_teardown_is_caught(tmp_path: Path, pause: float) -> None:
    """It ignores SIGTERM and forks a successor every few ms (or as fast as it can), as a
    subreaper's descendant: after pyinit has exited, nothing is left in the cgroup it ran in."""
    with pids_cgroup(f"pyinit-hopper-{os.getpid()}") as group:
        for attempt in range(5):  # a scan racing a fork is a matter of chance: several rounds
            up = tmp_path / f"up{attempt}"
            hopper = HOPPER.format(up=str(up), pause=pause)
            log = tmp_path / f"log{attempt}"
            with log.open("w") as out:  # not a pipe: an escaped hopper would hold it open
                command = [
                    *inside(group),
                    PYINIT,
                    *private(tmp_path),
                    "--grace",
                    "0.3",
                    "--",
                    sys.executable,
                    "-c",
                    hopper,
                ]
                code = subprocess.run(command, stdout=out, stderr=out, timeout=60).returncode
            assert code == 0, log.read_text()
            assert up.exists()
            assert procs(group) == [], f"round {attempt}: escaped the teardown"


def inside(group: Path) -> list[str]:
    """A command prefix that runs the rest in ``group``."""
    return ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"]


def procs(group: Path) -> list[int]:
    return [int(pid) for pid in (group / "cgroup.procs").read_text().split()]


@contextlib.contextmanager
def pids_cgroup(name: str) -> Iterator[Path]:
    """A pids cgroup of our own (v1 or v2), removed afterwards."""
    v1 = Path("/sys/fs/cgroup/pids")
    v2 = Path("/sys/fs/cgroup")
    if (v1 / "pids.max").exists() or (v1 / "cgroup.procs").exists():
        group = v1 / name
    elif "pids" in (v2 / "cgroup.controllers").read_text().split() if (v2 / "cgroup.controllers").exists() else False:
        with contextlib.suppress(OSError):
            (v2 / "cgroup.subtree_control").write_text("+pids")
        group = v2 / name
    else:
        pytest.skip("no pids cgroup controller on this machine")
    group.mkdir()
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            (group / "pids.max").write_text("max")
        for _ in range(1000):  # what escaped a test's teardown, re-forking or not, goes now
            left = procs(group)
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not procs(group), timeout=10)
        group.rmdir()


PIDS_TOML = """
[services.flaky]
command = ["sh", "-c", "echo start >> {out}/flaky; exit 1"]
restart = "always"
backoff_initial = "100ms"
backoff_max = "400ms"
start_limit = 0

[services.probed]
command = ["sleep", "1000"]
ready = {{ command = ["test", "-e", "{out}/go"], interval = "100ms" }}
"""


def test_fork_failures_in_a_pids_cgroup(tmp_path: Path) -> None:
    """pids.max reached: a restarting service and a readiness command cannot fork (EAGAIN);
    pyinit keeps going, backs off, and recovers when pids free up."""
    out = tmp_path
    conf = tmp_path / "services.toml"
    conf.write_text(PIDS_TOML.format(out=out))
    sock = tmp_path / "ctl.sock"
    with pids_cgroup(f"pyinit-test-{os.getpid()}") as group:
        args = ["unshare", "-fp", "--mount-proc", PYINIT, "--control-socket", str(sock), "--config", str(conf)]
        proc = subprocess.Popen([*inside(group), *args], stderr=subprocess.PIPE)
        try:
            wait_for(sock.exists)
            wait_for(lambda: len((out / "flaky").read_text().split()) >= 2 if (out / "flaky").exists() else False)
            # Below what the group holds already: every fork in it fails from now on.
            (group / "pids.max").write_text("1")
            # A probe or a start forked before that has finished: unshare, pyinit and `sleep` are left.
            wait_for(lambda: len((group / "cgroup.procs").read_text().split()) == 3)
            (out / "go").touch()  # the probe would pass now, if only it could run
            before = len((out / "flaky").read_text().split())
            wait_for(lambda: services(sock)["flaky"]["restarts"] >= 4, timeout=20)  # type: ignore[operator]
            assert services(sock)["probed"]["state"] == "starting"
            assert proc.poll() is None
            # Recovery: pids free up, the restarts run again and the probe passes.
            (group / "pids.max").write_text("max")
            wait_for(lambda: len((out / "flaky").read_text().split()) > before + 1, timeout=20)
            wait_for(lambda: services(sock)["probed"]["state"] == "ready", timeout=20)
            ns_init = psutil.Process(proc.pid).children()[0].pid
            os.kill(ns_init, signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0
            assert b"Resource temporarily unavailable" in err, err[-2000:]
        finally:
            if proc.poll() is None:
                with contextlib.suppress(psutil.Error):
                    os.kill(psutil.Process(proc.pid).children()[0].pid, signal.SIGKILL)
                proc.communicate(timeout=10)


# -- the control socket --------------------------------------------------------------------


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))


def test_control_socket_flood_of_idle_connections(tmp_path: Path, namespace: type[Namespace]) -> None:
    """200 connections that never say anything, with RLIMIT_NOFILE 32 (accept runs out of
    descriptors before the connection limit): pyinit keeps supervising and `ctl status` answers."""
    toml = f"""
[services.worker]
command = ["sh", "-c", "echo run >> {tmp_path}/runs; sleep 0.2"]
restart = "always"
backoff_initial = "50ms"
backoff_max = "50ms"
start_limit = 0
"""
    ns, sock = supervise(tmp_path, namespace, toml, preexec_fn=_few_descriptors)
    wait_for((tmp_path / "runs").exists)
    flood = []
    try:
        for _ in range(200):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(str(sock))
            flood.append(client)
        runs = len((tmp_path / "runs").read_text().split())
        wait_for(lambda: len((tmp_path / "runs").read_text().split()) > runs + 2)  # still supervising
        reply = status(sock)
        assert reply["ok"] is True
    finally:
        for client in flood:
            client.close()
    ns.kill(signal.SIGTERM)
    assert ns.wait(30) == 0


# -- services that cannot run --------------------------------------------------------------


def test_restart_always_service_whose_command_does_not_exist(tmp_path: Path, namespace: type[Namespace]) -> None:
    """It backs off (the gaps between attempts grow), is never ready, and the reason is in the log."""
    toml = f"""
[services.ghost]
command = ["/nonexistent/ghost"]
restart = "always"
backoff_initial = "100ms"
backoff_max = "10s"
start_limit = 0

[services.dependent]
command = ["sh", "-c", "touch {tmp_path}/dependent; exec sleep 1000"]
depends_on = ["ghost"]
"""
    err = tmp_path / "err"
    with err.open("wb") as stderr:
        ns, sock = supervise(tmp_path, namespace, toml, "-v", stderr=stderr)
        wait_for(lambda: services(sock)["ghost"]["restarts"] >= 4, timeout=30)  # type: ignore[operator]
        ns.kill(signal.SIGTERM)
        assert ns.wait(30) == 0
    # A command that cannot run never counted as started: what depends on it never ran.
    assert not (tmp_path / "dependent").exists()
    log = err.read_text()
    assert "/nonexistent/ghost" in log and "not found" in log, log
    delays = [float(line.split("delay=")[1].split()[0]) for line in log.splitlines() if "service restarting" in line]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8], delays


# -- reports at scale ----------------------------------------------------------------------


def test_killing_a_thousand_processes_is_summarized(tmp_path: Path) -> None:
    """The first ones are named, the rest summarized in one line with the most common commands."""
    script = (
        "trap '' TERM; for i in $(seq 1000); do sleep 1000 & done; "
        f"for i in $(seq 5); do (exec -a stubborn sleep 1000) & done; touch {tmp_path}/up"
    )
    result = subprocess.run(
        ["unshare", "-fp", "--mount-proc", PYINIT, *private(tmp_path), "--grace", "0.2", "--", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    named = [line for line in lines if "did not stop in time; killing it" in line]
    assert 0 < len(named) <= 20
    summary = [line for line in lines if "more processes did not stop in time" in line]
    assert len(summary) == 1, lines[-5:]
    assert "count=985" in summary[0] and "sleep 1000" in summary[0], summary[0]
    assert len(lines) < 40


# -- drop-in details -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("dumb-init", "dumb-init: unrecognized option '--yolo'"), ("tini", "tini: unrecognized option '--yolo'")],
)
def test_usage_errors_name_the_program_by_its_basename(tmp_path: Path, name: str, expected: str) -> None:
    link = tmp_path / "bin" / name
    link.parent.mkdir()
    link.symlink_to(PYINIT)
    result = subprocess.run([str(link), "--yolo", "true"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == expected
    assert str(link) not in result.stderr
