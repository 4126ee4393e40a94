"""Service configuration: parsing, defaults, and one error per problem with file, line and key."""

from __future__ import annotations

import pytest

from pyinit import signals
from pyinit.services import config, graph

pytestmark = pytest.mark.timeout(10)


def problems(text: str) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        config.parse_toml(text, "s.toml")
    return caught.value.problems


def test_full_service() -> None:
    specs = config.parse_toml(
        """
[services.db]
command = ["postgres", "-D", "/data"]
env = {PGDATA = "/data", PORT = 5432}
cwd = "/"
user = 0
group = 0
restart = "always"
backoff_initial = "250ms"
backoff_max = "1m"
backoff_reset = 30
start_limit = 3
start_limit_window = "2m"
stop_signal = "INT"
stop_grace = "20s"
ready = {tcp = "127.0.0.1:5432", interval = "100ms", timeout = "30s"}
critical = true
output = "prefix"

[services.web]
command = "gunicorn app:app --bind '0.0.0.0:8000'"
depends_on = ["db"]
ready = "notify"
""",
        "s.toml",
    )
    db, web = specs["db"], specs["web"]
    assert db.command == ["postgres", "-D", "/data"]
    assert db.env == {"PGDATA": "/data", "PORT": "5432"}
    assert (db.uid, db.gid) == (0, 0)
    assert db.restart == "always" and db.critical and db.output == "prefix"
    assert (db.backoff_initial, db.backoff_max, db.backoff_reset) == (0.25, 60.0, 30.0)
    assert (db.start_limit, db.start_limit_window) == (3, 120.0)
    assert db.stop_signal == signals.SIGINT and db.stop_grace == 20.0
    assert (db.ready.kind, db.ready.host, db.ready.port, db.ready.interval, db.ready.timeout) == (
        "tcp",
        "127.0.0.1",
        5432,
        0.1,
        30.0,
    )
    assert web.command == ["gunicorn", "app:app", "--bind", "0.0.0.0:8000"]
    assert web.ready.kind == "notify" and web.depends_on == ["db"]
    assert web.restart == "on-failure" and not web.critical and web.output == "inherit"
    assert graph.start_order(specs) == ["db", "web"]


@pytest.mark.parametrize(
    ("ready", "kind", "attr", "value"),
    [
        ('{command = "pg_isready"}', "command", "command", ["pg_isready"]),
        ("{tcp = 8080}", "tcp", "port", 8080),
        ("{fd = 3}", "fd", "fd", 3),
        ("{notify = true}", "notify", "kind", "notify"),
    ],
)
def test_ready_kinds(ready: str, kind: str, attr: str, value: object) -> None:
    spec = config.parse_toml(f'[services.a]\ncommand = "x"\nready = {ready}\n', "s.toml")["a"]
    assert spec.ready.kind == kind and getattr(spec.ready, attr) == value


def test_every_problem_once_with_line_and_key() -> None:
    found = problems(
        """[services.web]
command = "x"
restart = "sometimes"
colour = "blue"
stop_signal = "SIGNOPE"
stop_grace = "soon"
depends_on = ["nothere"]

[services.worker]
env = {A = "b"}
critical = "yes"
"""
    )
    assert found == [
        "s.toml:4: services.web.colour: unknown key (known: " + ", ".join(config.FIELDS) + ")",
        "s.toml:3: services.web.restart: invalid value 'sometimes' (one of: no, on-failure, always)",
        "s.toml:5: services.web.stop_signal: invalid signal: SIGNOPE",
        "s.toml:6: services.web.stop_grace: invalid duration: 'soon' (use seconds, or 500ms, 5s, 2m)",
        "s.toml:9: services.worker.command: missing (every service needs a command)",
        "s.toml:11: services.worker.critical: expected true or false, not 'yes'",
        "s.toml:7: services.web.depends_on: unknown service 'nothere'",
    ]


def test_wrong_types() -> None:
    found = problems('[services.a]\ncommand = 5\nenv = "x"\nstart_limit = -1\nready = {tcp = "nope"}\n')
    assert [p.split(": ")[1] for p in found] == [
        "services.a.command",
        "services.a.env",
        "services.a.start_limit",
        "services.a.ready",
    ]
    assert [p.split(":")[1] for p in found] == ["2", "3", "4", "5"]


def test_dependency_cycle_reported_once() -> None:
    found = problems(
        '[services.a]\ncommand = "x"\ndepends_on = ["b"]\n[services.b]\ncommand = "x"\ndepends_on = ["a"]\n'
    )
    assert len(found) == 1
    assert "dependency cycle: " in found[0] and "services.b.depends_on" in found[0]
    assert found[0].startswith("s.toml:6:")


def test_self_dependency() -> None:
    found = problems('[services.a]\ncommand = "x"\ndepends_on = "a"\n')
    assert found == ["s.toml:3: services.a.depends_on: a service cannot depend on itself"]


def test_syntax_error_has_tomllib_line() -> None:
    found = problems('[services.a]\ncommand = "x"\nrestart = \n')
    assert len(found) == 1 and found[0].startswith("s.toml:3: syntax: ")


def test_unknown_top_level_and_empty() -> None:
    assert problems("[other]\n") == [
        "s.toml:1: other: unknown top-level key (known: services)",
        "s.toml: services: no services defined ([services.NAME] tables)",
    ]


def test_subtable_line_is_found() -> None:
    found = problems('[services.a]\ncommand = "x"\n\n[services.a.ready]\ntcp = "x"\n')
    assert found[0].startswith("s.toml:4: services.a.ready: tcp:")


def test_missing_cwd() -> None:
    assert problems('[services.a]\ncommand = "x"\ncwd = "/no/such/dir"\n') == [
        "s.toml:3: services.a.cwd: no such directory: '/no/such/dir'"
    ]


def test_unknown_user() -> None:
    found = problems('[services.a]\ncommand = "x"\nuser = "no-such-user-xyz"\n')
    assert found == ["s.toml:3: services.a.user: unknown user: 'no-such-user-xyz'"]


def test_procfile() -> None:
    specs = config.parse_procfile("# comment\nweb: python -m http.server $PORT\n\nworker:   sh worker.sh\n", "Procfile")
    assert list(specs) == ["web", "worker"]
    assert specs["web"].command == ["sh", "-c", "python -m http.server $PORT"]
    assert specs["web"].critical and specs["web"].restart == "no"


def test_procfile_errors() -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.parse_procfile("web: a\nnot a line\nweb: b\n", "Procfile")
    assert caught.value.problems == [
        "Procfile:2: expected 'name: command'",
        "Procfile:3: web: defined twice",
    ]


def test_start_order_keeps_file_order_for_independent_services() -> None:
    specs = config.parse_toml(
        '[services.c]\ncommand = "x"\ndepends_on = ["b"]\n[services.a]\ncommand = "x"\n[services.b]\ncommand = "x"\n',
        "s.toml",
    )
    assert graph.start_order(specs) == ["b", "c", "a"]


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "-inf"])
def test_durations_are_finite_and_not_negative(value: str) -> None:
    found = problems(f'[services.a]\ncommand = ["true"]\nstop_grace = {value}\n')
    assert len(found) == 1 and "s.toml:3: services.a.stop_grace: invalid duration" in found[0]
