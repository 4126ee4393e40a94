"""Day two in the supervisor, without processes: dependency failure, jobs, unhealthy restarts, reload."""

from __future__ import annotations

from typing import Any

import pytest

from pyinit.services import changes
from pyinit.services.schedule import Schedule
from pyinit.services.spec import ServiceSpec
from pyinit.services.supervisor import Supervisor
from tests.test_supervisor import EXIT_0, EXIT_3, Launcher, exit_of, states, supervisor

pytestmark = pytest.mark.timeout(10)


class NamingLauncher(Launcher):
    def names(self, names: Any) -> None:
        self.known = list(names)


def test_a_dependency_given_up_stops_its_dependents_in_a_chain() -> None:
    s, frame, _ = supervisor(db="", web="db", app="web", side="db")
    s.services["db"].spec.restart = "on-failure"
    s.services["db"].spec.start_limit = 1
    s.services["side"].spec.on_dependency_failure = "ignore"
    s.schedule()
    assert states(s) == {"db": "ready", "web": "ready", "app": "ready", "side": "ready"}
    exit_of(s, "db", EXIT_3)
    assert states(s)["db"] == "backoff"
    s.services["db"].timer.callback()  # type: ignore[union-attr]  # the back-off is over
    exit_of(s, "db", EXIT_3)  # past its start limit: given up
    assert states(s)["web"] == "stopping" and states(s)["app"] == "ready"
    exit_of(s, "web", 15)
    assert states(s)["web"] == "failed" and s.services["web"].last_exit == "dependency db failed"
    assert states(s)["app"] == "stopping"  # web failed in turn: the chain goes on
    exit_of(s, "app", 15)
    assert states(s) == {"db": "failed", "web": "failed", "app": "failed", "side": "ready"}
    assert frame.ended == 0  # side still runs


def job(s: Supervisor, name: str) -> None:
    s.services[name].spec.schedule = Schedule("@yearly")
    s.add_job(s.services[name])


def test_a_job_waits_for_its_time_runs_on_request_and_goes_back_to_its_schedule() -> None:
    s, frame, launcher = supervisor(db="", backup="db")
    job(s, "backup")
    s.schedule()
    assert states(s) == {"db": "ready", "backup": "scheduled"} and launcher.launched == ["db"]
    status = s.services["backup"].status(0.0)
    assert status["schedule"] == "@yearly" and status["next_run"].endswith(("-01-01T00:00:00+00:00", ":00"))
    s.request_start(s.services["backup"])  # ctl start: now
    assert launcher.launched == ["db", "backup"]
    backup = s.services["backup"].job
    assert backup is not None
    backup.due(backup.timetable.next)  # type: ignore[arg-type]  # its time comes while it still runs
    assert launcher.launched == ["db", "backup"]  # skipped
    exit_of(s, "backup", EXIT_3)
    assert states(s)["backup"] == "scheduled" and s.services["backup"].last_exit == "exit 3"
    assert s.services["backup"].status(0.0)["last_duration"] is not None
    assert frame.ended == 0  # a job keeps the run going


def test_an_unhealthy_service_restarts_even_after_a_clean_exit() -> None:
    s, _, _ = supervisor(web="")
    s.services["web"].spec.restart = "on-failure"
    s.schedule()
    s.unhealthy(s.services["web"])
    assert s.services["web"].unhealthy
    exit_of(s, "web", EXIT_0)  # it exited 0 on its stop signal: still a failure
    assert states(s)["web"] == "backoff"


def spec(name: str, *command: str, deps: str = "") -> ServiceSpec:
    made = ServiceSpec(name)
    made.command = list(command)
    made.depends_on = deps.split()
    return made


def test_reload_applies_the_difference() -> None:
    s, _, _ = supervisor(same="", edit="", gone="same")
    launcher = NamingLauncher(s)
    s._launcher = launcher  # type: ignore[assignment]
    for name in ("same", "edit", "gone"):
        s.services[name].spec.command = [name]
    s.schedule()
    same_pid = s.services["same"].pid
    new = {"same": spec("same", "same"), "edit": spec("edit", "edit", "--v2"), "fresh": spec("fresh", "x", deps="same")}
    new["same"].restart = "no"  # as the stand-ins' specs
    result = changes.apply(s, new, {})
    assert result.as_dict() == {"added": ["fresh"], "removed": ["gone"], "changed": ["edit"], "unchanged": ["same"]}
    assert states(s)["gone"] == "stopping" and states(s)["edit"] == "stopping" and states(s)["fresh"] == "ready"
    exit_of(s, "gone", 15)
    exit_of(s, "edit", 15)
    assert "gone" not in s.services and states(s) == {"same": "ready", "edit": "ready", "fresh": "ready"}
    assert s.services["same"].pid == same_pid and s.services["edit"].spec.command == ["edit", "--v2"]
    assert launcher.known == list(s.services)


def test_scale_needs_instances() -> None:
    s, _, _ = supervisor(web="")
    assert changes.scale(s, "web", 3) == {
        "ok": False,
        "error": "web has no instances (set instances = N in the config to scale it)",
    }
    assert changes.scale(s, "nope", 3)["error"] == "no such service: 'nope'"
