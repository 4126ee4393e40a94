"""``python -m pyinit.launcher``: the pyinit command it writes starts without site, and
replaces the console script pip installed (a real wheel in a real venv)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)


def test_the_written_command_is_pyinit_on_the_same_interpreter_with_IS(tmp_path: Path) -> None:
    command = tmp_path / "pyinit"
    subprocess.run([sys.executable, "-m", "pyinit.launcher", str(command)], check=True, capture_output=True)
    # The child reads the argv the kernel gave pyinit's process; its status comes back.
    result = subprocess.run(
        [str(command), "--grace", "0", "--", "sh", "-c", "tr '\\0' '\\n' </proc/$PPID/cmdline; exit 3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[:3] == [sys.executable, "-IS", str(command)]


def test_by_default_it_replaces_the_console_script_pip_installed(tmp_path: Path) -> None:
    wheels, venv, src = tmp_path / "wheels", tmp_path / "venv", tmp_path / "src"
    # A copy: setuptools builds in the source tree, which must stay clean.
    shutil.copytree(REPO / "pyinit", src / "pyinit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(src)],
        check=True,
        capture_output=True,
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wheel = next(wheels.glob("pyinit-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    script = venv / "bin" / "pyinit"
    assert script.read_text().startswith(f"#!{python}\n")  # pip's wrapper: site, no flags

    written = subprocess.run(
        [str(python), "-m", "pyinit.launcher"], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert written.stdout.startswith(f"{script}: ")
    assert script.read_text().startswith(f"#!{python} -IS\n")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert (version.returncode, version.stdout) == (0, "pyinit 0.1.0\n")
