"""Start a child clean.

A child of pyinit must look as if its parent were a shell: every signal at its
default disposition (Python ignores SIGPIPE and SIGXFSZ, and a pyinit started
by ``posix_spawn`` has glibc's 32 and 33 ignored, all of which survive exec),
an empty signal mask (pyinit blocks everything), only the file descriptors
pyinit was given (its own are close-on-exec), and its own process group or
session, holding the terminal's foreground when pyinit held it.

``os.posix_spawn`` cannot do this: glibc's implementation always leaves 32 and
33 ignored in the child. So this is fork + exec, with the few steps in between
done by the forked child in Python before it replaces itself.
"""

import _signal
import errno
import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Literal

    Credentials = tuple[int | None, int | None, list[int] | None]
    Isolation = Literal["pgroup", "session"]
    ChildSignals = Literal["reset", "inherit"]

# How the child is isolated from pyinit.
PGROUP: 'Literal["pgroup"]' = "pgroup"  # a new process group (tini, pyinit): signals reach the group
SESSION: 'Literal["session"]' = "session"  # a new session taking the controlling terminal (dumb-init)

# What the child's signals start as.
RESET: 'Literal["reset"]' = "reset"  # every one at its default, none blocked (pyinit)
INHERIT: 'Literal["inherit"]' = "inherit"  # as pyinit found them: ignored ones stay ignored, the mask comes back (tini)

SIGPIPE = 13
SIGXFSZ = 25

TIOCSCTTY = 0x540E

# Where a command is looked for when PATH is not set (os.defpath).
DEFAULT_PATH = "/bin:/usr/bin"

# A child's oom_score_adj is pyinit's plus this (at most 1000) unless told otherwise:
# within a memory limit, the OOM killer then picks a child before PID 1.
OOM_SCORE_STEP = 100

# ``env["WATCHDOG_PID"] = OWN_PID``: the child puts its own pid there (systemd's watchdog
# protocol names the process it is meant for, and the pid is only known after the fork).
OWN_PID = "\0pid"


class SpawnError(Exception):
    """The command could not be started; ``code`` is the exit status to report.

    ``step`` is what failed in the child between fork and exec (``exec``,
    ``cwd``, ``setgroups``, ``setgid``, ``setuid``, ``fds``, ``setsid``,
    ``setpgid``, ``signals``), ``errno`` why.
    """

    def __init__(self, code: int, message: str, err: int = 0, step: str = "exec") -> None:
        super().__init__(message)
        self.code = code
        self.errno = err
        self.step = step


# What each step before exec does, as the failure reports it.
STEPS = {
    "setsid": "start a session",
    "setpgid": "start a process group",
    "fds": "set up file descriptors",
    "setgroups": "set supplementary groups",
    "setgid": "set group",
    "setuid": "set user",
    "cwd": "enter the working directory",
    "signals": "reset signals",
}


def exec_failure(command: str, err: int, step: str = "exec") -> SpawnError:
    """The failure for ``err`` at ``step``: 127 when the command is not found, else 126."""
    reason = posix.strerror(err) if err else "unknown error"
    if step != "exec":
        return SpawnError(126, f"{command}: cannot {STEPS.get(step, step)}: {reason}", err, step)
    if err == errno.ENOENT:
        return SpawnError(127, f"{command}: command not found", err)
    if err in (errno.EACCES, errno.EPERM, errno.EISDIR):
        return SpawnError(126, f"{command}: permission denied (not executable)", err)
    if err == errno.ENOEXEC:
        return SpawnError(126, f"{command}: exec format error (not an executable)", err)
    return SpawnError(126, f"{command}: cannot execute: {reason}", err)


