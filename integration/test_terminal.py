"""Terminal job control through pyinit, on a real pseudo-terminal.

The test forks a session leader that makes the pty's slave its controlling
terminal, as a terminal emulator or ``docker run -it`` does, and types
keystrokes into the master. Everything is checked through /proc: process
states, and the terminal's foreground group (``tpgid``, field 8 of stat).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import PYINIT, wait_for

pytestmark = pytest.mark.timeout(90)

CTRL_C, CTRL_Z = b"\x03", b"\x1a"
BASH = ["bash", "--norc", "--noprofile", "-i"]


def stat(pid: int) -> tuple[str, int, int, int]:
    """(state, pgrp, session, tpgid) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return fields[0], int(fields[2]), int(fields[3]), int(fields[5])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def find(pid: int, name: str) -> int | None:
    """The host pid of the newest descendant of ``pid`` running ``name``."""
    found = None
    for proc in descendants(pid):
        try:
            if proc.name() == name:
                found = proc.pid
        except psutil.NoSuchProcess:
            pass
    return found


class Pty:
    """``argv`` as the session leader of a new pseudo-terminal."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "PS1": "READY> ", "TERM": "dumb", "HISTFILE": "/dev/null"}
        pid = os.fork()
        if pid == 0:  # the child: nothing here may return into pytest
            try:
                os.close(self.master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.close(slave)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(slave)
        self.pid = pid
        self.output = b""
        self.seen = 0  # what expect() has already matched

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, pattern: bytes, timeout: float = 30) -> bytes:
        """Read until ``pattern`` (a regex) appears after what earlier calls matched."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output[self.seen :])
            if match:
                self.seen += match.end()
                return match.group(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; output so far: {self.output!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every slave descriptor is closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed waiting for {pattern!r}; output: {self.output!r}")
                self.output += chunk

    def run(self, command: str) -> None:
        """Type a command line and wait for the prompt that follows it."""
        self.send(command.encode() + b"\n")
        self.expect(b"READY> ")

    def foreground(self) -> int:
        return os.tcgetpgrp(self.master)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                raise AssertionError(f"session leader did not exit: {self.output[-300:]!r}")
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    time.sleep(0.05)

    def close(self) -> None:
        if self.pid:
            for proc in [*descendants(self.pid), psutil.Process(self.pid)]:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            os.waitpid(self.pid, 0)
            self.pid = 0
        os.close(self.master)


@pytest.fixture
def pty() -> Iterator[type[Pty]]:
    made: list[Pty] = []

    class Tracked(Pty):
        def __init__(self, argv: list[str]) -> None:
            super().__init__(argv)
            made.append(self)

    yield Tracked
    for p in made:
        p.close()


# How pyinit sits on the terminal: inside the session of whoever started it
# (unshare here, a terminal's shell at home), or as the session leader that
# owns the terminal, as ``docker run -it`` makes the container's PID 1.
LAYOUTS = {
    "native": ["unshare", "-fp", "--mount-proc", PYINIT, "--"],
    "native-leader": ["unshare", "-fp", "--mount-proc", "setsid", "--ctty", PYINIT, "--"],
    "tini-leader": ["unshare", "-fp", "--mount-proc", "setsid", "--ctty", PYINIT, "--compat", "tini", "--"],
    "dumb-init-leader": ["unshare", "-fp", "--mount-proc", "setsid", "--ctty", PYINIT, "--compat", "dumb-init", "--"],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_interactive_shell_job_control(layout: str, pty: type[Pty]) -> None:
    """``docker run -it IMAGE bash`` with pyinit as ENTRYPOINT: Ctrl-C, jobs, fg, Ctrl-Z."""
    term = pty([*LAYOUTS[layout], *BASH])
    term.expect(b"READY> ")
    init = wait_for(lambda: find(term.pid, "pyinit"))
    bash = wait_for(lambda: find(term.pid, "bash"))
    _, bash_pgrp, bash_session, _ = stat(bash)
    assert bash_pgrp == bash  # the child has a group of its own ...
    assert term.foreground() == bash  # ... which holds the terminal
    if layout.startswith("dumb-init"):
        assert bash_session == bash  # and, for dumb-init, a session of its own

    # Ctrl-C interrupts the foreground job, not the shell.
    term.send(b"sleep 100\n")
    sleep = wait_for(lambda: find(bash, "sleep"))
    wait_for(lambda: term.foreground() == sleep)
    term.send(CTRL_C)
    term.expect(b"READY> ")
    wait_for(lambda: gone(sleep))
    assert term.foreground() == bash

    # A background job, brought to the foreground, then suspended with Ctrl-Z.
    term.run("sleep 100 &")
    sleep = wait_for(lambda: find(bash, "sleep"))
    assert term.foreground() == bash and stat(sleep)[1] == sleep
    term.send(b"fg\n")
    wait_for(lambda: term.foreground() == sleep)
    term.send(CTRL_Z)
    term.expect(b"Stopped")
    term.expect(b"READY> ")
    wait_for(lambda: stat(sleep)[0] == "T")
    assert term.foreground() == bash
    term.run("kill -9 %1")
    wait_for(lambda: gone(sleep))
    term.run("jobs")  # lets bash report the job's end, so that exit does not warn of it

    # pyinit itself was never stopped, and is still PID 1 of the shell's namespace.
    assert stat(init)[0] in "SR"
    term.send(b"exit 3\n")
    assert term.wait() == 3


@pytest.mark.parametrize("layout", ["native", "native-leader"])
def test_pid_1_ignores_ttou_and_ttin_and_forwards_tstp(layout: str, pty: type[Pty]) -> None:
    term = pty([*LAYOUTS[layout], "sleep", "100"])
    init = wait_for(lambda: find(term.pid, "pyinit"))
    sleep = wait_for(lambda: find(term.pid, "sleep"))
    wait_for(lambda: term.foreground() == sleep)
    for sig in (signal.SIGTTOU, signal.SIGTTIN):
        os.kill(init, sig)
    time.sleep(0.3)
    assert stat(init)[0] in "SR" and stat(sleep)[0] == "S"
    os.kill(init, signal.SIGTSTP)
    wait_for(lambda: stat(sleep)[0] == "T")
    assert stat(init)[0] in "SR"  # a namespace init cannot stop
    os.kill(init, signal.SIGCONT)
    wait_for(lambda: stat(sleep)[0] == "S")
    term.send(CTRL_C)  # Ctrl-C reaches the child, which holds the foreground
    assert term.wait() == 128 + signal.SIGINT


def test_not_pid_1_ctrl_z_suspends_the_whole_job(pty: type[Pty]) -> None:
    """pyinit as a foreground job of an interactive shell: Ctrl-Z stops the child,
    pyinit follows so the shell gets its terminal back; fg resumes both."""
    term = pty(BASH)
    term.expect(b"READY> ")
    term.send(f"{PYINIT} -- sleep 100\n".encode())
    init = wait_for(lambda: find(term.pid, "pyinit"))
    sleep = wait_for(lambda: find(init, "sleep"))
    wait_for(lambda: term.foreground() == sleep)
    for sig in (signal.SIGTTOU, signal.SIGTTIN):  # dropped: pyinit never stops on these
        os.kill(init, sig)
    time.sleep(0.3)
    assert stat(init)[0] in "SR" and stat(sleep)[0] == "S"
    term.send(CTRL_Z)
    term.expect(b"Stopped")
    term.expect(b"READY> ")
    wait_for(lambda: stat(init)[0] == "T" and stat(sleep)[0] == "T")
    assert term.foreground() == term.pid
    term.send(b"fg\n")
    wait_for(lambda: stat(init)[0] in "SR" and stat(sleep)[0] == "S")
    wait_for(lambda: term.foreground() == sleep)
    term.send(CTRL_C)
    term.expect(b"READY> ")
    term.send(b"echo rc=$?\n")
    term.expect(b"rc=130")
    term.send(b"exit\n")
    assert term.wait() == 0


def test_background_pyinit_never_steals_the_terminal(pty: type[Pty], tmp_path: Path) -> None:
    """``pyinit -- x &`` from an interactive shell: the shell keeps the foreground."""
    out = tmp_path / "stat"
    term = pty(BASH)
    term.expect(b"READY> ")
    shell = term.pid
    term.run(f"unshare -fp --mount-proc {PYINIT} -- sh -c 'sleep 1; cat /proc/self/stat > {out}' &")
    init = wait_for(lambda: find(shell, "pyinit"))
    assert stat(init)[1] != shell  # a background job: a group of its own
    wait_for(lambda: out.exists() and out.read_text())
    assert term.foreground() == shell  # never handed to pyinit's child
    term.send(b"wait; echo rc=$?\n")
    term.expect(b"rc=0")
    assert term.foreground() == shell
    # Same in tini mode, and without a namespace.
    term.send(f"{PYINIT} --compat tini -- sleep 0.5 & wait; echo rc=$?\n".encode())
    term.expect(b"rc=0")
    assert term.foreground() == shell
    term.send(b"exit\n")
    assert term.wait() == 0
