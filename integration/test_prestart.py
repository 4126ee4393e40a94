"""A failure between fork and exec is reported with its step and reason, never a bare 126."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from support import PYINIT, run_ns


@pytest.mark.timeout(60)
def test_vanished_cwd_is_reported_with_its_step(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    conf = tmp_path / "s.toml"
    # The one-shot removes the directory the critical service is to run in, after
    # the configuration (which checks that it exists) has been loaded; the service
    # starts once it is gone.
    conf.write_text(
        f"""
[services.remove]
command = ["rmdir", "{workdir}"]
restart = "no"
ready = {{ command = ["test", "!", "-e", "{workdir}"], interval = "20ms" }}

[services.app]
command = ["true"]
cwd = "{workdir}"
depends_on = ["remove"]
critical = true
restart = "no"
"""
    )
    result = run_ns(["--config", str(conf), "--control-socket", str(tmp_path / "c.sock")])
    assert not workdir.exists()
    assert result.returncode == 126, result.stderr
    assert "cannot enter the working directory: No such file or directory" in result.stderr
    assert "app" in result.stderr


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("others_can_run_pyinit")
def test_failed_privilege_drop_is_reported_with_its_step() -> None:
    # pyinit itself unprivileged (uid 65534, no groups): it may not set the service's groups.
    with tempfile.TemporaryDirectory() as shared:
        os.chmod(shared, 0o777)  # pytest's own temporary directories are root's alone
        conf = Path(shared, "s.toml")
        conf.write_text(
            """
[services.app]
command = ["true"]
user = "root"
critical = true
restart = "no"
"""
        )
        setpriv = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        pyinit = [PYINIT, "--config", str(conf), "--control-socket", f"{shared}/c.sock"]
        result = subprocess.run(
            ["unshare", "-fp", "--mount-proc", *setpriv, *pyinit],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 126, result.stderr
    assert "cannot set supplementary groups: Operation not permitted" in result.stderr