def spawn(
    argv: "Sequence[str]",
    isolation: "Isolation" = PGROUP,
    terminal_fd: int | None = None,
    env: "Mapping[str, str] | None" = None,
    cwd: str | None = None,
    credentials: "Credentials | None" = None,
    fds: "Mapping[int, int] | None" = None,
    child_signals: "ChildSignals" = RESET,
    oom_score_adj: int | None = None,
) -> tuple[int, SpawnError | None]:
    """Fork and exec ``argv``; return ``(pid, error)``.

    The pid is always a real child that the reaper will collect, even when
    exec failed (it then exits 126 or 127 and ``error`` says why), so that
    there is still exactly one place that waits for children.

    ``terminal_fd`` is a terminal whose foreground pyinit holds: the child's
    group takes it over (PGROUP) or the child makes it its controlling
    terminal (SESSION).

    ``credentials`` (uid, gid, supplementary groups) are taken in the child
    before exec; ``fds`` maps a descriptor number in the child to one of
    ours that it becomes (a service's output pipe, its readiness pipe).
    ``child_signals`` is RESET or INHERIT. ``oom_score_adj`` is the child's
    (None: pyinit's own plus OOM_SCORE_STEP, so the OOM killer takes a child
    before pyinit; raising it needs no privilege, lowering it below pyinit's
    needs CAP_SYS_RESOURCE, and without it the child keeps pyinit's value).
    """
    ignored, own_oom_score = _own_state()
    oom_score = _child_oom_score(oom_score_adj, own_oom_score)
    report_r, report_w = posix.pipe()  # close-on-exec: EOF on a successful exec
    pid = posix.fork()
    if pid == 0:
        posix.close(report_r)
        _become(argv, isolation, terminal_fd, env, cwd, report_w, credentials, fds, child_signals, oom_score, ignored)
    posix.close(report_w)
    if isolation == PGROUP:
        try:  # both sides set it, so neither races the other
            posix.setpgid(pid, pid)
        except OSError:
            pass
    try:
        report = b""
        while chunk := posix.read(report_r, 64):
            report += chunk
    finally:
        posix.close(report_r)
    if report:
        step, _, err = report.decode("ascii", "replace").partition(":")
        return pid, exec_failure(argv[0], int(err) if err.isdigit() else 0, step)
    return pid, None


def spawn_quiet(argv: "Sequence[str]") -> tuple[int, SpawnError | None]:
    """:func:`spawn` with stdin, stdout and stderr on /dev/null, in a process group of its
    own: a probe or a check, whose only answer is its exit status."""
    devnull = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
    try:
        return spawn(argv, PGROUP, fds={0: devnull, 1: devnull, 2: devnull})
    finally:
        posix.close(devnull)


def _become(
    argv: "Sequence[str]",
    isolation: "Isolation",
    terminal_fd: int | None,
    env: "Mapping[str, str] | None",
    cwd: str | None,
    report_w: int,
    credentials: "Credentials | None" = None,
    fds: "Mapping[int, int] | None" = None,
    child_signals: "ChildSignals" = RESET,
    oom_score: bytes | None = None,
    ignored: int = -1,
) -> None:
    """In the forked child: isolate, restore signals, exec. Never returns.

    Whatever fails is written to ``report_w`` as ``STEP:ERRNO`` for the parent to report.
    """
    code = 126
    step = "setsid" if isolation == SESSION else "setpgid"
    try:
        if isolation == SESSION:
            posix.setsid()
            if terminal_fd is not None:
                try:
                    import fcntl

                    fcntl.ioctl(terminal_fd, TIOCSCTTY, 0)
                except OSError:
                    pass
        elif isolation == PGROUP:
            posix.setpgid(0, 0)
            if terminal_fd is not None:
                try:  # SIGTTOU is still blocked here, so this cannot stop us
                    posix.tcsetpgrp(terminal_fd, posix.getpgrp())
                except OSError:
                    pass
        if fds:
            step = "fds"
            report_w = _move_fds(fds, report_w)
        _set_oom_score_adj(oom_score)  # before setuid, which makes /proc/self/* root's
        if credentials is not None:
            uid, gid, groups = credentials
            if groups is not None:
                step = "setgroups"
                posix.setgroups(groups)
            if gid is not None:
                step = "setgid"
                posix.setgid(gid)
            if uid is not None:
                step = "setuid"
                posix.setuid(uid)
        if cwd is not None:
            step = "cwd"
            posix.chdir(cwd)
        step = "signals"
        # Read before the reset, which rewrites Python's table of handlers.
        inherited = _ignored_at_start() if child_signals == INHERIT else []
        _reset_ignored_signals(ignored)
        if child_signals == INHERIT:
            _inherit_signals(inherited)
        else:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        if env is not None and env.get("WATCHDOG_PID") == OWN_PID:
            env = {**env, "WATCHDOG_PID": str(posix.getpid())}
        step = "exec"
        _exec(list(argv), env)
    except OSError as exc:
        err = exc.errno or (errno.ENOEXEC if step == "exec" else 0)
        code = exec_failure(argv[0], err, step).code
        _report(report_w, f"{step}:{err}")
    except BaseException:
        _report(report_w, f"{step}:0")
    posix._exit(code)


def _child_oom_score(value: int | None, own: int | None) -> bytes | None:
    """What the child writes to its ``oom_score_adj``: ``value``, or pyinit's own plus
    OOM_SCORE_STEP (at most 1000); None when that is what it inherits anyway."""
    if value is not None:
        return str(value).encode()
    if own is None:
        return None
    raised = min(own + OOM_SCORE_STEP, 1000)
    return None if raised == own else str(raised).encode()


