"""``instances = N``: N copies of a service, ``NAME-1`` .. ``NAME-N``, each a service of its own.

Expansion happens on the validated specs, before the supervisor sees them:
every copy is an ordinary service with ``{instance}`` replaced by its number
in ``command``, ``env`` values and ``cwd``. A dependency on the group's name
means a dependency on every copy. ``ctl scale`` expands again with a new count
and applies the difference like a reload.
"""

from __future__ import annotations

import copy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class Instantiable(Protocol):
        name: str
        command: list[str]
        env: dict[str, str]
        cwd: str | None
        depends_on: list[str]
        group: str | None  # the name the copies were made from
        instances: int | None

    ServiceSpec = TypeVar("ServiceSpec", bound=Instantiable)

PLACEHOLDER = "{instance}"


def instance_names(name: str, count: int) -> list[str]:
    return [f"{name}-{number}" for number in range(1, count + 1)]


def one_instance(template: ServiceSpec, number: int) -> ServiceSpec:
    spec = copy.copy(template)
    mark = str(number)
    spec.name = f"{template.name}-{number}"
    spec.group = template.name
    spec.instances = None
    spec.command = [word.replace(PLACEHOLDER, mark) for word in template.command]
    spec.env = {key: value.replace(PLACEHOLDER, mark) for key, value in template.env.items()}
    if template.cwd is not None:
        spec.cwd = template.cwd.replace(PLACEHOLDER, mark)
    return spec


def expand(specs: dict[str, ServiceSpec], counts: dict[str, int] | None = None) -> dict[str, ServiceSpec]:
    """Specs with every ``instances`` service replaced by its copies (``counts`` overrides
    a group's count, for ``ctl scale``); dependencies on a group name point at its copies."""
    groups: dict[str, list[str]] = {}
    expanded: dict[str, ServiceSpec] = {}
    for name, spec in specs.items():
        if spec.instances is None:
            expanded[name] = spec
            continue
        count = (counts or {}).get(name, spec.instances)
        groups[name] = instance_names(name, count)
        for number in range(1, count + 1):
            instance = one_instance(spec, number)
            expanded[instance.name] = instance
    for name, spec in expanded.items():
        if any(dep in groups for dep in spec.depends_on):
            changed = copy.copy(spec) if spec.group is None else spec  # never the caller's spec
            changed.depends_on = [member for dep in spec.depends_on for member in groups.get(dep, [dep])]
            expanded[name] = changed
    return expanded


def clashes(specs: dict[str, ServiceSpec]) -> list[tuple[str, str]]:
    """``(service, instance name)`` pairs where a copy's name is another service's name."""
    found = []
    for name, spec in specs.items():
        for other in instance_names(name, spec.instances or 0):
            if other in specs:
                found.append((name, other))
    return found
