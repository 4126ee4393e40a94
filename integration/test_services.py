"""pyinit supervising several services as PID 1 of a real PID namespace."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from support import HERE, PYINIT, Namespace, assert_never_wakes_up, proc_status, run_ns, wait_for

from pyinit.ctl import exchange

pytestmark = pytest.mark.timeout(90)

SERVICE = [sys.executable, str(HERE / "helpers" / "service.py")]


def svc(name: str, events: Path, *extra: str) -> str:
    """A TOML command list running the test service."""
    return json.dumps([*SERVICE, name, str(events), *extra])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lines(events: Path) -> list[str]:
    return events.read_text().splitlines() if events.exists() else []


def ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYINIT, "ctl", "--control-socket", str(sock), *args], capture_output=True, text=True, timeout=30
    )


def status(sock: Path) -> dict[str, dict[str, object]]:
    result = ctl(sock, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def start(tmp_path: Path, namespace: type[Namespace], toml: str, *args: str, **popen: object) -> tuple[Namespace, Path]:
    conf = tmp_path / "services.toml"
    conf.write_text(toml)
    sock = tmp_path / "ctl.sock"
    ns = namespace(["-v", "--control-socket", str(sock), "--config", str(conf), *args], **popen)
    wait_for(sock.exists)
    return ns, sock


def start_stubborn(tmp_path: Path, namespace: type[Namespace], stop_grace: str) -> tuple[Namespace, Path]:
    """One service that ignores SIGTERM (it records each in ``events``); returned once its trap is in place."""
    trapped, events = tmp_path / "trapped", tmp_path / "events"
    toml = f"""
[services.stubborn]
command = ["sh", "-c", "trap 'echo TERM >> {events}' TERM; touch {trapped}; while :; do sleep 0.1; done"]
stop_grace = "{stop_grace}"
"""
    ns, _ = start(tmp_path, namespace, toml)
    wait_for(trapped.exists)
    return ns, events


def stop(ns: Namespace) -> None:
    """A stop request to pyinit: every service stops and pyinit exits 0."""
    ns.kill(signal.SIGTERM)
    assert ns.wait(30) == 0


def test_readiness_of_each_kind_orders_start_and_reverse_stop(tmp_path: Path, namespace: type[Namespace]) -> None:
    events, port, flag = tmp_path / "events", free_port(), tmp_path / "a.ready"
    toml = f"""
[services.a]
command = {svc("a", events, "--ready-after", "0.3", "--ready-file", str(flag))}
ready = {{command = ["test", "-e", "{flag}"], interval = "50ms"}}
stop_signal = "INT"

[services.b]
command = {svc("b", events, "--ready-after", "0.3", "--listen", str(port))}
depends_on = ["a"]
ready = {{tcp = {port}, interval = "50ms"}}
stop_signal = "USR1"

[services.c]
command = {svc("c", events, "--ready-after", "0.3", "--ready-fd", "3")}
depends_on = ["b"]
ready = {{fd = 3}}
stop_signal = "HUP"

[services.d]
command = {svc("d", events, "--ready-after", "0.3", "--notify")}
depends_on = ["c"]
ready = "notify"
stop_signal = "QUIT"

[services.e]
command = {svc("e", events)}
depends_on = ["d"]

[services.f]
command = {svc("f", events)}
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: ctl(sock, "ready").returncode == 0, timeout=30)
    # e and f have no probe: ready once started, perhaps before they have run a line.
    wait_for(lambda: {"ready e", "ready f"} <= set(lines(events)))
    seen = lines(events)
    # Each dependent starts only after its dependency recorded that it was ready.
    for dep, dependent in ("ab", "bc", "cd", "de"):
        assert seen.index(f"ready {dep}") < next(i for i, ln in enumerate(seen) if ln.startswith(f"start {dependent}"))
    # f depends on nothing: it started together with a, long before a was ready.
    assert next(i for i, ln in enumerate(seen) if ln.startswith("start f")) < seen.index("ready a")
    states = status(sock)
    assert {s["state"] for s in states.values()} == {"ready"}
    pids = {name: int(s["pid"]) for name, s in states.items()}  # type: ignore[call-overload]
    assert all(ln.split()[2] == str(pids[ln.split()[1]]) for ln in seen if ln.startswith("start"))

    stop(ns)
    stops = [ln for ln in lines(events) if ln.startswith("signal")]
    order = [ln.split()[1] for ln in stops]
    # Reverse dependency order along the chain; f is independent and may stop at any time.
    assert [n for n in order if n != "f"] == ["e", "d", "c", "b", "a"]
    assert sorted(stops) == sorted(
        [
            "signal a SIGINT",
            "signal b SIGUSR1",
            "signal c SIGHUP",
            "signal d SIGQUIT",
            "signal e SIGTERM",
            "signal f SIGTERM",
        ]
    )
    assert not sock.exists()


