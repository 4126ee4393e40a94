"""``python -m pyinit.launcher [PATH]``: write a ``pyinit`` command that starts in the interpreter's floor time.

The console script that pip, pipx or uv writes runs the interpreter with
``site`` (the venv's or the system's site-packages, every ``.pth`` file, a
``sitecustomize`` search) and, with pip before 24, ``import re`` (enum,
functools, collections) before pyinit runs at all. Installers cannot be told
to write interpreter flags (pip rewrites a script's ``#!python`` line to the
bare interpreter path), so this writes the command itself, once, after the
install: the same interpreter with ``-I -S`` (no ``site``, no user site, no
``PYTHON*`` variables, no current directory on ``sys.path``), and the
``sys.path`` entries that ``site`` added for this installation written out,
so nothing is searched for at start-up.

PATH defaults to the console script pip installed for this distribution (a
venv's ``bin/pyinit``, ``~/.local/bin/pyinit``, ``/usr/local/bin/pyinit``),
which is replaced in place: pipx's link to it and ``pip uninstall`` keep
working. Run it again after the interpreter changes (a new venv, a Python
upgrade); a reinstall of pyinit puts the slower console script back.
"""

from __future__ import annotations

import os
import subprocess
import sys

# Linux reads at most this much of a #! line (BINPRM_BUF_SIZE, 256 since 5.1).
SHEBANG_MAX = 255

TEMPLATE = """\
#!{python} -IS
# pyinit without `site` and without a console-script wrapper: written by
# `python -m pyinit.launcher` for this interpreter and these paths (see pyinit's README).
import sys
sys.path += {paths!r}
from pyinit.entry import run
run()
"""


class LauncherError(Exception):
    pass


def site_paths() -> list[str]:
    """What ``site`` added to ``sys.path`` for this interpreter, plus pyinit's own directory.

    pyinit's directory is listed explicitly because an editable install finds
    it through an import hook that ``-S`` never installs."""
    bare = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; print('\\0'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.rstrip("\n")
    floor = set(bare.split("\0"))
    paths = [p for p in sys.path[1:] if p and p not in floor and os.path.isdir(p)]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if here not in paths and here not in floor:
        paths.insert(0, here)
    return list(dict.fromkeys(paths))


def installed_script() -> str | None:
    """The ``pyinit`` console script pip installed with this distribution, if any."""
    from importlib import metadata

    # Every one found on sys.path: a source checkout's egg-info may come first.
    for dist in metadata.distributions(name="pyinit"):
        for file in dist.files or []:
            path = os.path.abspath(str(dist.locate_file(file)))
            if file.name == "pyinit" and file.parent.name == "bin" and os.path.isfile(path):
                return path
    return None


def render(python: str, paths: list[str]) -> str:
    if any(c.isspace() for c in python):
        raise LauncherError(f"the interpreter's path has white space, which a #! line cannot carry: {python}")
    text = TEMPLATE.format(python=python, paths=paths)
    if len(text.partition("\n")[0]) > SHEBANG_MAX:
        raise LauncherError(f"the interpreter's path is too long for a #! line ({SHEBANG_MAX} bytes): {python}")
    return text


def write(path: str, text: str) -> None:
    """Replace ``path`` atomically (a running pyinit keeps its old file), mode 0755."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    import _signal

    import pyinit

    # Importing pyinit blocked every signal; a tool that is not the init wants them back.
    _signal.pthread_sigmask(_signal.SIG_SETMASK, pyinit.ORIGINAL_MASK)
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write("usage: python -m pyinit.launcher [PATH]\n\n" + __doc__.partition("\n\n")[2])
        return 0
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        sys.stderr.write("usage: python -m pyinit.launcher [PATH]\n")
        return 2
    path = argv[0] if argv else installed_script()
    if path is None:
        sys.stderr.write("pyinit.launcher: no installed pyinit script found; name the file to write\n")
        return 2
    try:
        write(path, render(sys.executable, site_paths()))
    except LauncherError as exc:
        sys.stderr.write(f"pyinit.launcher: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"pyinit.launcher: {path}: {exc.strerror}\n")
        return 1
    sys.stdout.write(f"{path}: pyinit with {sys.executable} -IS\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
