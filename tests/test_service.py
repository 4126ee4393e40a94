"""A service's state machine: every change of state is exactly one logged event, none silent.

No processes: the pid is beyond the kernel's largest (PID_MAX_LIMIT, 2**22), so
every signal the service sends fails with ESRCH and reaches no one.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyinit import log
from pyinit.services import policy
from pyinit.services.readiness import Probe
from pyinit.services.service import Service
from pyinit.services.spec import ServiceSpec

pytestmark = pytest.mark.timeout(10)

NOBODY = 99_999_999  # no process has this pid, nor this process group
EXIT_0, EXIT_3, KILLED = 0, 3 << 8, 9  # wait statuses


class Watched(Service):
    """Journals every assignment to ``state``, however it is made."""

    journal: list[tuple[str, ...]]

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "state" and hasattr(self, "journal"):
            self.journal.append(("state", value))
        super().__setattr__(key, value)


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    entries: list[tuple[str, ...]] = []

    def emit(level: int, event: str, **fields: Any) -> None:
        entries.append(("event", event, {log.ERROR: "error", log.WARNING: "warning"}.get(level, "info")))

    monkeypatch.setattr(log, "emit", emit)
    return entries


def service(journal: list[tuple[str, ...]], **values: Any) -> Watched:
    spec = ServiceSpec("s")
    for key, value in values.items():
        setattr(spec, key, value)
    made = Watched(spec)
    made.journal = journal
    return made


def running(journal: list[tuple[str, ...]], **values: Any) -> Watched:
    made = service(journal, **values)
    made.launched(NOBODY, 100.0, Probe("s", lambda: None), [])
    made.became_ready()
    journal.clear()
    return made


def transitions(*steps: tuple[str, str, str]) -> list[tuple[str, ...]]:
    """Each (state, event, level): one assignment, then its one event."""
    return [entry for state, event, level in steps for entry in (("state", state), ("event", event, level))]


def test_start_ready_and_a_clean_exit(journal: list[tuple[str, ...]]) -> None:
    s = service(journal, restart="no")
    s.launched(NOBODY, 100.0, Probe("s", lambda: None), [])
    assert s.became_ready()
    assert not s.became_ready()  # once
    assert s.leader_exited(NOBODY, EXIT_0, 101.0, shutting_down=False) == "ended"
    assert journal == transitions(
        ("starting", "service starting", "info"),
        ("ready", "service ready", "info"),
        ("exited", "service exited", "info"),
    )
    assert s.satisfies_dependents() and not s.dead() and not s.running


def test_a_crash_backs_off_then_starts_again(journal: list[tuple[str, ...]]) -> None:
    s = running(journal, restart="on-failure", backoff_initial=0.5)
    assert s.leader_exited(NOBODY, EXIT_3, 101.0, shutting_down=False) == "backoff"
    assert s.backoff == 0.5 and s.last_exit == "exit 3" and s.last_code == 3
    s.launched(NOBODY, 102.0, Probe("s", lambda: None), [])
    assert journal == transitions(
        ("failed", "service exited", "warning"),
        ("backoff", "service restarting", "info"),
        ("starting", "service starting", "info"),
    )


def test_giving_up_is_an_event_of_its_own(journal: list[tuple[str, ...]]) -> None:
    s = running(journal, start_limit=1)
    s.history = policy.History(1, (100.0,))
    assert s.leader_exited(NOBODY, KILLED, 101.0, shutting_down=False) == "ended"
    assert s.last_exit == "killed by SIGKILL"
    assert journal == transitions(
        ("failed", "service exited", "warning"),
        ("failed", "service given up", "warning"),
    )
    assert s.dead()


def test_a_failed_spawn_is_a_start_whose_exit_follows(journal: list[tuple[str, ...]]) -> None:
    s = service(journal, restart="no")
    s.launch_failed("Permission denied", 100.0)
    assert s.leader_exited(-1, 1 << 8, 100.0, shutting_down=False) == "ended"
    assert journal == transitions(
        ("starting", "cannot start service", "error"),
        ("failed", "service exited", "warning"),
    )


def test_stop_of_a_running_service(journal: list[tuple[str, ...]]) -> None:
    s = running(journal)
    assert s.stop()
    assert not s.stop()  # under way already: no second event
    assert s.leader_exited(NOBODY, KILLED, 101.0, shutting_down=False) == "stopped"
    assert journal == transitions(
        ("stopping", "service stopping", "info"),
        ("stopped", "service stopped", "info"),
    )


def test_stop_of_a_service_without_a_process_is_logged_too(journal: list[tuple[str, ...]]) -> None:
    replies: list[str] = []
    for state in ("waiting", "backoff", "exited", "failed"):
        s = service(journal)
        s.state = state  # type: ignore[assignment]
        journal.clear()
        s.on_stopped.append(lambda: replies.append("stopped"))
        assert not s.stop()
        assert journal == transitions(("stopped", "service stopped", "info")), state
    journal.clear()
    assert not s.stop()  # stopped already: nothing changes, nothing is logged, the caller is answered
    assert journal == [] and replies == ["stopped"] * 4


def test_the_grace_runs_out_on_what_is_left_of_the_group(journal: list[tuple[str, ...]]) -> None:
    s = running(journal)
    s.stop()
    s.pid = None  # the leader is gone, the rest of its group is not (yet)
    assert s.grace_over()
    assert journal == [
        *transitions(("stopping", "service stopping", "info")),
        ("event", "service did not stop in time; killing it", "warning"),
        *transitions(("stopped", "service stopped", "info")),
    ]


def test_an_exit_during_shutdown_is_a_stop(journal: list[tuple[str, ...]]) -> None:
    s = running(journal)
    assert s.leader_exited(NOBODY, EXIT_0, 101.0, shutting_down=True) == "stopped"
    assert journal == transitions(("stopped", "service stopped", "info"))


def test_shutdown_halts_waiting_and_backoff_services_with_an_event(journal: list[tuple[str, ...]]) -> None:
    for state in ("waiting", "backoff"):
        s = service(journal)
        s.state = state  # type: ignore[assignment]
        journal.clear()
        s.halt()
        assert journal == transitions(("stopped", "service stopped", "info")), state
    for state in ("exited", "failed"):  # over already: they keep their state
        s = service(journal)
        s.state = state  # type: ignore[assignment]
        journal.clear()
        s.halt()
        assert journal == [] and s.state == state


def test_a_start_request_makes_it_wait_for_its_dependencies(journal: list[tuple[str, ...]]) -> None:
    s = service(journal)
    s.state = "stopped"
    s.history = policy.History(3, (1.0, 2.0))
    journal.clear()
    s.reset()
    assert s.history == policy.History()
    s.reset()  # waiting already: no event
    assert journal == transitions(("waiting", "service waiting", "info"))


def test_not_ready_in_time_kills_without_changing_state(journal: list[tuple[str, ...]]) -> None:
    s = service(journal)
    s.launched(NOBODY, 100.0, Probe("s", lambda: None), [])
    journal.clear()
    s.ready_too_late()
    assert journal == [("event", "service not ready in time; killing it", "warning")] and s.state == "starting"