def test_crash_loop_backs_off_then_gives_up(tmp_path: Path, namespace: type[Namespace]) -> None:
    events = tmp_path / "events"
    toml = f"""
[services.crash]
command = ["sh", "-c", "date +%s.%N >> {events}; exit 3"]
restart = "on-failure"
backoff_initial = "500ms"
backoff_max = "10s"
start_limit = 3

[services.steady]
command = ["sleep", "60"]
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: status(sock)["crash"]["state"] == "failed", timeout=30)
    starts = [float(t) for t in lines(events)]
    assert len(starts) == 4  # the first run and three restarts
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 0.5, 1, 2 s of back-off. A loaded machine only ever lengthens a gap, so lower
    # bounds are what prove the growth (a constant back-off fails the second).
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.9, gaps
    crash = status(sock)["crash"]
    assert crash["restarts"] == 3 and crash["last_exit"] == "exit 3" and crash["pid"] is None
    assert ctl(sock, "ready").returncode == 1
    stop(ns)


def test_critical_service_ends_everything_with_its_status(tmp_path: Path, namespace: type[Namespace]) -> None:
    events = tmp_path / "events"
    toml = f"""
[services.side]
command = {svc("side", events)}

[services.main]
command = {svc("main", events, "--run", "0.5", "--exit", "7")}
depends_on = ["side"]
restart = "no"
critical = true
"""
    ns, _sock = start(tmp_path, namespace, toml)
    assert ns.wait(30) == 7
    assert "signal side SIGTERM" in lines(events)


def test_critical_service_that_gives_up(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(
        '[services.x]\ncommand = ["sh", "-c", "exit 5"]\ncritical = true\nbackoff_initial = "50ms"\n'
        "start_limit = 2\n"
        '[services.y]\ncommand = ["sleep", "60"]\n'
    )
    result = run_ns(["-v", "--log-format", "json", "--control-socket", str(tmp_path / "s"), "--config", str(conf)])
    assert result.returncode == 5
    events = [json.loads(line) for line in result.stderr.splitlines()]
    x = [(e["event"], e["level"]) for e in events if e.get("service") == "x"]
    assert x[:4] == [
        ("service starting", "info"),
        ("service ready", "info"),
        ("service exited", "warning"),
        ("service restarting", "info"),
    ]
    assert ("service given up", "warning") in x and ("critical service ended; stopping everything", "warning") in x
    y = [e["event"] for e in events if e.get("service") == "y"]
    assert y[-2:] == ["service stopping", "service stopped"]


def test_stop_grace_then_sigkill(tmp_path: Path, namespace: type[Namespace]) -> None:
    """Two services that ignore SIGTERM, asked to stop together: ``short`` with a stop_grace of its
    own, ``long`` with the default (10 s). ``short`` must outlive the SIGTERM (it ticks on within
    its grace) and be SIGKILLed while ``long`` still runs and sees it go: with stop_grace
    ignored both would have the default grace and be killed together."""
    events = tmp_path / "events"

    def stubborn(name: str, then: str) -> str:
        # $$$$: the config's $$ is a literal $ (see "Environment" in the README), so this is the shell's $$.
        loop = f"trap 'echo TERM {name} >> {events}' TERM; echo $$$$ > {tmp_path / name}; "
        return json.dumps(["sh", "-c", loop + f"while :; do {then} sleep 0.1; done"])

    short_pid = tmp_path / "short"
    # long: once short is gone (its pid file written, no such process any more), say so once.
    gone = f"[ -z $seen ] && [ -s {short_pid} ] && ! kill -0 $(cat {short_pid}) 2>/dev/null"
    saw = f"if {gone}; then seen=1; echo short gone >> {events}; fi;"
    toml = f"""
[services.short]
command = {stubborn("short", f"echo tick >> {events};")}
stop_grace = "2s"

