"""The fast launcher's text: the interpreter with -IS and the paths site would have added."""

from __future__ import annotations

import sys

import pytest

from pyinit import launcher

pytestmark = pytest.mark.timeout(20)


def test_the_launcher_runs_the_same_interpreter_without_site() -> None:
    text = launcher.render("/opt/pyinit/bin/python", ["/opt/pyinit/lib/python3.11/site-packages"])
    lines = text.splitlines()
    assert lines[0] == "#!/opt/pyinit/bin/python -IS"
    assert "sys.path += ['/opt/pyinit/lib/python3.11/site-packages']" in lines
    assert lines[-2:] == ["from pyinit.entry import run", "run()"]
    compile(text, "launcher", "exec")


@pytest.mark.parametrize("python", ["/opt/my python/bin/python", "/" + "x" * 300 + "/python"])
def test_an_interpreter_a_shebang_cannot_carry_is_refused(python: str) -> None:
    with pytest.raises(launcher.LauncherError):
        launcher.render(python, [])


def test_the_paths_are_what_site_added_and_pyinit_itself() -> None:
    paths = launcher.site_paths()
    package_root = launcher.__file__.rsplit("/pyinit/", 1)[0]
    assert package_root in paths
    assert all(p in sys.path[1:] or p == package_root for p in paths)
    assert not any(p.endswith(("lib-dynload", ".zip")) for p in paths)  # the floor -S keeps anyway


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["a", "b"]) == 2
    assert launcher.main(["--force"]) == 2
    assert "usage: python -m pyinit.launcher [PATH]" in capsys.readouterr().err
