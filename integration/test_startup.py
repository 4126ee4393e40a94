"""What the single-child start loads: the modules the start-up figures depend on.

Not a timing (speed lives in the bench): the set of modules is exact, and each one kept
off this path was measured in the README's Performance section (``os`` 1.7 ms,
``_ctypes`` 0.7 ms, ``__future__`` 0.4 ms, ...). The real ``pyinit`` runs a command as
PID 1 of a namespace and as a subreaper, with an interpreter started as the launcher
starts it (``-I -S``), and reports what it imported on its way out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyinit

ROOT = str(Path(pyinit.__file__).parent.parent)
# pyinit's command line through cli.main, in an interpreter started as the launcher's
# command starts it; then the list of what was imported by the end of the run (written
# to $MODULES_REPORT), then out as pyinit leaves.
PROBE = f"""
import sys
sys.path.insert(0, {ROOT!r})
before = set(sys.modules)
import posix
from pyinit import cli
code = cli.main(sys.argv)
with open(posix.environ[b"MODULES_REPORT"], "w") as out:
    out.write(" ".join(sorted(set(sys.modules) - before)))
posix._exit(code)
"""
NEVER = {"os", "__future__", "select", "_heapq", "signal", "ctypes", "pyinit.personalities", "pyinit.terminal"}


def loaded(tmp_path: Path, *prefix: str, command: tuple[str, ...] = ("true",)) -> set[str]:
    report = tmp_path / "modules"
    argv = [*prefix, sys.executable, "-I", "-S", "-c", PROBE, "--control-socket", str(tmp_path / "ctl.sock")]
    argv += ["--grace", "1", "--", *command]
    env = {**os.environ, "MODULES_REPORT": str(report)}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)
    assert result.returncode == 0, result.stderr
    return set(report.read_text().split())


@pytest.mark.timeout(60)
def test_pid1_start_loads_neither_os_nor_epoll_nor_ctypes(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "unshare", "-fp", "--mount-proc")
    assert "pyinit.single" in modules  # the fence: the single-child mode did run
    assert not modules & (NEVER | {"_ctypes", "pyinit.linux", "pyinit.teardown"})


@pytest.mark.timeout(60)
def test_subreaper_start_adds_only_ctypes_for_prctl(tmp_path: Path) -> None:
    modules = loaded(tmp_path)
    assert {"pyinit.single", "pyinit.linux", "_ctypes"} <= modules
    assert not modules & NEVER


@pytest.mark.timeout(60)
def test_the_idle_init_with_its_control_socket_holds_no_os(tmp_path: Path) -> None:
    # Run past the 20 ms after which single-child mode opens its control socket.
    modules = loaded(tmp_path, "unshare", "-fp", "--mount-proc", command=("sleep", "0.3"))
    assert {"pyinit.control", "pyinit.single_control", "_socket"} <= modules  # the fence: it served
    assert not modules & (NEVER | {"_ctypes", "pyinit.teardown"})
