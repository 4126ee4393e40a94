"""The dependency graph: who starts before whom, who stops after whom, and cycles.

Pure functions of the specs (``depends_on``) and, for :func:`blocked`, of what
the caller says about each service; no state of their own.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pyinit.services.spec import ServiceSpec

    Specs = Mapping[str, ServiceSpec]


def start_order(specs: Specs) -> list[str]:
    """Dependencies before dependents; ties in file order (the graph has no cycle)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in specs[name].depends_on:
            visit(dep)
        order.append(name)

    for name in specs:
        visit(name)
    return order


def dependents(specs: Specs) -> dict[str, list[str]]:
    """For each service, the services that depend on it (they stop first)."""
    found: dict[str, list[str]] = {name: [] for name in specs}
    for spec in specs.values():
        for dep in spec.depends_on:
            found[dep].append(spec.name)
    return found


def cycles(specs: Specs) -> list[tuple[str, list[str]]]:
    """Each dependency cycle once, as ``(the service that closes it, [a, b, ..., a])``.

    Unknown names and self-dependencies are the caller's to report; they are skipped here.
    """
    state: dict[str, int] = {}  # 1 visiting, 2 done
    found: list[tuple[str, list[str]]] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str, path: list[str]) -> None:  # depth first
        state[name] = 1
        for dep in specs[name].depends_on:
            if dep not in specs or dep == name:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    found.append((name, cycle))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in specs:
        if name not in state:
            visit(name, [name])
    return found


def blocked(
    name: str,
    specs: Specs,
    dead: Callable[[str], bool],
    waiting: Callable[[str], bool],
    seen: frozenset[str] = frozenset(),
) -> bool:
    """Whether waiting service ``name`` can no longer start on its own: a dependency is
    ``dead`` (will not become ready without a request), directly or through a chain of
    ``waiting`` ones."""
    for dep in specs[name].depends_on:
        if dep in seen:
            continue
        if dead(dep) or (waiting(dep) and blocked(dep, specs, dead, waiting, seen | {name})):
            return True
    return False
