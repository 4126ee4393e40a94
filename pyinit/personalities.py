"""Drop-in personalities: pyinit answering as tini or as dumb-init.

A personality is chosen by the name pyinit is invoked as (``dockerd
--init-path`` and ``podman run --init`` inject their init as ``docker-init``
and ``podman-init``, and both are tini) or by a leading ``--compat NAME``. It
decides the option table, the environment variables read, the defaults, the
wording of usage errors and exec failures, and the exit codes, so that scripts
written against the original keep working. Everything after parsing (reaping,
forwarding, graceful teardown) is pyinit's own.
"""

from __future__ import annotations

import errno
import posix

from pyinit import __version__, signals, spawn
from pyinit.fs import basename
from pyinit.options import EarlyExit, Option, UsageError, expect_exit, flag, more_verbose
from pyinit.personality import NATIVE, PROGRAM_NAMES, Personality
from pyinit.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# The releases whose behaviour each personality follows.
TINI_VERSION = "0.19.0"
DUMB_INIT_VERSION = "1.2.5"


# -- tini ---------------------------------------------------------------------


def _tini_group(s: Settings, _: str) -> None:
    s.single_child = False


def _tini_pdeathsig(s: Settings, value: str) -> None:
    s.pdeathsig = signals.parse(value)


def _tini_help(_: Settings, __: str) -> None:
    raise EarlyExit(tini_usage("tini").rstrip("\n"))


def _tini_license(_: Settings, __: str) -> None:
    raise EarlyExit("pyinit (running as tini) is distributed under the MIT licence.")


def tini_usage(program: str) -> str:
    # The first two lines follow tini's layout, which wrappers sometimes parse.
    name = basename(program)
    return f"""\
{name} (tini version {TINI_VERSION} - pyinit {__version__})
Usage: {name} [OPTIONS] PROGRAM -- [ARGS] | --version

Run PROGRAM as the child of an init that reaps zombies and forwards signals
(pyinit in tini-compatible mode).

Command line options:

  --version: print the version and exit.
  -h: print this help and exit.
  -s: act as a child subreaper (pyinit always does when it is not PID 1).
  -p SIGNAL: receive SIGNAL when the parent dies, e.g. "-p SIGKILL".
  -v: more output; repeat for more.
  -w: warn whenever a process other than the child is reaped.
  -g: forward signals to the child's process group, not just the child.
  -e EXIT_CODE: report EXIT_CODE (0-255) as 0; may be repeated.
  -l: print the licence and exit.

Environment variables:

  TINI_SUBREAPER: same as -s.
  TINI_VERBOSITY: verbosity level (default: 1).
  TINI_KILL_PROCESS_GROUP: same as -g.
  PYINIT_GRACE: time left to the other processes after the child exits (default 5s).

"""


class Tini(Personality):
    """tini 0.19: forwards to the child only unless -g; every failure exits 1."""

    name = "tini"
    options: Sequence[Option] = [
        ("h", (), False, _tini_help),
        ("s", (), False, flag("subreaper")),
        ("p", (), True, _tini_pdeathsig),
        ("v", (), False, more_verbose),
        ("w", (), False, flag("warn_on_reap")),
        ("g", (), False, _tini_group),
        ("e", (), True, expect_exit),
        ("l", (), False, _tini_license),
    ]

    def defaults(self, settings: Settings) -> None:
        settings.single_child = True
        settings.child_signals = spawn.INHERIT

    def environment(self, settings: Settings, env: Mapping[str, str]) -> None:
        # tini tests for presence, not value: TINI_SUBREAPER= (empty) counts.
        if "TINI_SUBREAPER" in env:
            settings.subreaper = True
        if "TINI_KILL_PROCESS_GROUP" in env:
            settings.single_child = False
        if "TINI_VERBOSITY" in env:
            # tini's levels: 0 fatal, 1 warnings (its default), 2 info, 3 debug;
            # pyinit's are one lower. atoi semantics: junk reads as 0.
            digits = env["TINI_VERBOSITY"].strip()
            settings.verbosity = (int(digits) if digits.isdigit() else 0) - 1

    def before_options(self, args: list[str]) -> None:
        # tini accepts --version only as the sole argument.
        if args == ["--version"]:
            raise EarlyExit(f"tini version {TINI_VERSION} - pyinit {__version__}")

    def usage_failure(self, program: str, error: UsageError) -> tuple[str, int]:
        program = basename(program)  # as run from PATH, not a shebang's or symlink's full path
        if error.kind == "value":
            return f"[FATAL tini ({posix.getpid()})] invalid value for {error.option}: {error.value}\n", 1
        head = f"{program}: {error.getopt}\n" if error.getopt else ""
        if error.kind in ("option", "command"):
            return head + tini_usage(program), 1
        return f"[FATAL tini ({posix.getpid()})] {error}\n", 1

    def exec_failure(self, command: str, failure: spawn.SpawnError, pid: int) -> spawn.SpawnError:
        # tini's codes: 127 not found, 126 permission denied, 1 anything else.
        err = failure.errno
        if failure.step != "exec":
            return spawn.SpawnError(1, f"[FATAL tini ({pid})] {failure}", err, failure.step)
        code = {errno.ENOENT: 127, errno.EACCES: 126}.get(err, 1)
        return spawn.SpawnError(code, f"[FATAL tini ({pid})] exec {command} failed: {posix.strerror(err)}", err)