def _set_oom_score_adj(value: bytes | None) -> None:
    """In the child. Never fatal: a value the kernel refuses leaves the inherited one."""
    if value is None:
        return
    try:
        fd = posix.open("/proc/self/oom_score_adj", posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        posix.write(fd, value)
    except OSError:
        pass
    finally:
        posix.close(fd)


def _report(fd: int, text: str) -> None:
    try:
        posix.write(fd, text.encode())
    except BaseException:  # nothing left to tell it with; the exit status still says 126
        pass


def _exec(argv: list[str], env: "Mapping[str, str] | None") -> None:
    """``os.execvpe`` without its ``import warnings`` (about 1 ms in the child before exec),
    and without ``os``: ``env`` None is pyinit's own environment, as ``posix`` holds it.

    Same search: a name with a slash is run as is; otherwise each PATH entry
    in turn, reporting the first error other than "not found"."""
    environ: Mapping[str, str] | Mapping[bytes, bytes] = posix.environ if env is None else env
    if "/" in argv[0]:
        posix.execve(argv[0], argv, environ)
    if env is None:
        search = posix.environ.get(b"PATH", DEFAULT_PATH.encode()).decode("utf-8", "surrogateescape")
    else:
        search = env.get("PATH", DEFAULT_PATH)
    first: OSError | None = None
    last: OSError = FileNotFoundError(errno.ENOENT, posix.strerror(errno.ENOENT), argv[0])
    for directory in search.split(":"):
        try:
            posix.execve(f"{directory or '.'}/{argv[0]}", argv, environ)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            first = first or exc
            last = exc
    raise first or last


def _reset_ignored_signals(ignored: int) -> None:
    """Put back to SIG_DFL every signal ignored here, the only dispositions exec keeps.

    ``ignored`` is the parent's mask from /proc/self/status (bit N-1 for signal N; -1
    when it could not tell), so the usual case (Python's SIGPIPE and SIGXFSZ) costs two
    ``signal()`` calls, not ctypes (about 2 ms to import in the child before exec).
    Python refuses glibc's 32 and 33, so when those are ignored, or /proc could not
    tell, the raw system call resets all.
    """
    if ignored < 0 or ignored & (0b11 << 31):  # bit N-1 is signal N
        from pyinit import linux

        linux.reset_signal_dispositions()
        return
    for sig in range(1, 65):
        if ignored >> (sig - 1) & 1:
            _signal.signal(sig, _signal.SIG_DFL)


# What the parent knows of itself, read before its first fork and kept: pyinit never
# changes a disposition or its own oom_score_adj, and a read in the forked child (a
# copy-on-write fault for every Python object it touches) cost about 0.5 ms before exec.
_OWN_STATE: tuple[int, int | None] | None = None


def _own_state() -> tuple[int, int | None]:
    """(the signals pyinit ignores as a mask, -1 if unknown; its oom_score_adj, None if unknown)."""
    global _OWN_STATE
    if _OWN_STATE is None:
        try:
            status = _read_self("status")
            start = status.index(b"SigIgn:") + 7
            ignored = int(status[start : status.index(b"\n", start)], 16)
        except (OSError, ValueError):  # /proc/self/status is the only source that knows 32 and 33
            ignored = -1
        try:
            oom_score: int | None = int(_read_self("oom_score_adj"))
        except (OSError, ValueError):
            oom_score = None
        _OWN_STATE = ignored, oom_score
    return _OWN_STATE


def _read_self(name: str) -> bytes:
    fd = posix.open(f"/proc/self/{name}", posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        return posix.read(fd, 65536)
    finally:
        posix.close(fd)


def _ignored_at_start() -> list[int]:
    """The signals pyinit's parent left ignored, from Python's table of handlers
    (filled in at start-up), but SIGPIPE and SIGXFSZ: Python ignores those
    itself, so whether the parent did cannot be told."""
    ignored = _signal.SIG_IGN
    return [
        sig for sig in _signal.valid_signals() if sig not in (SIGPIPE, SIGXFSZ) and _signal.getsignal(sig) == ignored
    ]


def _inherit_signals(ignored: list[int]) -> None:
    """Give back what pyinit was started with, as tini does: a parent that ignored
    SIGHUP (nohup) or blocked a signal meant the program to run that way."""
    import pyinit

    for sig in ignored:
        _signal.signal(sig, _signal.SIG_IGN)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, pyinit.ORIGINAL_MASK)


def _move_fds(fds: "Mapping[int, int]", report_w: int) -> int:
    """dup2 each source onto its target without one clobbering another's source
    (or the exec-failure pipe, whose new number is returned)."""
    import fcntl

    # Lift every source above all targets first, so no target overwrites a pending source.
    floor = max([*fds, *fds.values(), report_w]) + 1
    lifted = {target: fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, floor) for target, source in fds.items()}
    report_w = fcntl.fcntl(report_w, fcntl.F_DUPFD_CLOEXEC, floor)
    for target, source in lifted.items():
        posix.dup2(source, target)  # inheritable: the exec'd program keeps it
    return report_w
