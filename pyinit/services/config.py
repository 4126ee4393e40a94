"""Service definitions from a TOML file or a Procfile, validated before anything starts.

Every problem is collected, not just the first, and each names the file, the
line and the key, so a broken configuration is fixed in one round. tomllib
reports the line of a syntax error itself; for semantic errors the line of the
key (or of its table) is looked up in the file's text.
"""

from __future__ import annotations

import os
import re

from pyinit.services import daytwo, graph, values
from pyinit.services.spec import ON_DEPENDENCY_FAILURE, OUTPUTS, RESTART_POLICIES, ServiceSpec

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


# key -> (converter, attribute)
FIELDS: dict[str, tuple[Any, str]] = {
    "command": (values.command, "command"),
    "env": (values.env, "env"),
    "cwd": (values.directory, "cwd"),
    "user": (values.user, ""),
    "group": (values.group, "gid"),
    "restart": (values.choice(RESTART_POLICIES), "restart"),
    "backoff_initial": (values.duration, "backoff_initial"),
    "backoff_max": (values.duration, "backoff_max"),
    "backoff_reset": (values.duration, "backoff_reset"),
    "start_limit": (values.count, "start_limit"),
    "start_limit_window": (values.duration, "start_limit_window"),
    "stop_signal": (values.signal, "stop_signal"),
    "stop_grace": (values.duration, "stop_grace"),
    "depends_on": (values.depends, "depends_on"),
    "ready": (values.ready, "ready"),
    "critical": (values.boolean, "critical"),
    "output": (values.choice(OUTPUTS), "output"),
    "env_file": (daytwo.paths, "env_file"),
    "health": (daytwo.health, "health"),
    "watchdog": (daytwo.positive_duration, "watchdog"),
    "log_buffer": (daytwo.size, "log_buffer"),
    "instances": (values.count, "instances"),
    "schedule": (daytwo.schedule, "schedule"),
    "on_dependency_failure": (values.choice(ON_DEPENDENCY_FAILURE), "on_dependency_failure"),
    "oom_score_adj": (values.oom_score_adj, "oom_score_adj"),
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