# -- dumb-init ----------------------------------------------------------------

DUMB_INIT_MAXSIG = 31


def _dumb_signal(text: str, allow_zero: bool = False) -> int:
    """A signal as dumb-init's -r takes it: 1-31 (0 as a target), by number or name."""
    number = signals.parse(text, allow_zero=allow_zero)
    if number > DUMB_INIT_MAXSIG:
        raise signals.SignalError(f"invalid signal: {text}")
    return number


def _dumb_rewrite(s: Settings, value: str) -> None:
    source, target = signals.parse_rewrite(value, _dumb_signal)
    s.rewrite[source] = target


def _dumb_verbose(s: Settings, _: str) -> None:
    s.verbosity = max(s.verbosity, 2)


def _dumb_version(_: Settings, __: str) -> None:
    # Exactly dumb-init's line, which scripts parse; --help names pyinit.
    raise EarlyExit(f"dumb-init v{DUMB_INIT_VERSION}", to_stderr=True)


def _dumb_list(_: Settings, __: str) -> None:
    raise EarlyExit(
        "\n".join(f"{n:2d}: {signals.name(n).removeprefix('SIG')}" for n in range(1, DUMB_INIT_MAXSIG + 1)),
        to_stderr=True,
    )


def _dumb_help(_: Settings, __: str) -> None:
    raise EarlyExit(DUMB_INIT_HELP.rstrip("\n"), to_stderr=True)


DUMB_INIT_HELP = f"""\
dumb-init v{DUMB_INIT_VERSION} (pyinit {__version__})
Usage: dumb-init [option] command [[arg] ...]

Run command as the child of an init that reaps zombies and forwards signals
(pyinit in dumb-init-compatible mode). By default the child runs in a new
session that takes over the terminal, and signals go to its process group.

Optional arguments:
   -c, --single-child   no new session; signals go to the child only.
   -r, --rewrite s:r    forward signal s as signal r (by number 1-31 or name);
                        r = 0 drops s. May be repeated.
   -l, --list           print the signal numbers and names and exit.
   -v, --verbose        debugging output on stderr.
   -h, --help           print this help and exit.
   -V, --version        print the version and exit.

Environment: DUMB_INIT_SETSID=0 (same as -c), DUMB_INIT_DEBUG=1 (same as -v),
PYINIT_GRACE (time left to the other processes after the child exits, 5s).
"""


class DumbInit(Personality):
    """dumb-init 1.2: the child's own session and terminal, group signals, usage 1, exec failure 2."""

    name = "dumb-init"
    options: Sequence[Option] = [
        ("h", ("help",), False, _dumb_help),
        ("c", ("single-child",), False, flag("single_child")),
        ("r", ("rewrite",), True, _dumb_rewrite),
        ("l", ("list",), False, _dumb_list),
        ("v", ("verbose",), False, _dumb_verbose),
        ("V", ("version",), False, _dumb_version),
    ]

    def environment(self, settings: Settings, env: Mapping[str, str]) -> None:
        if env.get("DUMB_INIT_DEBUG") == "1":
            settings.verbosity = max(settings.verbosity, 2)
        if env.get("DUMB_INIT_SETSID") == "0":
            settings.single_child = True

    def finish(self, settings: Settings) -> None:
        # Both job-control answers stop pyinit itself, as dumb-init does (see run.py).
        settings.job_control = "stop"
        if settings.single_child:
            return
        settings.isolation = spawn.SESSION
        # In its own session the child's group gets no SIGTSTP from a terminal
        # it does not own: turn the polite request into SIGSTOP, unless rewritten.
        for sig in signals.JOB_CONTROL:
            settings.rewrite.setdefault(sig, signals.SIGSTOP)

    def usage_failure(self, program: str, error: UsageError) -> tuple[str, int]:
        program = basename(program)  # as run from PATH, not a shebang's or symlink's full path
        if error.kind == "option":
            return f"{program}: {error.getopt}\n", 1
        # dumb-init's own wording, line for line.
        if error.kind == "command":
            return f"Usage: {program} [option] program [args]\nTry {program} --help for full usage.\n", 1
        if error.kind == "value" and error.option in ("-r", "--rewrite"):
            return (
                f"Usage: -r option takes <signum>:<signum>, where <signum> is between 1 and {DUMB_INIT_MAXSIG}.\n"
                "This option can be specified multiple times.\n"
                "Use --help for full usage.\n"
            ), 1
        return f"[dumb-init] {error}\n", 1

    def exec_failure(self, command: str, failure: spawn.SpawnError, pid: int) -> spawn.SpawnError:
        if failure.step != "exec":
            return spawn.SpawnError(2, f"[dumb-init] {failure}", failure.errno, failure.step)
        return spawn.SpawnError(2, f"[dumb-init] {command}: {posix.strerror(failure.errno)}", failure.errno)


PERSONALITIES: dict[str, Personality] = {p.name: p for p in (NATIVE, Tini(), DumbInit())}


def for_program(argv0: str) -> Personality:
    """The personality the program was invoked as (its basename), pyinit's by default."""
    return PERSONALITIES[PROGRAM_NAMES.get(basename(argv0), "pyinit")]


def by_name(name: str) -> Personality:
    if name == "native":
        name = "pyinit"
    if name not in PERSONALITIES:
        raise UsageError(f"--compat: unknown personality {name!r} (tini, dumb-init or pyinit)")
    return PERSONALITIES[name]
