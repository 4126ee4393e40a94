"""Arguments and environment -> :class:`Settings`, then hand over to the init.

The personality (tini, dumb-init or pyinit's own, from the program's name or
``--compat``) picks the option table that :mod:`pyinit.options` parses.
"""

import posix
import sys

from pyinit.fs import basename
from pyinit.options import EarlyExit, UsageError, apply_log_format, parse_duration, parse_options
from pyinit.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# First arguments that are pyinit's own commands, not a program to run.
RESERVED = {"ctl": "the control client", "doctor": "the environment check"}

__all__ = ["EarlyExit", "Settings", "UsageError", "main", "parse", "parse_duration"]


def apply_environment(settings: Settings, env: "Mapping[str, str]") -> None:
    """PYINIT_* variables; called before the flags, which win."""
    try:
        if "PYINIT_VERBOSITY" in env:
            settings.verbosity = int(env["PYINIT_VERBOSITY"])
        if "PYINIT_LOG_FORMAT" in env:
            apply_log_format(settings, env["PYINIT_LOG_FORMAT"])
        if env.get("PYINIT_SINGLE_CHILD", "") not in ("", "0"):
            settings.single_child = True
        if "PYINIT_GRACE" in env:
            settings.grace = parse_duration(env["PYINIT_GRACE"])
        if env.get("PYINIT_CONTROL_SOCKET"):
            settings.control_socket = env["PYINIT_CONTROL_SOCKET"]
        if "PYINIT_TERMINATION_LOG" in env:
            settings.termination_log = env["PYINIT_TERMINATION_LOG"]
    except ValueError as exc:
        raise UsageError(f"environment: {exc}") from None


def check_mode(settings: Settings) -> None:
    """One command, or one services file: never both, never none."""
    if settings.config is not None and settings.procfile is not None:
        raise UsageError("--config and --procfile cannot be combined")
    if settings.config is not None or settings.procfile is not None:
        if settings.command:
            raise UsageError("a command cannot be combined with --config or --procfile")
    elif not settings.command:
        raise UsageError("no command given", kind="command")


def anchor_paths(settings: Settings) -> None:
    """Paths pyinit opens after it has left its directory for / (the control socket, the
    termination message) are taken as given on the command line, from where pyinit started."""
    try:
        if settings.control_socket and not settings.control_socket.startswith(("/", "@")):
            settings.control_socket = _absolute(settings.control_socket)
        if settings.termination_log and not settings.termination_log.startswith("/"):
            settings.termination_log = _absolute(settings.termination_log)
    except OSError:  # the directory is gone: nothing to anchor them to, they stay as given
        pass


def _absolute(path: str) -> str:
    import os  # only for a relative path: not on the usual start

    return os.path.abspath(path)


def parse(argv: "Sequence[str]", env: "Mapping[str, str]") -> Settings:
    """Settings from a command line: the personality (from the program's name or
    a leading ``--compat NAME``) sets the defaults, then PYINIT_* variables, then
    the personality's own variables, then its flags."""
    from pyinit import personality

    persona: personality.Personality = personality.NATIVE
    if argv and basename(argv[0]) in personality.PROGRAM_NAMES:
        from pyinit import personalities

        persona = personalities.for_program(argv[0])
    args = list(argv[1:])
    try:
        if args and (args[0] == "--compat" or args[0].startswith("--compat=")):
            from pyinit import personalities

            name = args[0].partition("=")[2] if "=" in args[0] else (args[1] if len(args) > 1 else "")
            args = args[1:] if "=" in args[0] else args[2:]
            persona = personalities.by_name(name)
        settings = Settings(persona)
        persona.defaults(settings)
        apply_environment(settings, env)
        persona.environment(settings, env)
        if persona.name == "pyinit" and args and args[0] in RESERVED:
            word = args[0]
            hint = f"use 'pyinit -- {word}' to run a program named {word}"
            raise UsageError(f"'{word}' is reserved for {RESERVED[word]}; {hint}")
        persona.before_options(args)
        settings.command = parse_options(args, persona.options, settings)
        check_mode(settings)
        persona.finish(settings)
        anchor_paths(settings)
    except UsageError as exc:
        exc.personality = persona.name
        raise
    return settings


def environment() -> dict[str, str]:
    """``os.environ`` as a plain dict, decoded as ``os`` decodes it, without importing ``os``."""
    return {
        key.decode("utf-8", "surrogateescape"): value.decode("utf-8", "surrogateescape")
        for key, value in posix.environ.items()
    }


def _personality_names() -> dict[str, str]:
    from pyinit.personality import PROGRAM_NAMES

    return PROGRAM_NAMES


def main(argv: "Sequence[str] | None" = None) -> int:
    argv = sys.argv if argv is None else argv
    if argv[1:2] == ["ctl"] and basename(argv[0]) not in _personality_names():
        from pyinit import ctl

        return ctl.main(argv[2:], environment())
    if argv[1:2] == ["doctor"] and basename(argv[0]) not in _personality_names():
        from pyinit import doctor

        return doctor.main(argv[2:], environment(), parse)
    try:
        settings = parse(argv, environment())
    except EarlyExit as done:
        (sys.stderr if done.to_stderr else sys.stdout).write(done.text + "\n")
        return 0
    except UsageError as exc:
        from pyinit import personalities

        text, code = personalities.by_name(exc.personality).usage_failure(argv[0] if argv else "pyinit", exc)
        sys.stderr.write(text)
        return code
    from pyinit import log

    log.configure(settings.verbosity, settings.log_format)
    if settings.config is not None or settings.procfile is not None:
        from pyinit import services

        return services.main(settings)
    from pyinit.init import Frame
    from pyinit.single import SingleChild

    return Frame(settings).run(SingleChild(settings))
