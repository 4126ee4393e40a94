"""Service definitions from a TOML file or a Procfile, validated before anything starts.

Every problem is collected, not just the first, and each names the file, the
line and the key, so a broken configuration is fixed in one round. tomllib
reports the line of a syntax error itself; for semantic errors the line of the
key (or of its table) is looked up in the file's text.
"""

from __future__ import annotations

import os
import re

from pyinit import signals
from pyinit.durations import parse_duration
from pyinit.services import daytwo, graph
from pyinit.services.spec import ON_DEPENDENCY_FAILURE, OUTPUTS, READY_KINDS, RESTART_POLICIES, Ready, ServiceSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ConfigError(Exception):
    """One or more problems, one line each: ``file:line: key: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- locating keys in the file text -------------------------------------------


def _header(name: str, *keys: str) -> re.Pattern[str]:
    parts = [r"services", rf'(?:{re.escape(name)}|"{re.escape(name)}"|\'{re.escape(name)}\')', *map(re.escape, keys)]
    return re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(parts) + r"\s*\]")


def locate(lines: list[str], name: str | None, key: str | None) -> int:
    """The 1-based line of ``[services.NAME]`` ``key``, else of the table, else 0."""
    if name is None:
        if key is not None:
            for number, line in enumerate(lines, 1):
                if re.match(rf"^\s*\[?\s*{re.escape(key)}\b", line):
                    return number
        return 0
    table = _header(name)
    for number, line in enumerate(lines, 1):
        if not table.match(line):
            continue
        if key is None:
            return number
        sub = _header(name, key)
        assign = re.compile(rf"^\s*{re.escape(key)}\s*[=.]")
        for offset, inner in enumerate(lines[number:], number + 1):
            if re.match(r"^\s*\[", inner):
                break
            if assign.match(inner):
                return offset
        for offset, inner in enumerate(lines, 1):
            if sub.match(inner):
                return offset
        return number
    for number, line in enumerate(lines, 1):  # an inline or dotted definition
        if re.search(rf"\b{re.escape(name)}\b", line):
            return number
    return 0


class _Problems:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.items: list[str] = []

    def add(self, name: str | None, key: str | None, message: str, line_key: str | None = None) -> None:
        line = locate(self.lines, name, line_key or key)
        where = f"{self.path}:{line}" if line else self.path
        dotted = ".".join(part for part in ("services", name, key) if part) if name else (key or "")
        self.items.append(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


# -- value conversion -------------------------------------------------------------


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or a string like '500ms', '5s', '2m')")
    if isinstance(value, (int, float)):
        return parse_duration(str(value))  # one rule for numbers and strings: no negative, nan or inf
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration (seconds, or a string like '500ms', '5s', '2m')")


def _command(value: Any) -> list[str]:
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


def _signal(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected a signal name or number")
    return signals.parse(str(value))


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {type(value).__name__}")
    return value


def _directory(value: Any) -> str:
    # Checked now: a chdir failing in the forked child could only be reported as a failed exec.
    # With {instance}, each instance's directory is checked once the count is known.
    if "{instance}" not in _string(value) and not os.path.isdir(value):
        raise ValueError(f"no such directory: {value!r}")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, not {value!r}")
    return value


def _choice(choices: tuple[str, ...]) -> Any:
    def convert(value: Any) -> str:
        if value is False and "no" in choices:
            return "no"
        if value not in choices:
            raise ValueError(f"invalid value {value!r} (one of: {', '.join(choices)})")
        return str(value)

    return convert


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of NAME = "value"')
    env = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError(f"{key}: expected a string")
        env[key] = str(item)
    return env


def _depends(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError("expected a list of service names")


def _user(value: Any) -> tuple[int, int, list[int], dict[str, str]]:
    import pwd

    try:
        entry = pwd.getpwuid(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if entry is None:
            entry = pwd.getpwnam(_string(value))
    except KeyError:
        if isinstance(value, int) and not isinstance(value, bool):
            return value, value, [], {}
        raise ValueError(f"unknown user: {value!r}") from None
    # As su-exec, gosu and systemd: the program must not look for its files in root's home.
    user_env = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid), user_env


def _group(value: Any) -> int:
    import grp

    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return grp.getgrnam(_string(value)).gr_gid
    except KeyError:
        raise ValueError(f"unknown group: {value!r}") from None


def _ready(value: Any) -> Ready:
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
        ready.command = _command(item)
    elif kind == "tcp":
        from pyinit.services.checks import parse_address

        try:
            ready.host, ready.port = parse_address(item)
        except ValueError as exc:
            raise ValueError(f"tcp: {exc}") from None
    elif kind == "log":
        ready.pattern = daytwo.pattern(item)
    elif kind == "fd":
        if isinstance(item, bool) or not isinstance(item, int) or not 3 <= item <= 1023:
            raise ValueError(f"fd: expected a descriptor number from 3 to 1023, not {item!r}")
        ready.fd = item
    elif item is not True:
        raise ValueError("notify: expected true")
    if "interval" in value:
        ready.interval = max(_duration(value["interval"]), 0.01)
    if "timeout" in value:
        ready.timeout = _duration(value["timeout"])
    return ready


def _oom_score_adj(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise ValueError(f"expected a whole number from -1000 to 1000, not {value!r}")
    return value


# key -> (converter, attribute)
FIELDS: dict[str, tuple[Any, str]] = {
    "command": (_command, "command"),
    "env": (_env, "env"),
    "cwd": (_directory, "cwd"),
    "user": (_user, ""),
    "group": (_group, "gid"),
    "restart": (_choice(RESTART_POLICIES), "restart"),
    "backoff_initial": (_duration, "backoff_initial"),
    "backoff_max": (_duration, "backoff_max"),
    "backoff_reset": (_duration, "backoff_reset"),
    "start_limit": (_count, "start_limit"),
    "start_limit_window": (_duration, "start_limit_window"),
    "stop_signal": (_signal, "stop_signal"),
    "stop_grace": (_duration, "stop_grace"),
    "depends_on": (_depends, "depends_on"),
    "ready": (_ready, "ready"),
    "critical": (_bool, "critical"),
    "output": (_choice(OUTPUTS), "output"),
    "env_file": (daytwo.paths, "env_file"),
    "health": (daytwo.health, "health"),
    "watchdog": (daytwo.positive_duration, "watchdog"),
    "log_buffer": (daytwo.size, "log_buffer"),
    "instances": (_count, "instances"),
    "schedule": (daytwo.schedule, "schedule"),
    "on_dependency_failure": (_choice(ON_DEPENDENCY_FAILURE), "on_dependency_failure"),
    "oom_score_adj": (_oom_score_adj, "oom_score_adj"),
}


def _service(name: str, table: Any, problems: _Problems) -> ServiceSpec:
    spec = ServiceSpec(name)
    if not NAME_PATTERN.match(name):
        problems.add(name, None, "invalid service name (letters, digits, '_', '.', '-')")
    if not isinstance(table, dict):
        problems.add(name, None, "expected a table")
        return spec
    for key in table:
        if key not in FIELDS:
            problems.add(name, key, f"unknown key (known: {', '.join(FIELDS)})")
    if "command" not in table:
        problems.add(name, "command", "missing (every service needs a command)", line_key="")
    from pyinit.services.envfile import expand_service

    table, expansion_problems = expand_service(table, os.environ)
    for key, message in expansion_problems:
        problems.add(name, key, message)
    group_given = "group" in table
    for key, (convert, attr) in FIELDS.items():
        if key not in table:
            continue
        try:
            value = convert(table[key])
        except ValueError as exc:
            problems.add(name, key, str(exc))
            continue
        if key == "user":
            spec.uid, gid, spec.groups, spec.user_env = value
            if not group_given:
                spec.gid = gid
        else:
            setattr(spec, attr, value)
    if spec.backoff_max < spec.backoff_initial:
        problems.add(name, "backoff_max", "must not be less than backoff_initial")
    daytwo.check(spec, table, problems)
    return spec


def _check_graph(specs: dict[str, ServiceSpec], problems: _Problems) -> None:
    for spec in specs.values():
        for dep in spec.depends_on:
            if dep not in specs:
                problems.add(spec.name, "depends_on", f"unknown service {dep!r}")
            elif dep == spec.name:
                problems.add(spec.name, "depends_on", "a service cannot depend on itself")
    for name, cycle in graph.cycles(specs):
        problems.add(name, "depends_on", f"dependency cycle: {' -> '.join(cycle)}")
    for spec in specs.values():
        for dep in spec.depends_on:
            if dep in specs and specs[dep].schedule is not None:
                problems.add(spec.name, "depends_on", f"{dep} is a scheduled job: nothing can wait for it")
    from pyinit.services.instances import clashes

    for name, other in clashes(specs):
        problems.add(name, "instances", f"instance name {other!r} is taken by another service")


def parse_toml(text: str, path: str) -> dict[str, ServiceSpec]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)": lead with the line instead.
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        if found:
            message = message[: found.start()].strip()
            raise ConfigError([f"{path}:{found.group(1)}: syntax: {message} (column {found.group(2)})"]) from None
        raise ConfigError([f"{path}: syntax: {message}"]) from None
    problems = _Problems(path, text)
    for key in data:
        if key != "services":
            problems.add(None, key, "unknown top-level key (known: services)")
    services = data.get("services", {})
    specs: dict[str, ServiceSpec] = {}
    if not isinstance(services, dict):
        problems.add(None, "services", "expected a table of [services.NAME] tables")
    elif not services:
        problems.add(None, "services", "no services defined ([services.NAME] tables)")
    else:
        for name, table in services.items():
            specs[name] = _service(name, table, problems)
        _check_graph(specs, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return specs


PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:\s*(.+)$")


def parse_procfile(text: str, path: str) -> dict[str, ServiceSpec]:
    """foreman/honcho: ``name: command``, run by ``sh -c`` as they do.

    As in foreman, the first process to end ends them all: every entry is
    critical and never restarted.
    """
    specs: dict[str, ServiceSpec] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = PROCFILE_LINE.match(line.strip())
        if not found:
            problems.append(f"{path}:{number}: expected 'name: command'")
            continue
        name, command = found.groups()
        if name in specs:
            problems.append(f"{path}:{number}: {name}: defined twice")
            continue
        spec = ServiceSpec(name)
        spec.command = ["sh", "-c", command]
        spec.restart = "no"
        spec.critical = True
        spec.output = "prefix"
        specs[name] = spec
    if not specs and not problems:
        problems.append(f"{path}: no processes defined")
    if problems:
        raise ConfigError(problems)
    return specs


def load(path: str, procfile: bool = False) -> dict[str, ServiceSpec]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse_procfile(text, path) if procfile else parse_toml(text, path)
