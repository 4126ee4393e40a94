"""Options: the table-driven parser, its errors, value parsers and pyinit's own table.

The parser is hand-written: argparse and getopt each cost about 6 ms (both
pull in gettext) on the path from exec to the child running, and the tini and
dumb-init personalities need their own tables anyway. Option parsing stops at
the first non-option, so ``--`` is optional.
"""

from pyinit import __version__, signals
from pyinit.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command line: a one-line message, then a hint, then exit ``code``.

    ``kind`` says what went wrong, so that a personality can word it as the
    program it stands in for would: "option" (unknown, or a value missing:
    ``getopt`` then holds glibc getopt's wording), "value" (``option`` was
    given the bad ``value``), "command" (none given) or "other".
    """

    def __init__(
        self, message: str, code: int = EXIT_USAGE, kind: str = "other", option: str = "", value: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.option = option
        self.value = value
        self.getopt = ""
        self.personality = "pyinit"


class EarlyExit(Exception):
    """--help or --version: print ``text`` (on stderr if ``to_stderr``) and exit 0."""

    def __init__(self, text: str, to_stderr: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.to_stderr = to_stderr


def parse_duration(text: str) -> float:
    """:func:`pyinit.durations.parse_duration`, imported only for a duration with a unit
    (``--grace 5`` is plain seconds: one module less on the way to the child)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if 0 <= seconds < float("inf"):
        return seconds
    from pyinit import durations

    return durations.parse_duration(text)


