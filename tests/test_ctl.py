"""The command line of `pyinit ctl` and the routing to it, and of --config/--procfile."""

from __future__ import annotations

import pytest

from pyinit import cli, ctl

pytestmark = pytest.mark.timeout(10)


def test_ctl_requests() -> None:
    env = {"PYINIT_CONTROL_SOCKET": "/tmp/x.sock"}
    assert ctl.parse(["status"], env) == ("/tmp/x.sock", False, {"cmd": "status"})
    assert ctl.parse(["status", "--json"], {}) == ("/run/pyinit.sock", True, {"cmd": "status"})
    assert ctl.parse(["--control-socket", "/s", "stop", "web"], env) == ("/s", False, {"cmd": "stop", "name": "web"})
    assert ctl.parse(["--control-socket=/s", "signal", "web", "HUP"], {})[2] == {
        "cmd": "signal",
        "name": "web",
        "signal": "HUP",
    }


@pytest.mark.parametrize("args", [[], ["bogus"], ["stop"], ["signal", "web"], ["status", "x"], ["--nope", "status"]])
def test_ctl_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert ctl.main(args, {}) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("pyinit: ctl: ")


def test_ctl_without_a_pyinit_is_3(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert ctl.main(["--control-socket", "/nonexistent/pyinit.sock", "status"], {}) == 3
    assert "no answer" in capsys.readouterr().err


def test_status_table() -> None:
    rows = ctl.table(
        [
            {"name": "web", "state": "ready", "pid": 7, "uptime": 75.2, "restarts": 0, "last_exit": None},
            {"name": "worker", "state": "failed", "pid": None, "uptime": None, "restarts": 5, "last_exit": "exit 3"},
        ]
    ).splitlines()
    assert rows[0].split() == ["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT"]
    assert rows[1].split() == ["web", "ready", "7", "1m15s", "0", "-"]
    assert rows[2].split() == ["worker", "failed", "-", "-", "5", "exit", "3"]


def test_config_options() -> None:
    s = cli.parse(["pyinit", "--config", "s.toml", "--control-socket", "/tmp/c.sock"], {})
    assert s.config == "s.toml" and s.command == [] and s.control_socket == "/tmp/c.sock"
    assert cli.parse(["pyinit", "--procfile=Procfile"], {}).procfile == "Procfile"


def test_config_usage_errors() -> None:
    with pytest.raises(cli.UsageError):
        cli.parse(["pyinit", "--config"], {})
    with pytest.raises(cli.UsageError, match=r"^--config and --procfile cannot be combined$"):
        cli.parse(["pyinit", "--config", "a", "--procfile", "b"], {})
    with pytest.raises(cli.UsageError, match=r"^a command cannot be combined with --config or --procfile$"):
        cli.parse(["pyinit", "--config", "a", "sleep", "1"], {})
    assert cli.parse(["pyinit", "--procfile", "P"], {}).procfile == "P"


def test_example_config_is_valid() -> None:
    from pathlib import Path

    from pyinit.services import config, graph

    example = Path(__file__).parent.parent / "examples" / "services.toml"
    specs = config.load(str(example))
    assert graph.start_order(specs) == ["web", "worker"]


def test_wait_stop_and_doctor_words() -> None:
    assert ctl.parse(["wait-stop"], {})[2] == {"cmd": "wait-stop"}
    with pytest.raises(cli.UsageError, match="reserved for the environment check"):
        cli.parse(["pyinit", "doctor"], {})


def test_day_two_requests() -> None:
    def request(*args: str) -> dict[str, object]:
        return ctl.parse(list(args), {})[2]

    assert request("logs", "web") == {"cmd": "logs", "name": "web", "follow": False}
    assert request("logs", "web", "-n", "5", "-f") == {"cmd": "logs", "name": "web", "follow": True, "lines": 5}
    assert request("logs", "-f", "-n3", "web") == {"cmd": "logs", "name": "web", "follow": True, "lines": 3}
    assert request("logs", "--lines=7", "web")["lines"] == 7
    assert request("reload") == {"cmd": "reload"}
    assert request("scale", "worker", "3") == {"cmd": "scale", "name": "worker", "count": 3}


@pytest.mark.parametrize(
    "args", [["logs"], ["logs", "a", "b"], ["logs", "a", "-n"], ["logs", "a", "-n", "x"], ["scale", "w", "-1"]]
)
def test_day_two_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert ctl.main(args, {}) == 2


def test_status_table_with_health_and_schedules() -> None:
    rows = ctl.table(
        [
            {
                "name": "web",
                "state": "ready",
                "pid": 7,
                "uptime": 5.0,
                "restarts": 0,
                "last_exit": None,
                "health": "healthy",
            },
            {
                "name": "backup",
                "state": "exited",
                "pid": None,
                "uptime": None,
                "restarts": 0,
                "last_exit": "exit 0",
                "last_duration": 2.5,
                "schedule": "@daily",
                "next_run": "2026-12-04T00:00:00+00:00",
            },
        ]
    ).splitlines()
    assert rows[0].split() == ["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT", "HEALTH", "NEXT", "RUN"]
    assert "exit 0 (2.5s)" in rows[2] and rows[2].endswith("2026-12-04T00:00:00+00:00")
    assert "healthy" in rows[1]
