"""Finding the processes a teardown must stop, and holding them by pidfd."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from pyinit import members

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    # An empty mask: importing pyinit blocked every signal in this process.
    proc = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, []))
    yield proc
    proc.kill()
    proc.wait()


def test_stat_survives_parentheses_and_spaces_in_the_command() -> None:
    fields = " ".join(str(n) for n in range(4, 60))  # field N holds N
    stat = members.Stat(f"42 (evil) (name) T {fields}")
    assert stat.state == "T"
    assert stat.ppid == 4
    assert stat.flags == 9
    assert stat.start == 22


def test_a_subreaper_scope_holds_its_descendants_only(sleeper: subprocess.Popen[bytes]) -> None:
    scope = members.Scope(whole_namespace=False)
    found = scope.scan()
    try:
        assert [m.pid for m in found] == [sleeper.pid]
        assert found[0].command == "sleep 30"
        assert os.getppid() not in {m.pid for m in found}
    finally:
        for member in found:
            member.close()


def test_descendants_from_proc_match_psutil(sleeper: subprocess.Popen[bytes]) -> None:
    """The fallback for the single-file form, which carries no psutil."""
    import psutil

    expected = {p.pid for p in psutil.Process().children(recursive=True)}
    assert sleeper.pid in expected
    assert set(members.descendants(os.getpid())) == expected
    assert set(members.descendants_by_parent_links(os.getpid())) == expected  # kernels without children files


def test_known_members_are_not_opened_twice(sleeper: subprocess.Popen[bytes]) -> None:
    scope = members.Scope(whole_namespace=False)
    assert scope.scan(known={sleeper.pid}) == []


def test_signals_go_through_the_pidfd(sleeper: subprocess.Popen[bytes]) -> None:
    scope = members.Scope(whole_namespace=False)
    member = scope.open(sleeper.pid)
    assert member is not None
    try:
        assert members.fdinfo_pid(member.pidfd) == sleeper.pid
        assert member.send(signal.SIGTERM)
        assert sleeper.wait(5) == -signal.SIGTERM
        assert members.fdinfo_pid(member.pidfd) == -1  # exited and reaped: the pidfd outlives the PID
        assert not member.send(signal.SIGTERM)  # a recycled PID could never receive it
    finally:
        member.close()


def test_zombies_are_left_to_the_reaper(sleeper: subprocess.Popen[bytes]) -> None:
    sleeper.send_signal(signal.SIGKILL)
    os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT)  # a zombie until Popen reaps it
    assert members.Scope(whole_namespace=False).open(sleeper.pid) is None
