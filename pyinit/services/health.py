"""Health after readiness: consecutive failures, the check timer and the systemd watchdog.

:class:`HealthState` is the pure part: it counts results and says when the
service turns unhealthy or healthy again. :class:`HealthMonitor` runs one
check every ``interval`` (a loop timer; nothing happens in between) and feeds
it, and so does :class:`Watchdog`, where a missed ``WATCHDOG=1`` counts as a
failed check.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop, Timer
    from pyinit.reaper import Reaper
    from pyinit.services.checks import Attempt, Health

    Transition = Callable[[str, str], None]  # (new status, detail)

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


class HealthState:
    """``starting`` until the first pass, then ``healthy``, or ``unhealthy`` after ``failures``
    failures in a row. Failures inside the ``start_period`` (counted from the service's start)
    are not counted, as in Docker: a slow start is not a sick service."""

    def __init__(self, failures: int, start_period: float, started_at: float) -> None:
        self.failures = failures
        self.start_period = start_period
        self.started_at = started_at
        self.status = STARTING
        self.streak = 0  # consecutive failures counted
        self.last_detail = ""
        self.checked_at: float | None = None

    def record(self, ok: bool, detail: str, now: float) -> str | None:
        """One result; the new status when it changed (the caller's event), else None."""
        self.last_detail = detail
        self.checked_at = now
        if ok:
            self.streak = 0
            return self._become(HEALTHY)
        if self.status == STARTING and now - self.started_at < self.start_period:
            return None
        self.streak += 1
        if self.streak >= self.failures:
            return self._become(UNHEALTHY)
        return None

    def _become(self, status: str) -> str | None:
        if status == self.status:
            return None
        self.status = status
        return status


class HealthMonitor:
    """Runs ``health``'s check every ``interval`` while the service runs; the first one
    ``interval`` after it started being watched."""

    def __init__(self, loop: Loop, reaper: Reaper, health: Health, state: HealthState, on_change: Transition) -> None:
        self.loop, self.reaper, self.health, self.state = loop, reaper, health, state
        self.on_change = on_change
        self.timer: Timer | None = None
        self.attempt: Attempt | None = None
        self.stopped = False

    def start(self) -> None:
        self.timer = self.loop.call_later(self.health.interval, self.check)

    def check(self) -> None:
        from pyinit.services.checks import attempt

        self.timer = None
        if self.stopped:
            return
        self.attempt = attempt(self.health, self.loop, self.reaper)
        self.attempt.start(self.result)

    def result(self, ok: bool, detail: str) -> None:
        self.attempt = None
        if self.stopped:
            return
        self.timer = self.loop.call_later(self.health.interval, self.check)
        report(self.state, ok, detail, self.on_change)

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.attempt is not None:
            self.attempt.cancel()
            self.attempt = None


def report(state: HealthState, ok: bool, detail: str, on_change: Transition) -> None:
    changed = state.record(ok, detail, time.monotonic())
    if changed is not None:
        on_change(changed, detail)


class Watchdog:
    """``watchdog = "10s"``: a ``WATCHDOG=1`` at least that often, or a failed check per period."""

    def __init__(self, loop: Loop, period: float, state: HealthState, on_change: Transition) -> None:
        self.loop, self.period, self.state, self.on_change = loop, period, state, on_change
        self.timer: Timer | None = None

    @staticmethod
    def environment(period: float) -> dict[str, str]:
        """What the service is told (``WATCHDOG_PID`` is filled in with its pid by spawn)."""
        from pyinit import spawn

        return {"WATCHDOG_USEC": str(max(int(period * 1_000_000), 1)), "WATCHDOG_PID": spawn.OWN_PID}

    def start(self) -> None:
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(self.period, self.missed)

    def kick(self) -> None:
        """``WATCHDOG=1`` arrived."""
        if self.timer is None:
            return  # stopped
        self._arm()
        report(self.state, True, "watchdog", self.on_change)

    def missed(self) -> None:
        self.timer = None
        self._arm()  # each further period without a kick is one more failure
        report(self.state, False, f"no WATCHDOG=1 within {self.period:g}s", self.on_change)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
