"""Container-platform features with the real pyinit: the abstract control socket,
``pyinit doctor``, the termination message, OOM attribution in a real memory cgroup,
and the drain before a stop. Each as PID 1 of ``unshare -fp --mount-proc``, and
where it differs, as a subreaper."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import PYINIT, Namespace, run_ns, wait_for

pytestmark = pytest.mark.timeout(60)

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def in_netns(pid: int, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command in the network namespace of ``pid`` (where its abstract sockets live)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *command], capture_output=True, text=True, timeout=timeout)


# -- the abstract control socket ---------------------------------------------------


@pytest.fixture
def public_dir() -> Iterator[Path]:
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
