"""Reload diffs and instance expansion: pure functions over specs."""

from __future__ import annotations

import pytest

from pyinit.services import instances, reload
from pyinit.services.config import parse_toml

pytestmark = pytest.mark.timeout(10)


class Spec:
    def __init__(self, name: str, command: list[str], count: int | None = None, deps: list[str] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = {"PORT": "80{instance}", "FIXED": "x"}
        self.cwd: str | None = "/srv/{instance}"
        self.depends_on = deps or []
        self.group: str | None = None
        self.instances = count


def test_instances_are_named_and_numbered() -> None:
    specs = {"web": Spec("web", ["serve", "--port=80{instance}"], 3), "db": Spec("db", ["db"])}
    expanded = instances.expand(specs)
    assert list(expanded) == ["web-1", "web-2", "web-3", "db"]
    two = expanded["web-2"]
    assert two.command == ["serve", "--port=802"] and two.env == {"PORT": "802", "FIXED": "x"}
    assert two.cwd == "/srv/2" and two.group == "web" and two.instances is None
    assert expanded["db"].command == ["db"] and expanded["db"].cwd == "/srv/{instance}"  # no instances: untouched
    assert specs["web"].command == ["serve", "--port=80{instance}"]  # the template is left alone


def test_a_dependency_on_a_group_is_on_each_instance_and_scale_overrides_the_count() -> None:
    specs = {"worker": Spec("worker", ["w"], 2), "front": Spec("front", ["f"], deps=["worker"])}
    assert instances.expand(specs)["front"].depends_on == ["worker-1", "worker-2"]
    scaled = instances.expand(specs, {"worker": 4})
    assert [n for n in scaled if n.startswith("worker")] == ["worker-1", "worker-2", "worker-3", "worker-4"]
    assert instances.expand(specs, {"worker": 0})["front"].depends_on == []


def test_instance_names_that_clash() -> None:
    specs = {"web": Spec("web", ["a"], 2), "web-2": Spec("web-2", ["b"])}
    assert instances.clashes(specs) == [("web", "web-2")]


CONFIG = """
[services.db]
command = ["db", "--fast"]
ready = {{tcp = 5432}}

[services.web]
command = "serve {port}"
depends_on = ["db"]

{extra}
"""


def load(port: int, extra: str = "") -> dict[str, object]:
    return parse_toml(CONFIG.format(port=port, extra=extra), "s.toml")  # type: ignore[return-value]


def test_reload_diff() -> None:
    old = load(80, '[services.gone]\ncommand = "x"')
    new = load(81, '[services.fresh]\ncommand = "y"')
    result = reload.diff(old, new)
    assert result.as_dict() == {"added": ["fresh"], "removed": ["gone"], "changed": ["web"], "unchanged": ["db"]}
    assert reload.diff(old, load(80, '[services.gone]\ncommand = "x"')).unchanged == ["db", "web", "gone"]


def test_a_nested_setting_is_a_change() -> None:
    old = load(80)
    new = load(80)
    new["db"].ready.port = 5433  # type: ignore[attr-defined]
    assert reload.diff(old, new).changed == ["db"]