def parse_exit_code(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 255:
        raise ValueError(f"invalid exit code: {text!r} (0-255)")
    return int(text)


# -- the option table ------------------------------------------------------
# Each option: (short letters, long names, takes a value, what it does).


def more_verbose(s: Settings, _: str) -> None:
    s.verbosity += 1


def _rewrite(s: Settings, value: str) -> None:
    source, target = signals.parse_rewrite(value)
    s.rewrite[source] = target


def expect_exit(s: Settings, value: str) -> None:
    s.expect_exit = s.expect_exit | {parse_exit_code(value)}


def apply_log_format(s: Settings, value: str) -> None:
    if value == "console":
        s.log_format = "console"
    elif value == "json":
        s.log_format = "json"
    else:
        raise ValueError(f"invalid log format: {value!r} (console or json)")


def _set(attr: str, convert: "Callable[[str], object]") -> "Callable[[Settings, str], None]":
    def apply(s: Settings, value: str) -> None:
        setattr(s, attr, convert(value))

    return apply


def flag(attr: str) -> "Callable[[Settings, str], None]":
    return _set(attr, lambda _: True)


def _help(_: Settings, __: str) -> None:
    raise EarlyExit(HELP)


def _version(_: Settings, __: str) -> None:
    raise EarlyExit(f"pyinit {__version__}")


def _compat_not_first(_: Settings, __: str) -> None:
    raise ValueError("must be the first argument")


Option = tuple[str, tuple[str, ...], bool, "Callable[[Settings, str], None]"]

NATIVE_OPTIONS: list[Option] = [
    ("c", ("single-child",), False, flag("single_child")),
    ("r", ("rewrite",), True, _rewrite),
    ("e", ("expect-exit",), True, expect_exit),
    ("s", ("subreaper",), False, flag("subreaper")),
    ("v", ("verbose",), False, more_verbose),
    ("", ("log-format",), True, apply_log_format),
    ("", ("grace",), True, _set("grace", parse_duration)),
    ("", ("stop-signal",), True, _set("stop_signal", signals.parse)),
    ("", ("stop-delay",), True, _set("stop_delay", parse_duration)),
    ("", ("pdeathsig",), True, _set("pdeathsig", signals.parse)),
    ("", ("config",), True, _set("config", str)),
    ("", ("procfile",), True, _set("procfile", str)),
    ("", ("control-socket",), True, _set("control_socket", str)),
    ("", ("termination-log",), True, _set("termination_log", str)),
    ("h", ("help",), False, _help),
    ("", ("version",), False, _version),
    ("", ("compat",), True, _compat_not_first),
]

HELP = """\
usage: pyinit [OPTIONS] [--] COMMAND [ARGS...]
       pyinit [OPTIONS] --config services.toml | --procfile Procfile
       pyinit ctl [--control-socket PATH] status|start|stop|restart|signal|ready|wait-stop ...
       pyinit doctor [OPTIONS]

Run COMMAND as the child of a minimal init: reap every zombie, forward
signals, exit with the child's status (128+N for a death by signal N),
and stop everything left behind before exiting.

options:
  -c, --single-child     forward signals to the child only, not its process group
  -r, --rewrite SIG:SIG  forward the first signal as the second (target 0 drops it)
  -e, --expect-exit CODE treat exit status CODE as 0 (repeatable)
  -s, --subreaper        accepted for tini compatibility (automatic when not PID 1)
  -v, --verbose          more log output (-v lifecycle events, -vv debug)
      --log-format FMT   console (default) or json
      --grace DURATION   time left to the remaining processes after the child
                         exits, before SIGKILL (default 5s; 0 exits at once)
      --stop-signal SIG  signal that asks the remaining processes to stop (TERM)
      --stop-delay DUR   drain first: not ready at once, the stop request
                         forwarded this much later (0)
      --pdeathsig SIG    receive SIG when pyinit's parent dies
      --config FILE      supervise the services of a TOML file
      --procfile FILE    supervise the processes of a Procfile (foreman/honcho)
      --control-socket PATH  where `pyinit ctl` talks to pyinit (/run/pyinit.sock)
      --termination-log PATH  write why pyinit exited there (default
                         /dev/termination-log when it is writable; '' for none)
      --compat NAME      behave as tini or dumb-init (first argument only; also
                         chosen by invoking pyinit as tini, docker-init,
                         podman-init or dumb-init)
  -h, --help             show this help and exit
      --version          show the version and exit

environment: PYINIT_VERBOSITY, PYINIT_LOG_FORMAT, PYINIT_SINGLE_CHILD, PYINIT_GRACE,
PYINIT_CONTROL_SOCKET, PYINIT_TERMINATION_LOG
exit status: the child's; 2 usage error; 126 not executable; 127 not found;
1 internal failure."""


def _lookup(table: "Sequence[Option]") -> tuple[dict[str, Option], dict[str, Option]]:
    shorts = {letter: opt for opt in table for letter in opt[0]}
    longs = {name: opt for opt in table for name in opt[1]}
    return shorts, longs


def _option_error(message: str, getopt: str) -> UsageError:
    error = UsageError(message, kind="option")
    error.getopt = getopt
    return error


def parse_options(args: "Sequence[str]", table: "Sequence[Option]", settings: Settings) -> list[str]:
    """Apply the options at the front of ``args`` to ``settings``; return the command."""
    shorts, longs = _lookup(table)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return list(args[i + 1 :])
        if not arg.startswith("-") or arg == "-":
            return list(args[i:])
        i += 1
        if arg.startswith("--"):
            name, eq, inline = arg[2:].partition("=")
            option = longs.get(name)
            if option is None:
                raise _option_error(f"unknown option: --{name}", f"unrecognized option '--{name}'")
            if option[2]:
                if not eq:
                    if i >= len(args):
                        raise _option_error(f"option --{name} needs a value", f"option '--{name}' requires an argument")
                    inline, i = args[i], i + 1
                _apply(option, settings, inline, f"--{name}")
            elif eq:
                raise _option_error(f"option --{name} takes no value", f"option '--{name}' doesn't allow an argument")
            else:
                _apply(option, settings, "", f"--{name}")
            continue
        letters = arg[1:]
        for pos, letter in enumerate(letters):
            option = shorts.get(letter)
            if option is None:
                raise _option_error(f"unknown option: -{letter}", f"invalid option -- '{letter}'")
            if option[2]:
                value = letters[pos + 1 :]
                if not value:
                    if i >= len(args):
                        raise _option_error(
                            f"option -{letter} needs a value", f"option requires an argument -- '{letter}'"
                        )
                    value, i = args[i], i + 1
                _apply(option, settings, value, f"-{letter}")
                break
            _apply(option, settings, "", f"-{letter}")
    return []


def _apply(option: Option, settings: Settings, value: str, spelled: str) -> None:
    try:
        option[3](settings, value)
    except ValueError as exc:  # SignalError included
        raise UsageError(f"{spelled}: {exc}", kind="value", option=spelled, value=value) from None
