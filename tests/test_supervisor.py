"""The supervisor's orchestration without processes: start order, stop order, when the run ends.

The frame, the loop and the launcher are stand-ins that record; the services'
pids are beyond the kernel's largest, so every signal sent fails with ESRCH.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyinit import signals
from pyinit.drain import Drain
from pyinit.loop import Timer
from pyinit.personality import NATIVE
from pyinit.services.mode import ServicesMode
from pyinit.services.readiness import Probe
from pyinit.services.service import Service
from pyinit.services.spec import ServiceSpec
from pyinit.services.supervisor import Supervisor
from pyinit.settings import Settings

pytestmark = pytest.mark.timeout(10)

NOBODY = 99_999_999  # no process has this pid, nor this process group
EXIT_0, EXIT_3 = 0, 3 << 8


class Loop:
    def __init__(self) -> None:
        self.timers: list[Timer] = []

    def call_later(self, delay: float, callback: Any) -> Timer:
        self.timers.append(Timer(delay, callback, len(self.timers)))
        return self.timers[-1]


class Frame:
    def __init__(self) -> None:
        self.loop = Loop()
        self.ended = 0

    def end(self, teardown: bool = True) -> None:
        self.ended += 1


class Launcher:
    """Starts nothing: each launch is a service started, and ready at once unless in ``never_ready``."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.launched: list[str] = []
        self.never_ready: set[str] = set()

    def launch(self, service: Service) -> None:
        self.launched.append(service.name)
        service.launched(NOBODY + len(self.launched), 0.0, Probe(service.name, lambda: None), [])
        if service.name not in self.never_ready:
            self.supervisor.on_ready(service)


def supervisor(**depends: str) -> tuple[Supervisor, Frame, Launcher]:
    """``supervisor(db="", web="db")``: web depends on db. Every service is ``restart = "no"``."""
    specs = {}
    for name, deps in depends.items():
        specs[name] = ServiceSpec(name)
        specs[name].depends_on = deps.split()
        specs[name].restart = "no"
    made = Supervisor(Settings(NATIVE), specs)
    frame, launcher = Frame(), Launcher(made)
    drain = Drain(frame.loop, 0, ServicesMode(made).stop_now)  # type: ignore[arg-type]  # no --stop-delay
    made.attach(frame, launcher, drain, None)  # type: ignore[arg-type]
    return made, frame, launcher


def stop_request(s: Supervisor, sig: int = signals.SIGTERM) -> None:
    """TERM, INT or QUIT as the frame hands it to the services' mode."""
    ServicesMode(s).stop_requested(sig)


def exit_of(s: Supervisor, name: str, status: int = EXIT_0) -> None:
    service = s.services[name]
    assert service.pid is not None
    s.on_exit(service, service.pid, status)


def states(s: Supervisor) -> dict[str, str]:
    return {name: service.state for name, service in s.services.items()}


def test_dependencies_start_first_and_a_shutdown_stops_dependents_first() -> None:
    s, frame, launcher = supervisor(web="db", db="", worker="web", cron="")
    s.schedule()
    assert launcher.launched == ["db", "web", "worker", "cron"]
    stop_request(s)
    # worker and cron have nothing depending on them; web waits for worker, db for web.
    assert states(s) == {"db": "ready", "web": "ready", "worker": "stopping", "cron": "stopping"}
    exit_of(s, "worker")
    assert states(s)["web"] == "stopping" and states(s)["db"] == "ready"
    exit_of(s, "web")
    exit_of(s, "cron")
    assert states(s)["db"] == "stopping" and frame.ended == 0
    exit_of(s, "db")
    assert set(states(s).values()) == {"stopped"}
    assert frame.ended == 1 and s.exit_code() == 0


def test_a_stop_whose_grace_runs_out_kills_and_the_next_one_begins() -> None:
    s, frame, _ = supervisor(db="", web="db")
    s.schedule()
    stop_request(s)
    (grace,) = frame.loop.timers
    assert grace.when == 10.0  # web's stop_grace
    s.services["web"].pid = None  # the leader is gone, the rest of its group (as far as we know) not
    grace.callback()
    assert states(s) == {"db": "stopping", "web": "stopped"}


def test_when_every_service_has_ended_on_its_own_the_run_ends() -> None:
    s, frame, _ = supervisor(a="", b="")
    s.schedule()
    exit_of(s, "a")
    assert frame.ended == 0 and not s.stopping
    exit_of(s, "b", EXIT_3)
    assert s.stopping and frame.ended == 1 and s.exit_code() == 1


def test_a_service_blocked_by_a_failed_dependency_counts_as_ended() -> None:
    s, frame, launcher = supervisor(db="", web="db")
    launcher.never_ready.add("db")
    s.schedule()
    assert states(s) == {"db": "starting", "web": "waiting"}
    exit_of(s, "db", EXIT_3)
    assert states(s) == {"db": "failed", "web": "failed"}  # on_dependency_failure = "stop": it never starts
    assert frame.ended == 1 and s.exit_code() == 1


def test_a_dependent_that_ignores_a_failed_dependency_keeps_waiting() -> None:
    s, frame, launcher = supervisor(db="", web="db")
    s.services["web"].spec.on_dependency_failure = "ignore"
    launcher.never_ready.add("db")
    s.schedule()
    exit_of(s, "db", EXIT_3)
    assert states(s) == {"db": "failed", "web": "stopped"}  # blocked, so the run ends; halted by the shutdown
    assert frame.ended == 1 and s.exit_code() == 1


def test_a_critical_service_ends_everything_with_its_status() -> None:
    s, frame, _ = supervisor(side="", main="side")
    s.services["main"].spec.critical = True
    s.schedule()
    exit_of(s, "main", 7 << 8)
    assert s.stopping and states(s)["side"] == "stopping"
    stop_request(s)  # Ctrl-C during that stop: no more grace (a SIGKILL, to no one here)
    exit_of(s, "side")
    assert frame.ended == 1 and s.exit_code() == 7


def test_a_stopped_service_keeps_the_run_going() -> None:
    s, frame, _ = supervisor(a="", b="")
    s.schedule()
    replies: list[str] = []
    s.stop(s.services["a"], lambda: replies.append("a stopped"))
    exit_of(s, "a")
    exit_of(s, "b")
    assert replies == ["a stopped"] and frame.ended == 0  # a was stopped by request: not over
    s.request_start(s.services["a"])
    assert states(s)["a"] == "ready"