[services.long]
command = {stubborn("long", saw)}
"""
    ns, _sock = start(tmp_path, namespace, toml)
    wait_for(lambda: short_pid.exists() and (tmp_path / "long").exists() and "tick" in lines(events))
    ns.kill(signal.SIGTERM)
    wait_for(lambda: "short gone" in lines(events), timeout=30)
    log = lines(events)
    assert {"TERM short", "TERM long"} <= set(log[: log.index("short gone")])
    assert "tick" in log[log.index("TERM short") : log.index("short gone")]  # alive within its grace
    ns.kill(signal.SIGINT)  # long has the default 10 s grace: a second stop request kills it now
    assert ns.wait(30) == 0


def test_orphans_of_services_are_reaped(tmp_path: Path, namespace: type[Namespace]) -> None:
    marker = tmp_path / "orphan"
    toml = f"""
[services.parent]
command = ["sh", "-c", "sleep 1 & echo $! > {marker}; exit 0"]
restart = "no"

[services.steady]
command = ["sleep", "60"]
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: marker.exists() and marker.read_text().strip())
    wait_for(lambda: status(sock)["parent"]["state"] == "exited")

    def zombies_or_sleepers() -> list[str]:
        out = ns.nsenter("ps", "-eo", "stat=,args=", capture_output=True, text=True).stdout
        return [ln for ln in out.splitlines() if ln.startswith("Z") or "sleep 1" in ln]

    wait_for(lambda: not zombies_or_sleepers(), timeout=15)
    stop(ns)


def test_ctl_commands(tmp_path: Path, namespace: type[Namespace]) -> None:
    events = tmp_path / "events"
    toml = f"""
[services.web]
command = {svc("web", events)}
restart = "no"

[services.worker]
command = {svc("worker", events)}
stop_signal = "USR2"
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: ctl(sock, "ready").returncode == 0)
    table = ctl(sock, "status").stdout.splitlines()
    assert table[0].split() == ["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT"]
    assert [row.split()[:2] for row in table[1:]] == [["web", "ready"], ["worker", "ready"]]

    first = status(sock)["worker"]["pid"]
    result = ctl(sock, "stop", "worker")
    assert result.returncode == 0 and "stopped" in result.stdout
    assert "signal worker SIGUSR2" in lines(events)
    assert status(sock)["worker"]["state"] == "stopped"
    assert ctl(sock, "ready").returncode == 1

    assert ctl(sock, "start", "worker").returncode == 0
    wait_for(lambda: status(sock)["worker"]["state"] == "ready")
    second = status(sock)["worker"]["pid"]
    assert second != first

    assert ctl(sock, "restart", "worker").returncode == 0
    wait_for(lambda: status(sock)["worker"]["state"] == "ready")
    assert status(sock)["worker"]["pid"] not in (first, second)

    assert ctl(sock, "signal", "web", "HUP").returncode == 0
    wait_for(lambda: "signal web SIGHUP" in lines(events))
    wait_for(lambda: status(sock)["web"]["state"] == "exited")  # restart = "no": it stays down

    bad = ctl(sock, "stop", "nope")
    assert bad.returncode == 1 and "no such service" in bad.stderr
    assert ctl(sock, "signal", "worker", "NOPE").returncode == 1
    assert ctl(sock, "frobnicate").returncode == 2
    stop(ns)


def raw_request(sock: Path, payload: bytes) -> bytes:
    return exchange(str(sock), payload, timeout=10)


def test_malformed_and_oversized_requests(tmp_path: Path, namespace: type[Namespace]) -> None:
    ns, sock = start(tmp_path, namespace, '[services.a]\ncommand = ["sleep", "60"]\n')
    for payload in (b"not json\n", b"[1, 2]\n", b'{"cmd": 5}\n', b"\xff\xfe\n", b'{"cmd": "nope"}\n'):
        reply = json.loads(raw_request(sock, payload))
        assert reply["ok"] is False and reply["error"], payload
    reply = json.loads(raw_request(sock, b"x" * 100_000))
    assert reply == {"ok": False, "error": "request too large (at most 4096 bytes)"}
    # A client that connects and says nothing does not block anyone else.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(sock))
        assert status(sock)["a"]["state"] == "ready"
    assert os.stat(sock).st_mode & 0o777 == 0o600
    stop(ns)


def test_peer_with_another_uid_is_refused(namespace: type[Namespace]) -> None:
    # Outside pytest's 0700 tmp directory, so that only SO_PEERCRED stands in the way.
    base = Path(tempfile.mkdtemp(prefix="pyinit-peer-"))
    try:
        base.chmod(0o755)
        ns, sock = start(base, namespace, '[services.a]\ncommand = ["sleep", "60"]\n')
        sock.chmod(0o666)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                os.write(write_end, raw_request(sock, b'{"cmd": "status"}\n'))
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            answer = reader.read()
        os.waitpid(pid, 0)
        assert json.loads(answer) == {"ok": False, "error": "permission denied"}
        assert status(sock)["a"]["state"] == "ready"  # root is still served
        ns.kill(signal.SIGTERM)
        assert ns.wait(30) == 0
    finally:
        for leftover in base.iterdir():
            leftover.unlink()
        base.rmdir()


def test_config_errors_name_file_line_and_key_and_start_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    conf = tmp_path / "bad.toml"
    conf.write_text(
        f"""[services.ok]
