"""Helpers the integration tests share: the real pyinit in PID namespaces, and waits on what the kernel shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).parent
PYINIT = str(Path(sys.executable).with_name("pyinit"))
RECORDER = [sys.executable, str(HERE / "helpers" / "recorder.py")]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something true (tests may poll; pyinit may not)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(interval)


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def assert_never_wakes_up(pid: int, seconds: float = 3.0) -> None:
    """The kernel's context-switch counts of an idle ``pid`` stay put: it sleeps without a timeout."""

    def switches() -> tuple[str, str]:
        status = proc_status(pid)
        return status["voluntary_ctxt_switches"], status["nonvoluntary_ctxt_switches"]

    before = switches()
    time.sleep(seconds)
    assert switches() == before


def ns_pid(host_pid: int) -> int:
    """A process's pid inside its innermost namespace."""
    return int(proc_status(host_pid)["NSpid"].split()[-1])


class Namespace:
    """``unshare -fp --mount-proc pyinit ARGS`` running in the background."""

    def __init__(self, args: list[str], mount_proc: bool = True, **popen: object) -> None:
        unshare = ["unshare", "-fp", "--mount-proc"] if mount_proc else ["unshare", "-fp"]
        self.proc = subprocess.Popen([*unshare, PYINIT, *args], **popen)  # type: ignore[call-overload]
        self.init_pid = wait_for(self._find_init)

    def _find_init(self) -> int | None:
        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return None
        return kids[0].pid if kids else None

    def members(self) -> list[int]:
        """Host pids of every process in the namespace but its init."""
        try:
            return [p.pid for p in psutil.Process(self.init_pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def child_pid(self) -> int:
        return wait_for(lambda: self.members() and self.members()[0])

    def kill(self, sig: int) -> None:
        os.kill(self.init_pid, sig)

    def nsenter(self, *command: str, **run: object) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["nsenter", "-t", str(self.init_pid), "-p", "-m", *command],
            timeout=30,
            **run,  # type: ignore[call-overload]
        )

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)  # the kernel kills the rest of the namespace
            except ProcessLookupError:
                pass
            self.proc.wait(10)


def run_ns(
    args: list[str], timeout: float = 30, mount_proc: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    unshare = ["unshare", "-fp", "--mount-proc"] if mount_proc else ["unshare", "-fp"]
    return subprocess.run([*unshare, PYINIT, *args], timeout=timeout, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
