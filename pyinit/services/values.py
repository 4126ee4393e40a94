"""The values a service's keys take: each converter returns the value or raises ValueError with the
reason, which config.py reports with the file, the line and the key."""

from __future__ import annotations

import os

from pyinit import signals
from pyinit.durations import parse_duration
from pyinit.services.spec import READY_KINDS, Ready

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or a string like '500ms', '5s', '2m')")
    if isinstance(value, (int, float)):
        return parse_duration(str(value))  # one rule for numbers and strings: no negative, nan or inf
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration (seconds, or a string like '500ms', '5s', '2m')")


def command(value: Any) -> list[str]:
    if isinstance(value, str):
        import shlex

        words = shlex.split(value)
    elif isinstance(value, list) and all(isinstance(word, str) for word in value):
        words = list(value)
    else:
        raise ValueError("expected a string or a list of strings")
    if not words:
        raise ValueError("empty command")
    return words


def signal(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected a signal name or number")
    return signals.parse(str(value))


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {type(value).__name__}")
    return value


def directory(value: Any) -> str:
    # Checked now: a chdir failing in the forked child could only be reported as a failed exec.
    # With {instance}, each instance's directory is checked once the count is known.
    if "{instance}" not in string(value) and not os.path.isdir(value):
        raise ValueError(f"no such directory: {value!r}")
    return str(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {value!r}")
    return value


def count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, not {value!r}")
    return value


def choice(choices: tuple[str, ...]) -> Any:
    def convert(value: Any) -> str:
        if value is False and "no" in choices:
            return "no"
        if value not in choices:
            raise ValueError(f"invalid value {value!r} (one of: {', '.join(choices)})")
        return str(value)

    return convert


def env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of NAME = "value"')
    env = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError(f"{key}: expected a string")
        env[key] = str(item)
    return env


def depends(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError("expected a list of service names")


def user(value: Any) -> tuple[int, int, list[int], dict[str, str]]:
    import pwd

    try:
        entry = pwd.getpwuid(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if entry is None:
            entry = pwd.getpwnam(string(value))
    except KeyError:
        if isinstance(value, int) and not isinstance(value, bool):
            return value, value, [], {}
        raise ValueError(f"unknown user: {value!r}") from None
    # As su-exec, gosu and systemd: the program must not look for its files in root's home.
    user_env = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid), user_env


def group(value: Any) -> int:
    import grp

    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return grp.getgrnam(string(value)).gr_gid
    except KeyError:
        raise ValueError(f"unknown group: {value!r}") from None


def ready(value: Any) -> Ready:
    ready = Ready()
    if value == "notify":
        ready.kind = "notify"
        return ready
    if not isinstance(value, dict):
        raise ValueError('expected a table with one of: command, tcp, fd, notify, log (or the string "notify")')
    kinds = [kind for kind in READY_KINDS if kind in value]
    unknown = sorted(set(value) - {*READY_KINDS, "interval", "timeout"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join((*READY_KINDS, 'interval', 'timeout'))})")
    if len(kinds) != 1:
        raise ValueError("needs exactly one of: command, tcp, fd, notify, log")
    ready.kind = kind = kinds[0]
    item = value[kind]
    if kind == "command":
        ready.command = command(item)
    elif kind == "tcp":
        from pyinit.services.checks import parse_address

        try:
            ready.host, ready.port = parse_address(item)
        except ValueError as exc:
            raise ValueError(f"tcp: {exc}") from None
    elif kind == "log":
        ready.pattern = pattern(item)
    elif kind == "fd":
        if isinstance(item, bool) or not isinstance(item, int) or not 3 <= item <= 1023:
            raise ValueError(f"fd: expected a descriptor number from 3 to 1023, not {item!r}")
        ready.fd = item
    elif item is not True:
        raise ValueError("notify: expected true")
    if "interval" in value:
        ready.interval = max(duration(value["interval"]), 0.01)
    if "timeout" in value:
        ready.timeout = duration(value["timeout"])
    return ready


def oom_score_adj(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise ValueError(f"expected a whole number from -1000 to 1000, not {value!r}")
    return value


def pattern(value: Any) -> str:
    """``ready = { log = "REGEX" }``."""
    import re

    if not isinstance(value, str):
        raise ValueError(f"log: expected a regular expression, not {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"log: invalid regular expression {value!r}: {exc}") from None
    return value