command = ["touch", "{marker}"]

[services.web]
command = "x"
restart = "sometimes"
depends_on = ["ghost"]
stop_signal = "NOPE"

[services.loop1]
command = "x"
depends_on = ["loop2"]

[services.loop2]
command = "x"
depends_on = ["loop1"]

[services.empty]
cwd = "/"
"""
    )
    result = run_ns(["--control-socket", str(tmp_path / "s"), "--config", str(conf)])
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert errors == [
        f"pyinit: {conf}:6: services.web.restart: invalid value 'sometimes' (one of: no, on-failure, always)",
        f"pyinit: {conf}:8: services.web.stop_signal: invalid signal: NOPE",
        f"pyinit: {conf}:18: services.empty.command: missing (every service needs a command)",
        f"pyinit: {conf}:7: services.web.depends_on: unknown service 'ghost'",
        f"pyinit: {conf}:16: services.loop2.depends_on: dependency cycle: loop1 -> loop2 -> loop1",
    ]
    assert not marker.exists()


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text('[services.a]\ncommand = "x"\n= oops\n')
    result = run_ns(["--config", str(conf)])
    assert result.returncode == 2 and result.stderr.startswith(f"pyinit: {conf}:3: syntax: ")
    result = run_ns(["--config", str(tmp_path / "missing.toml")])
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_procfile_prefixes_output_and_first_exit_ends_all(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("# two processes\nweb: echo hello from web; sleep 30\nworker: sleep 0.5; echo done; exit 4\n")
    result = run_ns(["--control-socket", str(tmp_path / "s"), "--procfile", str(procfile)])
    assert result.returncode == 4
    out = result.stdout.splitlines()
    assert "web    | hello from web" in out and "worker | done" in out


def test_service_user_and_env(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(
        """[services.who]
command = ["sh", "-c", "echo $(id -u) $(id -g) $(id -G) $GREETING $(pwd)"]
user = 65534
group = 65534
env = {GREETING = "hi"}
cwd = "/"
restart = "no"
critical = true
"""
    )
    result = run_ns(["--control-socket", str(tmp_path / "s"), "--config", str(conf)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["65534", "65534", "65534", "hi", "/"]


def test_idle_supervisor_never_wakes_up(tmp_path: Path, namespace: type[Namespace]) -> None:
    """Services ready, nothing happening: no timer, no poll, not one wake-up."""
    port = free_port()
    toml = f"""
[services.a]
command = {svc("a", tmp_path / "events", "--listen", str(port))}
ready = {{tcp = {port}, interval = "50ms"}}
output = "prefix"

[services.b]
command = ["sleep", "60"]
depends_on = ["a"]
ready = {{command = ["true"]}}
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: ctl(sock, "ready").returncode == 0)
    # The fence: pyinit is back in epoll_wait, done with the request and the probes.
    wait_for(lambda: Path(f"/proc/{ns.init_pid}/wchan").read_text() in ("do_epoll_wait", "ep_poll"))  # 6.x, 5.x
    assert_never_wakes_up(ns.init_pid)
    stop(ns)


def test_second_stop_request_skips_the_grace(tmp_path: Path, namespace: type[Namespace]) -> None:
    ns, events = start_stubborn(tmp_path, namespace, "60s")
    ns.kill(signal.SIGTERM)
    wait_for(lambda: "TERM" in lines(events))  # the fence: the first request was carried out
    ns.kill(signal.SIGINT)
    assert ns.wait(30) == 0  # well before the 60 s grace


