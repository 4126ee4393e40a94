"""The OOM verdict from a memory cgroup's oom_kill counter (files shaped like the kernel's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyinit import cgroup, oom

pytestmark = pytest.mark.timeout(10)

V1 = "oom_kill_disable 0\nunder_oom 0\noom_kill {}\n"
V2 = "low 0\nhigh 0\nmax 12\noom 3\noom_kill {}\noom_group_kill 0\n"


@pytest.mark.parametrize("shape", [V1, V2], ids=["v1", "v2"])
def test_each_kill_counted_goes_to_one_death(tmp_path: Path, shape: str) -> None:
    events = tmp_path / "events"
    events.write_text(shape.format(4))
    counter = oom.OomCounter(str(events))
    assert counter.verdict() is False  # a plain SIGKILL: the counter did not move
    events.write_text(shape.format(6))
    assert [counter.verdict(), counter.verdict(), counter.verdict()] == [True, True, False]


def test_unreadable_says_nothing(tmp_path: Path) -> None:
    assert oom.OomCounter(str(tmp_path / "missing")).verdict() is None
    events = tmp_path / "events"
    events.write_text(V1.format(0))
    counter = oom.OomCounter(str(events))
    events.unlink()
    assert counter.verdict() is None


def test_sigkill_status() -> None:
    assert oom.killed_by_sigkill(9)  # a wait status: signal 9, no core
    assert not oom.killed_by_sigkill(15) and not oom.killed_by_sigkill(9 << 8)


def test_child_score_adj() -> None:
    assert oom.child_score_adj(0) == 100
    assert oom.child_score_adj(-997) == -897  # a Guaranteed pod stays protected
    assert oom.child_score_adj(950) == 1000


def test_this_machine_memory_cgroup_is_found() -> None:
    """The cgroup of this process, translated through mountinfo to a directory that exists."""
    found = cgroup.memory_directory()
    if found is None:
        pytest.skip("no memory cgroup mounted here")
    directory, version = found
    assert Path(directory, "memory.events" if version == 2 else "memory.oom_control").is_file()
    counter = oom.OomCounter()
    assert isinstance(counter.seen, int)


def test_mount_root_is_translated() -> None:
    """cgroup v1 without a cgroup namespace: the container sees its own directory as the mount."""
    mounts = [
        ("/", "/sys/fs/cgroup/unified", "cgroup2", {"rw"}),
        ("/docker/abc", "/sys/fs/cgroup/memory", "cgroup", {"rw", "memory"}),
        ("/", "/sys/fs/cgroup/pids", "cgroup", {"rw", "pids"}),
    ]
    assert cgroup.candidates("/docker/abc", mounts, "memory") == ["/sys/fs/cgroup/memory"]
    assert cgroup.candidates("/docker/abc/sub", mounts, "memory") == ["/sys/fs/cgroup/memory/sub"]
    assert cgroup.candidates("/docker/other", mounts, "memory") == []
    assert cgroup.candidates("/x", mounts, "pids") == ["/sys/fs/cgroup/pids/x"]
    assert cgroup.candidates("/x", mounts, cgroup.UNIFIED) == ["/sys/fs/cgroup/unified/x"]
    assert cgroup._unescape("/a\\040b") == "/a b"
