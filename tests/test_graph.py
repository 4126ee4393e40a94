"""The dependency graph: start order, dependents, cycles, and which waiting services are blocked."""

from __future__ import annotations

import pytest

from pyinit.services import graph
from pyinit.services.spec import ServiceSpec

pytestmark = pytest.mark.timeout(10)


def specs(**depends: str) -> dict[str, ServiceSpec]:
    """``specs(a="", b="a", c="a b")``: c depends on a and b."""
    made = {}
    for name, deps in depends.items():
        made[name] = ServiceSpec(name)
        made[name].depends_on = deps.split()
    return made


def test_start_order_puts_dependencies_first_and_keeps_file_order() -> None:
    assert graph.start_order(specs(web="db cache", worker="web", db="", cache="", cron="")) == [
        "db",
        "cache",
        "web",
        "worker",
        "cron",
    ]


def test_dependents() -> None:
    assert graph.dependents(specs(a="", b="a", c="a b")) == {"a": ["b", "c"], "b": ["c"], "c": []}


def test_each_cycle_is_reported_once_where_it_closes() -> None:
    found = graph.cycles(specs(a="b", b="c", c="a", d="d", e="ghost", f="e"))
    assert found == [("c", ["a", "b", "c", "a"])]  # self-dependency and unknown names: the caller's


def test_two_cycles_through_one_service() -> None:
    assert graph.cycles(specs(a="b c", b="a", c="a")) == [("b", ["a", "b", "a"]), ("c", ["a", "c", "a"])]


def test_blocked_by_a_dead_dependency_directly_or_through_waiting_ones() -> None:
    s = specs(db="", web="db", worker="web", cron="")
    dead: set[str] = {"db"}
    waiting = {"web", "worker", "cron"}
    assert graph.blocked("web", s, dead.__contains__, waiting.__contains__)
    assert graph.blocked("worker", s, dead.__contains__, waiting.__contains__)  # through web
    assert not graph.blocked("cron", s, dead.__contains__, waiting.__contains__)
    dead.clear()  # db runs again (or starts): nobody is blocked
    assert not graph.blocked("worker", s, dead.__contains__, waiting.__contains__)
