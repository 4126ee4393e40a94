"""``ctl reload`` and ``ctl scale``: carrying out the difference between two sets of services.

:func:`pyinit.services.reload.diff` says what differs; this module makes it
so on the running supervisor: removed services stop (dependents before their
dependencies) and then leave, changed ones stop and start again with their new
settings, added ones start (after their dependencies, as at start-up), and the
unchanged ones are not touched.
"""

from __future__ import annotations

from pyinit import log
from pyinit.services import graph, instances
from pyinit.services.reload import Diff, diff
from pyinit.services.service import Service

# A bound on ``ctl scale``: each instance is a process and two pipes.
MAX_INSTANCES = 1000

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from pyinit.services.launch import Launcher
    from pyinit.services.spec import ServiceSpec
    from pyinit.settings import Settings

    class Supervisor(Protocol):
        """What reload and scale need of the supervisor (pyinit.services.supervisor)."""

        settings: Settings
        specs: dict[str, ServiceSpec]
        templates: dict[str, ServiceSpec]
        counts: dict[str, int]
        services: dict[str, Service]
        order: list[str]
        dependents: dict[str, list[str]]
        stopping: bool

        @property
        def launcher(self) -> Launcher: ...

        def add_job(self, service: Service) -> None: ...

        def stop(self, service: Service, then: Callable[[], None] | None = None) -> None: ...

        def schedule(self) -> None: ...


def apply(supervisor: Supervisor, templates: dict[str, ServiceSpec], counts: dict[str, int]) -> Diff:
    """Make ``templates`` (instances expanded with ``counts``) the running set of services."""
    new = instances.expand(templates, counts)
    changes = diff(supervisor.specs, new)
    supervisor.templates, supervisor.counts = templates, counts
    leaving = set(changes.removed)
    # Until it has stopped, a removed or changed service keeps its old settings (its exit and
    # the end of its group come later, and its dependencies must stay known till then).
    old = supervisor.specs
    supervisor.specs = {**{name: old[name] for name in changes.removed}, **new}
    for name in changes.changed:
        supervisor.specs[name] = old[name]
    for name in changes.added:
        supervisor.services[name] = Service(new[name])
    _refresh(supervisor)
    for name in changes.added:
        supervisor.add_job(supervisor.services[name])
    for name in changes.changed:
        _replace(supervisor, supervisor.services[name], new[name], leaving)
    _stop_removed(supervisor, leaving)
    supervisor.schedule()
    log.info("services changed", **changes.as_dict())
    return changes


def _refresh(supervisor: Supervisor) -> None:
    supervisor.order = graph.start_order(supervisor.specs)
    supervisor.dependents = graph.dependents(supervisor.specs)
    supervisor.services = {name: supervisor.services[name] for name in supervisor.order}
    supervisor.launcher.names(supervisor.order)


def _replace(supervisor: Supervisor, old: Service, spec: ServiceSpec, leaving: set[str]) -> None:
    """Stop the old run; then the same name starts afresh with the new settings."""

    def start_new() -> None:
        if supervisor.stopping or supervisor.services.get(spec.name) is not old:
            return
        fresh = Service(spec)
        fresh.ring = old.ring  # its log goes on
        if fresh.ring is not None:
            fresh.ring.resize(spec.log_buffer)
        supervisor.services[spec.name] = fresh
        supervisor.specs[spec.name] = spec
        _refresh(supervisor)
        supervisor.add_job(fresh)
        _stop_removed(supervisor, leaving)  # one may have waited for this one's old run to end
        supervisor.schedule()

    supervisor.stop(old, start_new)


def _stop_removed(supervisor: Supervisor, leaving: set[str]) -> None:
    """Each removed service stops once nothing that depends on it runs any more, then leaves."""
    for name in sorted(leaving):
        service = supervisor.services.get(name)
        if service is None or service.state == "stopping":
            continue
        dependents = [supervisor.services[other] for other in supervisor.dependents.get(name, [])]
        if any(other.running or other.name in leaving for other in dependents):
            continue

        def gone(name: str = name) -> None:
            leaving.discard(name)
            if supervisor.stopping:
                return  # everything is stopping: it stays known, stopped, till the end
            if name in supervisor.services and supervisor.services[name].state == "stopped":
                del supervisor.services[name]
                del supervisor.specs[name]
                _refresh(supervisor)
            _stop_removed(supervisor, leaving)

        supervisor.stop(service, gone)


def reload(supervisor: Supervisor) -> dict[str, Any]:
    """``ctl reload``: the file again; if it is invalid, nothing changes and the reply has its problems."""
    from pyinit.services.config import ConfigError, load

    settings = supervisor.settings
    path = settings.config or settings.procfile
    assert path is not None
    try:
        templates = load(path, procfile=settings.procfile is not None)
    except ConfigError as exc:
        log.warning("reload refused: invalid configuration", path=path, problems=len(exc.problems))
        return {"ok": False, "error": f"{path} is invalid; nothing changed", "problems": exc.problems}
    return {"ok": True, **apply(supervisor, templates, {}).as_dict()}


def scale(supervisor: Supervisor, name: str, count: int) -> dict[str, Any]:
    """``ctl scale NAME N``: N instances of a service with ``instances``."""
    template = supervisor.templates.get(name)
    if template is None:
        return {"ok": False, "error": f"no such service: {name!r}"}
    if template.instances is None:
        return {"ok": False, "error": f"{name} has no instances (set instances = N in the config to scale it)"}
    if count < 0 or count > MAX_INSTANCES:
        return {"ok": False, "error": f"instances: expected 0 to {MAX_INSTANCES}, not {count}"}
    taken = [other for other in instances.instance_names(name, count) if other in supervisor.templates]
    if taken:
        return {"ok": False, "error": f"instance name {taken[0]!r} is taken by another service"}
    changes = apply(supervisor, supervisor.templates, {**supervisor.counts, name: count})
    return {"ok": True, "message": f"{name}: {count} instance(s)", **changes.as_dict()}