def test_wrapped_service_is_stopped_when_its_whole_group_is(tmp_path: Path, namespace: type[Namespace]) -> None:
    """`sh -c` (a Procfile entry) dies of the stop signal at once while its program is still
    shutting down: a restart, or the stop of what it depends on, must wait for the program."""
    events = tmp_path / "events"

    def wrapped(name: str) -> str:  # "; true": no shell may exec the program in its place
        return json.dumps(["sh", "-c", shlex.join([*SERVICE, name, str(events), "--stop-takes", "0.5"]) + "; true"])

    toml = f"""
[services.db]
command = {wrapped("db")}

[services.web]
command = {wrapped("web")}
depends_on = ["db"]
"""
    ns, sock = start(tmp_path, namespace, toml)
    wait_for(lambda: "ready web" in lines(events))
    assert ctl(sock, "restart", "web").returncode == 0
    wait_for(lambda: lines(events).count("ready web") == 2)
    log = lines(events)
    assert log.index("stopped web") < [i for i, line in enumerate(log) if line.startswith("start web")][1]
    stop(ns)
    log = lines(events)
    assert log[-4:] == ["signal web SIGTERM", "stopped web", "signal db SIGTERM", "stopped db"]


def test_service_user_gets_its_home_and_name(tmp_path: Path) -> None:
    """As su-exec, gosu and systemd do: a program run as another user must not look for its
    files in root's home (unreadable to it); `env` still wins."""
    conf = tmp_path / "s.toml"
    conf.write_text(
        """[services.who]
command = ["sh", "-c", "echo $HOME $USER $LOGNAME"]
user = "nobody"
restart = "no"

[services.mine]
command = ["sh", "-c", "sleep 0.2; echo $HOME $USER"]
user = "nobody"
env = {HOME = "/tmp"}
restart = "no"
"""
    )
    result = run_ns(["--control-socket", str(tmp_path / "s"), "--config", str(conf)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["/nonexistent nobody nobody", "/tmp nobody"]


def test_prefixed_output_can_be_opened_by_path_as_the_service_user(tmp_path: Path) -> None:
    """Programs write logs to /dev/stdout by name (nginx images, `ln -s /dev/stdout app.log`):
    the pipe behind it must belong to the service's user, not to root with mode 0600."""
    conf = tmp_path / "s.toml"
    conf.write_text(
        """[services.n]
command = ["sh", "-c", "echo out > /dev/stdout && echo err > /dev/stderr"]
user = 65534
group = 65534
output = "prefix"
restart = "no"
critical = true
"""
    )
    result = run_ns(["--control-socket", str(tmp_path / "s"), "--config", str(conf)])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "n | out\n" and "n | err\n" in result.stderr


def test_last_words_of_a_prefixed_service_are_not_lost(tmp_path: Path) -> None:
    """A service's output and its exit can reach pyinit in one wake-up that ends the run: what
    is still in the pipe must be copied before pyinit exits. Made certain by holding pyinit
    (SIGSTOP: its writes never block any more) while the service writes its last words and exits."""
    script = (
        "import os, signal, time\n"
        "def bye(*_):\n"
        "    os.write(1, b''.join(b'bye %d\\n' % i for i in range(300)))\n"
        "    os._exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "os.write(1, b'up\\n')\n"
        "time.sleep(60)\n"
    )
    conf = tmp_path / "s.toml"
    conf.write_text(f'[services.s]\ncommand = {json.dumps([sys.executable, "-c", script])}\noutput = "prefix"\n')
    out = tmp_path / "out"
    log_r, log_w = os.pipe()
    with out.open("w") as f:
        ns = Namespace(["-v", "--control-socket", str(tmp_path / "c"), "--config", str(conf)], stdout=f, stderr=log_w)
    try:
        wait_for(lambda: "s | up" in out.read_text())
        (service,) = ns.members()
        os.kill(ns.init_pid, signal.SIGSTOP)
        wait_for(lambda: proc_status(ns.init_pid)["State"].startswith("T"))
        os.kill(service, signal.SIGTERM)  # the service says bye and exits while pyinit is held
        wait_for(lambda: proc_status(service)["State"].startswith("Z"))
        ns.kill(signal.SIGTERM)  # pyinit wakes up to its exit, its last words and the stop at once
        os.kill(ns.init_pid, signal.SIGCONT)
        os.close(log_w)
        log_w = -1
        os.set_blocking(log_r, False)
        while ns.proc.poll() is None:  # let pyinit log on
            try:
                os.read(log_r, 65536)
            except BlockingIOError:
                time.sleep(0.01)
        assert ns.wait(30) == 0
    finally:
        ns.close()
        os.close(log_r)
        if log_w >= 0:
            os.close(log_w)
    assert out.read_text().count("s | bye") == 300
