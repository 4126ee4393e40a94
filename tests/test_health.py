"""Health: consecutive-failure counting, and TCP and HTTP checks in a real loop against local sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pyinit import signals
from pyinit.loop import Loop
from pyinit.services import checks
from pyinit.services.health import HEALTHY, STARTING, UNHEALTHY, HealthState, Watchdog

pytestmark = pytest.mark.timeout(10)


def test_failures_in_a_row_make_it_unhealthy_and_a_pass_heals() -> None:
    state = HealthState(failures=3, start_period=0, started_at=0)
    assert state.status == STARTING
    assert state.record(False, "x", 1) is None
    assert state.record(False, "x", 2) is None
    assert state.record(True, "ok", 3) == HEALTHY
    assert [state.record(False, "x", t) for t in (4, 5, 6, 7)] == [None, None, UNHEALTHY, None]
    assert state.streak == 4
    assert state.record(True, "ok", 8) == HEALTHY and state.streak == 0


def test_failures_in_the_start_period_do_not_count() -> None:
    state = HealthState(failures=1, start_period=10, started_at=100)
    assert state.record(False, "x", 105) is None and state.streak == 0
    assert state.record(False, "x", 111) == UNHEALTHY


def test_a_pass_ends_the_start_period() -> None:
    state = HealthState(failures=1, start_period=10, started_at=100)
    assert state.record(True, "ok", 101) == HEALTHY
    assert state.record(False, "x", 102) == UNHEALTHY


@pytest.fixture
def loop() -> Iterator[Loop]:
    made = Loop({signals.SIGHUP}, lambda *_: None)
    yield made
    made.close()


def run(loop: Loop, attempt: checks.Attempt) -> tuple[bool, str]:
    results: list[tuple[bool, str]] = []
    attempt.start(lambda ok, detail: results.append((ok, detail)))
    deadline = time.monotonic() + 5
    while not results and time.monotonic() < deadline:
        loop.run_once()
    assert len(results) == 1
    return results[0]


def test_tcp_check_passes_on_a_listener_and_fails_on_a_closed_port(loop: Loop) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert run(loop, checks.SocketAttempt(loop, 2, "127.0.0.1", port))[0] is True
    ok, detail = run(loop, checks.SocketAttempt(loop, 2, "127.0.0.1", port))
    assert not ok and "refused" in detail.lower()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/") or 200)
        if code == 999:
            time.sleep(0.5)  # no answer in time
            code = 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "passes"), [("/200", True), ("/204", True), ("/302", True), ("/404", False), ("/503", False)]
)
def test_http_check_passes_on_2xx_and_3xx(loop: Loop, http_port: int, path: str, passes: bool) -> None:
    ok, detail = run(loop, checks.HttpAttempt(loop, 2, "127.0.0.1", http_port, path))
    assert ok is passes and detail == f"HTTP {path[1:]}"


def test_http_check_times_out(loop: Loop, http_port: int) -> None:
    ok, detail = run(loop, checks.HttpAttempt(loop, 0.1, "127.0.0.1", http_port, "/999"))
    assert not ok and "no answer within 0.1s" in detail


def test_status_lines() -> None:
    assert checks.status_ok(b"HTTP/1.1 200 OK\r") == (True, "HTTP 200")
    assert checks.status_ok(b"SSH-2.0-OpenSSH")[0] is False
    assert checks.status_ok(b"")[0] is False


def test_watchdog_misses_count_as_failures(loop: Loop) -> None:
    state = HealthState(failures=2, start_period=0, started_at=time.monotonic())
    changes: list[str] = []
    dog = Watchdog(loop, 0.05, state, lambda status, detail: changes.append(status))
    dog.start()
    dog.kick()
    assert changes == [HEALTHY]
    deadline = time.monotonic() + 5
    while UNHEALTHY not in changes and time.monotonic() < deadline:
        loop.run_once()
    assert changes == [HEALTHY, UNHEALTHY] and state.streak == 2
    dog.kick()
    assert changes[-1] == HEALTHY
    dog.stop()
    assert Watchdog.environment(2.5)["WATCHDOG_USEC"] == "2500000"


def parse(value: object) -> checks.Health:
    from pyinit.services.values import command, duration

    return checks.parse_health(value, duration, command)


def test_parse_health() -> None:
    health = parse({"http": "http://localhost:8000/healthz", "interval": "5s", "timeout": 1, "failures": 2})
    assert (health.kind, health.host, health.port, health.path) == ("http", "127.0.0.1", 8000, "/healthz")
    assert (health.interval, health.timeout, health.failures, health.start_period) == (5.0, 1.0, 2, 0.0)
    assert parse({"tcp": "[::1]:99"}).host == "::1"
    assert parse({"command": "pg_isready -q"}).command == ["pg_isready", "-q"]
    assert parse({"http": "http://web"}).port == 80


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "exactly one of"),
        ({"tcp": 1, "http": "http://a"}, "exactly one of"),
        ({"tcp": 0}, "tcp: expected a port"),
        ({"http": "https://a/"}, "http: expected a URL"),
        ({"tcp": 80, "retries": 3}, "unknown key 'retries'"),
        ({"tcp": 80, "failures": 0}, "failures: expected a whole number >= 1"),
        ({"tcp": 80, "interval": 0}, "interval: must be more than 0"),
        ("tcp", "expected a table"),
    ],
)
def test_health_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(value)
