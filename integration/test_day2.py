"""Day-two supervision in real PID namespaces: health, watchdog, logs, reload, instances, env files,
schedules, log-line readiness and dependency failure."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import HERE, PYINIT, Namespace, assert_never_wakes_up, ns_pid, run_ns, wait_for
from test_services import ctl, free_port, lines, start, status, stop, svc

pytestmark = pytest.mark.timeout(90)

PYTHON = sys.executable
HELPERS = HERE / "helpers"


def started_pids(events: Path, name: str) -> list[int]:
    return [int(line.split()[2]) for line in lines(events) if line.startswith(f"start {name} ")]


def alive(ns: Namespace, pid: object) -> bool:
    """Whether the namespace has a live (not zombie) process of that pid, as pyinit and its services see it."""
    for host in ns.members():
        try:
            if ns_pid(host) == int(pid) and Path(f"/proc/{host}/stat").read_text().split()[2] != "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):
            continue
    return False


# -- health ---------------------------------------------------------------------------


def test_http_health_failing_then_recovering(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, code, port = tmp_path / "events", tmp_path / "code", free_port()
    toml = f"""
[services.web]
command = {json.dumps([PYTHON, str(HELPERS / "httpd.py"), str(port), str(code), str(events), "web"])}
ready = {{ tcp = {port}, interval = "50ms" }}
health = {{ http = "http://127.0.0.1:{port}/healthz", interval = "100ms", timeout = "1s", failures = 2 }}
restart = "always"
backoff_initial = "50ms"
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: status(sock)["web"].get("health") == "healthy")
    first = started_pids(events, "web")[0]
    code.write_text("503")
    # Two failed checks: its stop signal, then a restart (a new process), which is healthy again
    # once the endpoint says 200.
    wait_for(lambda: len(started_pids(events, "web")) == 2)
    assert not alive(ns, first)
    code.write_text("200")
    wait_for(lambda: status(sock)["web"].get("health") == "healthy" and status(sock)["web"]["restarts"] == 1)
    second = started_pids(events, "web")[1]
    assert status(sock)["web"]["pid"] == second and alive(ns, second)
    table = ctl(sock, "status").stdout.splitlines()
    assert "HEALTH" in table[0] and "healthy" in table[1]
    stop(ns)


def test_command_health_on_a_critical_service_ends_the_container(tmp_path: Path) -> None:
    flag = tmp_path / "fine"
    flag.touch()
    toml = f"""
[services.app]
command = ["sh", "-c", "rm {flag}; exec sleep 60"]
health = {{ command = ["test", "-e", "{flag}"], interval = "50ms", failures = 3 }}
critical = true
"""
    conf = tmp_path / "s.toml"
    conf.write_text(toml)
    result = run_ns(["-v", "--control-socket", str(tmp_path / "s.sock"), "--config", str(conf)])
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert "service unhealthy" in result.stderr


def test_tcp_health(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, port = tmp_path / "events", free_port()
    toml = f"""
[services.db]
command = {svc("db", events, "--listen", str(port))}
health = {{ tcp = "127.0.0.1:{port}", interval = "100ms", start_period = "5s" }}
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: status(sock)["db"].get("health") == "healthy")
    stop(ns)


def test_idle_between_checks_and_schedules(tmp_path: Path, namespace: type[Namespace]) -> None:
    toml = """
[services.app]
command = ["sleep", "60"]
health = { command = ["true"], interval = "1h" }
watchdog = "1h"

[services.nightly]
command = ["true"]
schedule = "@daily"
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: status(sock)["app"]["state"] == "ready" and status(sock)["nightly"].get("next_run"))
    # The fence: pyinit is back in epoll_wait, done with the requests.
    wait_for(lambda: Path(f"/proc/{ns.init_pid}/wchan").read_text() == "do_epoll_wait")
    assert_never_wakes_up(ns.init_pid, 2.0)  # timers, not polls: nothing is due for an hour
    stop(ns)


