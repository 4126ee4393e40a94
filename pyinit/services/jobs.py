"""Scheduled jobs: ``schedule = "*/5 * * * *"`` runs a one-shot service at those times.

A job is a service that the supervisor does not start with the others: its
:class:`Job` starts it when the timetable says so (a loop timer, nothing in
between), skips a time while the previous run is still going (and says so),
and remembers how the last run went for ``ctl status``. ``restart`` does not
apply: the next run is the next scheduled time.
"""

from __future__ import annotations

import time

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any, Protocol

    from pyinit.loop import Loop
    from pyinit.services.schedule import Clock, Timetable
    from pyinit.services.spec import ServiceSpec

    class Service(Protocol):
        """What a job needs of its service (pyinit.services.service.Service)."""

        name: str
        spec: ServiceSpec
        last_exit: str | None
        job: Job | None

        @property
        def running(self) -> bool: ...

        def wait_for_schedule(self) -> None: ...


class Job:
    def __init__(self, service: Service, loop: Loop, clock: Clock, run: Callable[[Service], bool]) -> None:
        from pyinit.services.schedule import Timetable

        assert service.spec.schedule is not None
        self.service, self.run = service, run
        self.timetable: Timetable = Timetable(loop, service.spec.schedule, clock, self.due)
        self.started_at: float | None = None
        self.duration: float | None = None

    def start(self) -> None:
        """Follow the timetable (again)."""
        self.timetable.start()

    def cancel(self) -> None:
        self.timetable.cancel()

    def due(self, planned: datetime) -> None:
        if self.service.running:
            log.warning(
                "scheduled run skipped", service=self.service.name, planned=planned.isoformat(), reason="still running"
            )
            return
        self.run_now()

    def run_now(self) -> bool:
        """Start a run (the timetable's, or ``ctl start``); False if it could not start now."""
        if self.service.running:
            return False
        if not self.run(self.service):
            log.warning("scheduled run skipped", service=self.service.name, reason="a dependency is not ready")
            return False
        self.started_at = time.monotonic()
        return True

    def finished(self) -> None:
        """The run's process has ended."""
        if self.started_at is not None:
            self.duration = time.monotonic() - self.started_at
            self.started_at = None
        log.info("job finished", service=self.service.name, status=self.service.last_exit, next_run=self.next_run())

    def next_run(self) -> str | None:
        planned = self.timetable.next
        return planned.isoformat() if planned is not None else None

    def status(self) -> dict[str, Any]:
        assert self.service.spec.schedule is not None
        return {
            "schedule": self.service.spec.schedule.text,
            "next_run": self.next_run(),
            "last_duration": None if self.duration is None else round(self.duration, 3),
        }


class JobBoard:
    """Every scheduled job's timetable, on one clock made when the first job needs it.

    ``run(service)`` starts a run if the supervisor allows it (not stopping, its
    dependencies ready) and says whether it did.
    """

    def __init__(self, loop: Loop, run: Callable[[Any], bool]) -> None:  # Any: the supervisor's own Service
        self.loop, self.run = loop, run
        self.clock: Clock | None = None

    def add(self, service: Service) -> None:
        """A service with a ``schedule`` waits for its times instead of starting now."""
        if service.spec.schedule is None:
            return
        if self.clock is None:
            import os

            from pyinit.services import schedule

            self.clock = schedule.clock(os.environ)
        service.job = Job(service, self.loop, self.clock, self.run)
        service.job.start()
        service.wait_for_schedule()

    @staticmethod
    def run_now(job: Job) -> None:
        """``ctl start`` of a job: run it now, and keep to its timetable."""
        if job.timetable.next is None:
            job.start()
        job.run_now()
