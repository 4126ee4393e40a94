"""Fixtures of the integration suite: namespaces closed after each test, and no process left behind.

The helpers the tests import live in support.py; this file holds only fixtures.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import Namespace, wait_for


@pytest.fixture
def others_can_run_pyinit() -> Iterator[None]:
    """Let another uid (65534) reach this checkout's pyinit: a clone under a 0700 directory
    (mktemp -d, a home) would refuse it. Adds search permission (x, not r) to each directory
    on the way that lacks it, and takes it back afterwards."""
    venv = Path(sys.executable).parent.parent
    changed: list[tuple[Path, int]] = []
    for directory in [venv.resolve(), *venv.resolve().parents, Path(__file__).resolve().parent.parent]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(directory, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((directory, stat.S_IMODE(mode)))
    yield
    for directory, mode in changed:
        os.chmod(directory, mode)


@pytest.fixture
def namespace() -> Iterator[type[Namespace]]:
    made: list[Namespace] = []

    class Tracked(Namespace):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    yield Tracked
    for ns in made:
        ns.close()


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(autouse=True)
def unblocked_signals() -> None:
    """Importing pyinit (the unit tests do) blocks every signal in this process, and processes
    started from a test would inherit that mask: a recorder could then never receive a thing."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Every test leaves no process and no zombie behind it."""
    before = _descendants()
    yield

    def leftovers() -> set[int]:
        return _descendants() - before

    try:
        wait_for(lambda: not leftovers(), timeout=10)
    except AssertionError:
        stray = leftovers()
        described = []
        for pid in stray:
            try:
                p = psutil.Process(pid)
                described.append(f"{pid} {p.status()} {p.cmdline()}")
                p.kill()
            except psutil.NoSuchProcess:
                pass
        pytest.fail(f"test left processes behind: {described}")

    def zombies() -> list[int]:
        return [p.pid for p in psutil.process_iter() if _is_zombie(p)]

    try:
        wait_for(lambda: not zombies(), timeout=10)
    except AssertionError:
        pytest.fail(f"zombies left behind: {zombies()}")


def _is_zombie(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