def test_watchdog_miss_restarts_the_service(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, silence = tmp_path / "events", tmp_path / "silence"
    toml = f"""
[services.beater]
command = {json.dumps([PYTHON, str(HELPERS / "watchdog.py"), str(events), str(silence)])}
watchdog = "200ms"
restart = "always"
backoff_initial = "50ms"
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: status(sock)["beater"].get("health") == "healthy")
    first = lines(events)[0].split()
    assert first[2] == "200000" and first[1] == first[3]  # WATCHDOG_USEC, and WATCHDOG_PID is its own pid
    silence.touch()
    wait_for(lambda: sum(line.startswith("start ") for line in lines(events)) == 2, timeout=20)
    assert f"silent {first[1]}" in lines(events)
    assert not alive(ns, first[1])
    stop(ns)


# -- logs -------------------------------------------------------------------------------


def test_logs_last_lines_and_follow(tmp_path: Path, namespace: type[Namespace]) -> None:
    more, out = tmp_path / "more", tmp_path / "out"
    script = (
        "for i in $(seq 1 50); do echo out$i; done; echo err1 >&2; "
        f"while [ ! -e {more} ]; do sleep 0.02; done; echo later1; echo later2 >&2; exec sleep 60"
    )
    toml = f"""
[services.chatty]
command = ["sh", "-c", "{script}"]
output = "quiet"
log_buffer = "64KiB"
"""
    with out.open("wb") as sink:
        ns, sock = start(tmp_path, namespace, toml, stdout=sink)
        wait_for(lambda: "err1" in ctl(sock, "logs", "chatty").stdout)
        tail = ctl(sock, "logs", "chatty", "-n", "3").stdout.splitlines()
        assert [row.split(maxsplit=2)[1:] for row in tail] == [
            ["stdout", "out49"],
            ["stdout", "out50"],
            ["stderr", "err1"],
        ]
        assert tail[0].split()[0].endswith("Z")  # time-stamped
        assert len(ctl(sock, "logs", "chatty").stdout.splitlines()) == 51
        follower = subprocess.Popen(
            [PYINIT, "ctl", "--control-socket", str(sock), "logs", "chatty", "-n", "1", "-f"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline().split()[1:] == ["stderr", "err1"]
            more.touch()
            assert follower.stdout.readline().split()[1:] == ["stdout", "later1"]
            assert follower.stdout.readline().split()[1:] == ["stderr", "later2"]
            follower.send_signal(signal.SIGINT)  # "until interrupted"
            assert follower.wait(10) == 0
        finally:
            follower.kill()
            follower.wait()
        bad = ctl(sock, "logs", "nope")
        assert bad.returncode == 1 and "no such service" in bad.stderr
        stop(ns)
    assert b"out1" not in out.read_bytes()  # quiet: kept in the ring only


def test_json_log_format_relays_service_lines_as_json(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(
        '[services.talk]\ncommand = ["sh", "-c", "echo hello; echo oops >&2"]\noutput = "prefix"\nrestart = "no"\n'
    )
    result = run_ns(["--log-format", "json", "--control-socket", str(tmp_path / "s.sock"), "--config", str(conf)])
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["service"], r["stream"], r["line"]) for r in out] == [("talk", "stdout", "hello")]
    err = [json.loads(line) for line in result.stderr.splitlines()]
    assert ("talk", "stderr", "oops") in [(r.get("service"), r.get("stream"), r.get("line")) for r in err]


# -- reload -------------------------------------------------------------------------------

RELOAD_BEFORE = """
[services.same]
command = {same}

[services.edit]
command = {edit_v1}

[services.gone]
command = {gone}
"""

RELOAD_AFTER = """
[services.same]
command = {same}

[services.edit]
command = {edit_v2}

[services.fresh]
command = {fresh}
depends_on = ["same"]
"""


def test_reload_adds_removes_changes_and_leaves_alone(tmp_path: Path, namespace: type[Namespace]) -> None:
    events = tmp_path / "events"
    commands = {
        "same": svc("same", events),
        "edit_v1": svc("edit", events, "--run", "50"),
        "edit_v2": svc("edit", events, "--run", "51"),
        "gone": svc("gone", events),
        "fresh": svc("fresh", events),
    }
    ns, sock = start(tmp_path, namespace, RELOAD_BEFORE.format(**commands))
    wait_for(lambda: ctl(sock, "ready").returncode == 0)
    before = {name: s["pid"] for name, s in status(sock).items()}
    conf = tmp_path / "services.toml"

    conf.write_text(RELOAD_AFTER.format(**commands) + "\n[services.broken]\ncommand = 5\n")
    bad = ctl(sock, "reload")
    assert bad.returncode == 1
    assert f"{conf}:13: services.broken.command: expected a string or a list of strings" in bad.stderr
    assert {name: s["pid"] for name, s in status(sock).items()} == before  # nothing changed

    conf.write_text(RELOAD_AFTER.format(**commands))
    result = ctl(sock, "reload")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["added: fresh", "removed: gone", "changed: edit", "unchanged: same"]
    wait_for(lambda: set(status(sock)) == {"same", "edit", "fresh"} and ctl(sock, "ready").returncode == 0)
    after = status(sock)
    assert after["same"]["pid"] == before["same"]  # untouched
    assert after["edit"]["pid"] != before["edit"] and alive(ns, after["edit"]["pid"])
    assert not alive(ns, before["gone"])
    assert "signal gone SIGTERM" in lines(events) and "signal edit SIGTERM" in lines(events)
    assert started_pids(events, "fresh") == [after["fresh"]["pid"]]
    stop(ns)


# -- instances ------------------------------------------------------------------------------


def test_instances_with_their_number_and_scale(tmp_path: Path, namespace: type[Namespace]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    toml = f"""
[services.worker]
command = ["sh", "-c", "echo port $PORT; echo $PORT > {out}/{{instance}}; exec sleep 60"]
env = {{ PORT = "80{{instance}}" }}
instances = 2
output = "quiet"
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: sorted(os.listdir(out)) == ["1", "2"])
    assert (out / "1").read_text() == "801\n" and (out / "2").read_text() == "802\n"
    assert sorted(status(sock)) == ["worker-1", "worker-2"]
    # The group's logs: each instance's lines, with its name.
    wait_for(lambda: len(ctl(sock, "logs", "worker").stdout.splitlines()) == 2)
    rows = sorted(row.split(maxsplit=1)[1] for row in ctl(sock, "logs", "worker").stdout.splitlines())
    assert rows == ["worker-1 stdout port 801", "worker-2 stdout port 802"]

    assert ctl(sock, "scale", "worker", "3").returncode == 0
    wait_for(lambda: (out / "3").exists() and (out / "3").read_text() == "803\n")
    pids = {name: s["pid"] for name, s in status(sock).items()}
    assert sorted(pids) == ["worker-1", "worker-2", "worker-3"]

    result = ctl(sock, "scale", "worker", "1")
    assert result.returncode == 0 and "removed: worker-2, worker-3" in result.stdout
    wait_for(lambda: sorted(status(sock)) == ["worker-1"])
    assert status(sock)["worker-1"]["pid"] == pids["worker-1"]  # the survivor is untouched
    wait_for(lambda: not alive(ns, pids["worker-3"]))

    assert ctl(sock, "scale", "worker", "2").returncode == 0
    wait_for(lambda: status(sock).get("worker-2", {}).get("state") == "ready")
    assert ctl(sock, "stop", "worker").returncode == 0  # the group: every instance
    assert {s["state"] for s in status(sock).values()} == {"stopped"}
    assert ctl(sock, "start", "worker").returncode == 0
    wait_for(lambda: {s["state"] for s in status(sock).values()} == {"ready"})
    assert ctl(sock, "scale", "nope", "2").returncode == 1
    stop(ns)


