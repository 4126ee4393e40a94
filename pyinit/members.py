"""Who is left to stop: the processes in pyinit's charge, each held by a pidfd.

As PID 1 that is every process of the PID namespace (daemons that called
setsid(), processes that entered with nsenter/docker exec, members of nested
namespaces); as a subreaper, every descendant. Nothing else, ever.

Two traps. First, a PID is only a name, and it can be reused between the
moment it is read and the moment it is signalled: each member is held by a
pidfd, opened and then checked against what was seen, and signals go through
that pidfd, so a recycled PID can never receive a signal meant for a process
that is gone. Second, ``/proc`` may belong to another namespace: ``unshare
-fp`` without ``--mount-proc`` leaves the host's, whose PIDs mean other
processes in ours. The ``NSpid`` line of ``/proc/self/status`` tells: it lists
our PID from the namespace of ``/proc`` down to ours, so it has one entry
exactly when ``/proc`` is ours. Otherwise each entry of ``/proc`` is a
candidate whose PID in our namespace is the same column of its own ``NSpid``.
``pidfd_open`` resolves PIDs in our namespace only, so it can reach no host
process at all, and the pidfd's ``fdinfo`` (which reports the PID as
``/proc`` names it) proves that it holds that very candidate.
"""

from __future__ import annotations

import errno
import posix

from pyinit.fs import exists as _exists

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container, Iterable

PF_KTHREAD = 0x00200000


class Member:
    """One process to stop, held by ``pidfd``; ``pid`` is its PID in our namespace."""

    __slots__ = ("command", "pid", "pidfd", "proc_pid", "stopped")

    def __init__(self, pidfd: int, pid: int, proc_pid: int, command: str, stopped: bool) -> None:
        self.pidfd = pidfd
        self.pid = pid
        self.proc_pid = proc_pid
        self.command = command
        self.stopped = stopped  # job-control stopped: it also needs SIGCONT to act on a signal

    def send(self, sig: int) -> bool:
        """Signal the process itself, never whoever holds its PID now; False if it is gone."""
        import _signal

        try:
            _signal.pidfd_send_signal(self.pidfd, sig)
        except ProcessLookupError:
            return False
        return True

    def current_command(self) -> str:
        """The command now: the one seen when opened may predate an exec."""
        command = command_of(self.proc_pid)
        try:
            if fdinfo_pid(self.pidfd) == self.proc_pid:  # still alive, so that was its cmdline
                return command
        except OSError:
            pass
        return self.command

    def close(self) -> None:
        posix.close(self.pidfd)


class Stat:
    """The fields of ``/proc/PID/stat`` a scan needs."""

    __slots__ = ("flags", "ppid", "start", "state")

    def __init__(self, text: str) -> None:
        # The command in parentheses may itself hold spaces and parentheses.
        fields = text[text.rindex(")") + 2 :].split()
        self.state = fields[0]
        self.ppid = int(fields[1])
        self.flags = int(fields[6])
        self.start = int(fields[19])


def read_stat(proc_pid: int) -> Stat:
    with open(f"/proc/{proc_pid}/stat") as f:
        return Stat(f.read())


def descendants(root: int) -> list[int]:
    """Every descendant of ``root``.

    The kernel lists each thread's children in ``/proc/PID/task/TID/children``:
    walking those reads a file or two per descendant, where following parent
    links (what psutil does) reads every process on the machine, a cost a
    subreaper on a busy host would pay on every exit.
    """
    if not _exists(f"/proc/{root}/task/{root}/children"):  # CONFIG_PROC_CHILDREN off
        return descendants_by_parent_links(root)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            kids = [
                int(kid)
                for tid in posix.listdir(f"/proc/{pid}/task")
                for kid in _read(f"/proc/{pid}/task/{tid}/children").split()
            ]
        except OSError:
            continue  # gone meanwhile; the teardown re-scans before it ends
        found.extend(kids)
        todo.extend(kids)
    return found


def descendants_by_parent_links(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in posix.listdir("/proc"):
        if name.isdigit():
            try:
                children.setdefault(read_stat(int(name)).ppid, []).append(int(name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def nspids(proc_pid: int | str) -> list[int]:
    """The ``NSpid`` line: the PID from the namespace of /proc down to the process's own."""
    with open(f"/proc/{proc_pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(field) for field in line.split()[1:]]
    return []  # kernels before 4.1: no nested namespaces to tell apart


def fdinfo_pid(fd: int) -> int:
    """The PID of a pidfd's process as /proc names it: -1 once it has exited, 0 if not visible."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return 0


def command_of(proc_pid: int) -> str:
    try:
        with open(f"/proc/{proc_pid}/cmdline", "rb") as f:
            raw = f.read()
        if raw:
            return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{proc_pid}/comm") as f:
            return f"[{f.read().strip()}]"
    except OSError:
        return "?"


class Scope:
    """The processes pyinit answers for: its namespace as PID 1, its subtree as a subreaper."""

    def __init__(self, whole_namespace: bool | None = None) -> None:
        self.whole_namespace = posix.getpid() == 1 if whole_namespace is None else whole_namespace
        own = nspids("self") or [posix.getpid()]
        self.proc_self = own[0]
        # Our column in every NSpid line; 0 when /proc is ours.
        self.level = len(own) - 1
        self.full = False  # the last scan ran out of file descriptors

    @property
    def proc_is_ours(self) -> bool:
        return self.level == 0

    def candidates(self) -> Iterable[int]:
        """PIDs as /proc names them; a superset, each checked by :meth:`open`."""
        if self.whole_namespace:
            return (int(name) for name in posix.listdir("/proc") if name.isdigit() and int(name) != self.proc_self)
        # The same /proc walk psutil's children(recursive=True) does, without its
        # import (about 10 ms on the way out of every `pyinit CMD` as a subreaper).
        return descendants(self.proc_self)

    def scan(self, known: Container[int] = ()) -> list[Member]:
        """Open a member for every candidate not in ``known`` (proc PIDs) and still running."""
        found = []
        self.full = False
        for proc_pid in self.candidates():
            if proc_pid in known:
                continue
            try:
                member = self.open(proc_pid)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    self.full = True  # the rest waits for a later scan, when some have gone
                    break
                if exc.errno in (errno.ENOSYS, errno.EPERM):
                    raise  # no pidfds here at all (an old kernel, an old seccomp profile)
                continue  # it exited meanwhile
            except (ValueError, IndexError):
                continue  # a /proc file cut short as the process exits
            if member is not None:
                found.append(member)
        return found

    def open(self, proc_pid: int) -> Member | None:
        """A pidfd on ``proc_pid``, if it is a running process in our charge."""
        stat = read_stat(proc_pid)
        if stat.state in "ZXx" or stat.flags & PF_KTHREAD:
            return None  # zombies are the reaper's; kernel threads (PID 1 of a host) are no one's
        if self.proc_is_ours:
            pid = proc_pid
        else:
            column = nspids(proc_pid)
            if len(column) <= self.level:
                return None  # an outsider: it has no PID in our namespace
            pid = column[self.level]
        fd = posix.pidfd_open(pid)
        try:
            if not self.proc_is_ours and fdinfo_pid(fd) != proc_pid:
                posix.close(fd)  # that PID in our namespace is somebody else
                return None
            if read_stat(proc_pid).start != stat.start:
                posix.close(fd)  # the PID was reused since the candidate was listed
                return None
            return Member(fd, pid, proc_pid, command_of(proc_pid), stat.state == "T")
        except BaseException:
            posix.close(fd)
            raise
