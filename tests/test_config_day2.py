"""The day-two keys: parsed, defaulted, and each problem reported with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyinit.services import config

pytestmark = pytest.mark.timeout(10)


def problems(text: str) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        config.parse_toml(text, "s.toml")
    return caught.value.problems


def test_every_day_two_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "web.env").write_text("WORKERS=4\nGREETING=hi there\n")
    for number in (1, 2):
        (tmp_path / f"w{number}").mkdir()
    monkeypatch.setenv("BASE", str(tmp_path))
    specs = config.parse_toml(
        f"""
[services.web]
command = "serve --workers ${{WORKERS}} --name '${{GREETING}}' --tz ${{TZ_NAME:-UTC}}"
env_file = ["${{BASE}}/web.env", "-${{BASE}}/missing.env"]
env = {{ GREETING = "hello", COST = "$$5" }}
health = {{ http = "http://127.0.0.1:8000/healthz", interval = "10s", timeout = 2, failures = 3, start_period = "5s" }}
watchdog = "30s"
log_buffer = "1MiB"
ready = {{ log = "listening on \\\\d+" }}
on_dependency_failure = "ignore"

[services.worker]
command = ["work", "--port", "90{{instance}}"]
cwd = "{tmp_path}/w{{instance}}"
instances = 2
output = "quiet"

[services.backup]
command = "backup"
schedule = "@daily"
restart = "always"
""",
        "s.toml",
    )
    web, worker, backup = specs["web"], specs["worker"], specs["backup"]
    assert web.command == ["serve", "--workers", "4", "--name", "hi there", "--tz", "UTC"]
    assert web.env == {"WORKERS": "4", "GREETING": "hello", "COST": "$5"}
    assert web.env_file == [f"{tmp_path}/web.env", f"-{tmp_path}/missing.env"]
    assert web.health is not None and (web.health.kind, web.health.port, web.health.start_period) == ("http", 8000, 5)
    assert (web.watchdog, web.log_buffer, web.on_dependency_failure) == (30.0, 1024 * 1024, "ignore")
    assert (web.ready.kind, web.ready.pattern, web.output) == ("log", "listening on \\d+", "prefix")
    assert (worker.instances, worker.output, worker.cwd) == (2, "quiet", f"{tmp_path}/w{{instance}}")
    assert backup.schedule is not None and backup.restart == "no"


def test_day_two_problems_name_their_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_THING", raising=False)
    found = problems(
        """
[services.a]
command = "run ${UNSET_THING}"
health = { tcp = 0 }
watchdog = 0
log_buffer = "lots"
schedule = "every day"
on_dependency_failure = "panic"
env_file = "/nonexistent/x.env"

[services.b]
command = "b"
depends_on = ["c"]
ready = { log = "(" }
output = "inherit"
cwd = "/tmp/{instance}"

[services.c]
command = "c"
schedule = "* * * * *"

[services.d]
command = "d"
instances = 2

[services.d-2]
command = "d2"
"""
    )
    assert found == [
        "s.toml:9: services.a.env_file: env_file '/nonexistent/x.env': no such file (start the name with '-' if it"
        " is optional)",
        "s.toml:3: services.a.command: variable UNSET_THING is not set (give a default: ${UNSET_THING:-VALUE})",
        's.toml:4: services.a.health: tcp: expected a port or "HOST:PORT", not 0',
        "s.toml:5: services.a.watchdog: must be more than 0",
        "s.toml:6: services.a.log_buffer: invalid size 'lots' (bytes, or a string like '256KiB', '1MiB')",
        "s.toml:7: services.a.schedule: invalid schedule 'every day': expected 5 fields (minute hour day month"
        " weekday) or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        "s.toml:8: services.a.on_dependency_failure: invalid value 'panic' (one of: stop, ignore)",
        "s.toml:14: services.b.ready: log: invalid regular expression '(': missing ), unterminated subpattern at"
        " position 0",
        "s.toml:16: services.b.cwd: {instance} needs instances = N",
        "s.toml:13: services.b.depends_on: c is a scheduled job: nothing can wait for it",
        "s.toml:24: services.d.instances: instance name 'd-2' is taken by another service",
    ]


def test_log_readiness_needs_relayed_output() -> None:
    assert problems('[services.a]\ncommand = "a"\nready = { log = "up" }\noutput = "inherit"\n') == [
        's.toml:3: services.a.ready: log: needs output = "prefix" or "quiet" (the lines must pass through pyinit)'
    ]


def test_the_day_two_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).parent.parent
    monkeypatch.chdir(root)  # its paths are relative to the repository's root
    specs = config.load("examples/day2/services.toml")
    assert [name for name in specs] == ["web", "worker", "cleanup"]
    assert specs["worker"].env["RETENTION_DAYS"] == "7" and specs["worker"].instances == 2
    assert specs["cleanup"].schedule is not None and specs["web"].ready.kind == "log"