# -- environment ------------------------------------------------------------------------------


def test_env_files_and_expansion(tmp_path: Path, namespace: type[Namespace]) -> None:
    env_file, out = tmp_path / "app.env", tmp_path / "out"
    env_file.write_text("# settings\nGREETING=hello world\nQUOTED='kept'\nPORT=9000\n")
    toml = f"""
[services.app]
command = [
    "sh", "-c", "echo \\"$GREETING|$QUOTED|$MODE|$1\\" > {out}; exec sleep 60",
    "sh", "${{PORT}}-${{MISSING:-fallback}}-$$",
]
env_file = ["${{CONF_DIR}}/app.env", "-${{CONF_DIR}}/optional.env"]
env = {{ MODE = "${{GREETING}}!" }}
"""
    conf = tmp_path / "services.toml"
    conf.write_text(toml)
    sock = tmp_path / "ctl.sock"
    ns = namespace(
        ["--control-socket", str(sock), "--config", str(conf)], env={**os.environ, "CONF_DIR": str(tmp_path)}
    )
    wait_for(lambda: out.exists() and out.read_text().endswith("\n"))
    assert out.read_text() == "hello world|'kept'|hello world!|9000-fallback-$\n"
    stop(ns)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('command = ["echo", "${NOT_SET_ANYWHERE}"]', "services.app.command: variable NOT_SET_ANYWHERE is not set"),
        (
            'command = "echo"\nenv_file = "/nonexistent/app.env"',
            "services.app.env_file: env_file '/nonexistent/app.env': no such file",
        ),
        ('command = "echo"\ncwd = "${NOPE_DIR}/x"', "services.app.cwd: variable NOPE_DIR is not set"),
    ],
)
def test_expansion_and_env_file_errors(tmp_path: Path, body: str, message: str) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(f"[services.app]\n{body}\n")
    result = run_ns(["--config", str(conf)], env={k: v for k, v in os.environ.items() if k != "NOPE_DIR"})
    assert result.returncode == 2
    assert f"pyinit: {conf}:" in result.stderr and message in result.stderr, result.stderr


