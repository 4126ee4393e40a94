"""The day-two keys of a service (health, watchdog, logs, instances, environment, schedules):
their converters, and what they ask of each other once the whole table is read.

Converters raise ``ValueError`` with the message that follows ``services.NAME.KEY:``;
:func:`check` reports through the config's problem list, so every message
still names the file and the line.
"""

from __future__ import annotations

import os

from pyinit.services import values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from pyinit.services.checks import Health
    from pyinit.services.schedule import Schedule
    from pyinit.services.spec import ServiceSpec

    class Problems(Protocol):
        def add(self, name: str | None, key: str | None, message: str, line_key: str | None = None) -> None: ...


def paths(value: Any) -> list[str]:
    # Checked, expanded and read before this, by envfile.expand_service.
    return [value] if isinstance(value, str) else list(value)


def health(value: Any) -> Health:
    from pyinit.services.checks import parse_health

    return parse_health(value, values.duration, values.command)


def positive_duration(value: Any) -> float:
    seconds = values.duration(value)
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return seconds


def size(value: Any) -> int:
    from pyinit.services.logring import parse_size

    return parse_size(value)


def schedule(value: Any) -> Schedule:
    from pyinit.services.schedule import Schedule

    if not isinstance(value, str):
        raise ValueError(f'expected a cron expression like "*/5 * * * *" or "@daily", not {value!r}')
    return Schedule(value)


def check(spec: ServiceSpec, table: dict[str, Any], problems: Problems) -> None:
    """What the keys of health, logs, instances and schedules ask of each other."""
    name = spec.name
    if spec.ready.kind == "log":
        if "output" not in table:
            spec.output = "prefix"  # the lines must pass through pyinit to be matched
        elif not spec.relayed:
            problems.add(name, "ready", 'log: needs output = "prefix" or "quiet" (the lines must pass through pyinit)')
    if spec.schedule is not None:
        spec.restart = "no"  # a job runs at its times, not again because it ended
        if spec.instances is not None:
            problems.add(name, "instances", "a scheduled job runs one instance at a time")
    if spec.cwd is not None and "{instance}" in spec.cwd:
        if spec.instances is None:
            problems.add(name, "cwd", "{instance} needs instances = N")
        for number in range(1, (spec.instances or 0) + 1):
            path = spec.cwd.replace("{instance}", str(number))
            if not os.path.isdir(path):
                problems.add(name, "cwd", f"no such directory: {path!r} (instance {number})")