# -- schedules ----------------------------------------------------------------------------------


def test_a_schedule_fires_and_a_run_still_going_is_skipped(tmp_path: Path, namespace: type[Namespace]) -> None:
    """PYINIT_TEST_MINUTE=200ms: each cron minute lasts 200 ms, so "* * * * *" fires 5 times a second."""
    runs = tmp_path / "runs"
    toml = f"""
[services.tick]
command = ["sh", "-c", "echo begin >> {runs}; sleep 0.5; echo end >> {runs}"]
schedule = "* * * * *"
"""
    conf = tmp_path / "services.toml"
    conf.write_text(toml)
    sock, err = tmp_path / "ctl.sock", tmp_path / "err"
    with err.open("wb") as stderr:
        ns = namespace(
            ["-v", "--control-socket", str(sock), "--config", str(conf)],
            env={**os.environ, "PYINIT_TEST_MINUTE": "200ms"},
            stderr=stderr,
        )
        wait_for(lambda: lines(runs).count("end") >= 2)
        # Runs never overlap: each begin is followed by its end before the next begin.
        seen = lines(runs)
        assert all(a != b for a, b in itertools.pairwise(seen)), seen
        job = status(sock)["tick"]
        assert job["schedule"] == "* * * * *" and job["next_run"]
        wait_for(lambda: status(sock)["tick"]["last_exit"] == "exit 0")
        assert 0.4 < float(status(sock)["tick"]["last_duration"]) < 5
        stop(ns)
    assert "scheduled run skipped" in err.read_text()


def test_ctl_start_runs_a_scheduled_job_now(tmp_path: Path, namespace: type[Namespace]) -> None:
    runs = tmp_path / "runs"
    toml = f"""
[services.report]
command = ["sh", "-c", "echo ran >> {runs}; exit 3"]
schedule = "@yearly"
"""
    ns, sock = start(tmp_path, namespace, toml)
    assert status(sock)["report"]["state"] == "scheduled"
    assert ctl(sock, "start", "report").returncode == 0
    wait_for(lambda: status(sock)["report"]["last_exit"] == "exit 3")
    assert lines(runs) == ["ran"]
    assert status(sock)["report"]["state"] == "scheduled"  # a failed run is not restarted
    stop(ns)


# -- readiness from a log line, and dependency failure ----------------------------------------


def test_ready_when_a_log_line_matches(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, go = tmp_path / "events", tmp_path / "go"
    toml = f"""
[services.server]
command = [
    "sh", "-c", "echo booting; while [ ! -e {go} ]; do sleep 0.02; done; echo 'listening on port 8080'; exec sleep 60"
]
ready = {{ log = "listening on port \\\\d+" }}
output = "prefix"

[services.client]
command = {svc("client", events)}
depends_on = ["server"]
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: "booting" in ctl(sock, "logs", "server").stdout)
    assert status(sock)["server"]["state"] == "starting" and status(sock)["client"]["state"] == "waiting"
    go.touch()
    wait_for(lambda: status(sock)["client"]["state"] == "ready")
    assert status(sock)["server"]["state"] == "ready"
    stop(ns)


def test_dependency_failure_stops_dependents_unless_ignored(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, die = tmp_path / "events", tmp_path / "die"
    toml = f"""
[services.db]
command = ["sh", "-c", "while [ ! -e {die} ]; do sleep 0.02; done; exit 4"]
restart = "no"

[services.web]
command = {svc("web", events)}
depends_on = ["db"]

[services.metrics]
command = {svc("metrics", events)}
depends_on = ["db"]
on_dependency_failure = "ignore"

[services.setup]
command = ["sh", "-c", "sleep 0.3; exit 1"]
ready = {{ command = ["false"] }}
restart = "no"

[services.app]
command = {svc("app", events)}
depends_on = ["setup"]
"""
    err = tmp_path / "err"
    with err.open("wb") as stderr:
        ns, sock = start(tmp_path, namespace, toml, stderr=stderr)
        wait_for(lambda: status(sock)["web"]["state"] == "ready" and status(sock)["metrics"]["state"] == "ready")
        metrics = status(sock)["metrics"]["pid"]
        die.touch()
        wait_for(lambda: status(sock)["web"]["state"] == "failed")
        assert "signal web SIGTERM" in lines(events)
        assert status(sock)["metrics"]["pid"] == metrics and alive(ns, metrics)
        assert status(sock)["app"]["state"] == "failed" and not started_pids(events, "app")
        stop(ns)
    log = err.read_text()
    assert "service dependency failed" in log and "dependency=db" in log and "dependency=setup" in log
