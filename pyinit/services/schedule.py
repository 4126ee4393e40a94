"""``schedule = "*/5 * * * *"``: when a scheduled job runs next, in the container's time zone.

The cron expression itself is parsed and evaluated by ``cronsim`` (a small,
maintained library, imported only by services mode, only for a config that
has schedules); this module adds the ``@hourly``-style names, the time zone
(``TZ``, else ``/etc/localtime``, else UTC) and a clock that tests can replace.

Time comes from a :class:`Clock`: ``now()`` is the wall time in the zone, and
``delay(until)`` how long the loop should wait for it. The loop's timers run on
the monotonic clock, so a wall clock that jumps (NTP, a suspended host) is
caught up with by recomputing at each firing, never by polling.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime, tzinfo

    from pyinit.loop import Loop, Timer

NAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The test hook: PYINIT_TEST_MINUTE=200ms makes a cron minute last 200 ms of real time.
TEST_MINUTE_VARIABLE = "PYINIT_TEST_MINUTE"


class Schedule:
    """A validated cron expression (5 fields, or one of NAMES)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.expression = NAMES.get(text.strip().lower(), text.strip())
        if len(self.expression.split()) != 5:
            raise ValueError(
                f"invalid schedule {text!r}: expected 5 fields (minute hour day month weekday) or one of "
                + ", ".join(NAMES)
            )
        from datetime import UTC, datetime

        self.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # the library validates while it starts iterating

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` (in ``moment``'s zone) that the expression matches."""
        try:
            from cronsim import CronSim, CronSimError
        except ImportError:  # an install without the dependencies (a bare copy of the package)
            raise ValueError("schedules need the cronsim package (pip install cronsim)") from None
        try:
            return next(CronSim(self.expression, moment))
        except CronSimError as exc:
            raise ValueError(f"invalid schedule {self.text!r}: {exc}") from None
        except StopIteration:
            raise ValueError(f"invalid schedule {self.text!r}: it never matches") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and other.expression == self.expression

    def __hash__(self) -> int:
        return hash(self.expression)

    def __repr__(self) -> str:
        return f"Schedule({self.text!r})"


def zone(environ: Mapping[str, str]) -> tzinfo:
    """The container's time zone: ``TZ`` (a zone name, ``:Name``), else ``/etc/localtime``, else UTC."""
    from datetime import UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass  # POSIX TZ strings ("CET-1CEST") and unknown names: the system's zone
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC


class Clock:
    """Wall time in the container's zone, and how long the loop waits for a given time."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        from datetime import datetime

        return datetime.fromtimestamp(time.time(), self.tz)

    def delay(self, until: datetime) -> float:
        """Seconds of the loop's (monotonic) time until ``until``; 0 when it has passed."""
        return max((until - self.now()).total_seconds(), 0.0)


class WarpedClock(Clock):
    """A clock whose minutes last ``minute`` seconds of real time, from the moment it was made.

    For tests only (``PYINIT_TEST_MINUTE``): a per-minute schedule fires within
    a test's time, through the same timers and the same code as a real one.
    """

    def __init__(self, tz: tzinfo, minute: float) -> None:
        super().__init__(tz)
        from datetime import datetime

        self.speed = 60.0 / minute
        self.origin = datetime.fromtimestamp(time.time(), tz)
        self.started = time.monotonic()

    def now(self) -> datetime:
        from datetime import timedelta

        return self.origin + timedelta(seconds=(time.monotonic() - self.started) * self.speed)

    def delay(self, until: datetime) -> float:
        return max((until - self.now()).total_seconds() / self.speed, 0.0)


def clock(environ: Mapping[str, str]) -> Clock:
    """The clock for this run: the real one unless the test hook asks for a warped one."""
    tz = zone(environ)
    minute = environ.get(TEST_MINUTE_VARIABLE)
    if minute:
        from pyinit.options import parse_duration

        try:
            seconds = parse_duration(minute)
        except ValueError:
            seconds = 0.0
        if seconds > 0:
            return WarpedClock(tz, seconds)
    return Clock(tz)


# A wake-up at least this often re-reads the wall clock: a monotonic timer set for
# next month would not notice the host's clock being set, nor time spent suspended.
MAX_SLEEP = 3600.0


class Timetable:
    """Calls ``due(planned)`` at each time of ``schedule``, as one loop timer at a time."""

    def __init__(self, loop: Loop, schedule: Schedule, clock: Clock, due: Callable[[datetime], None]) -> None:
        self.loop, self.schedule, self.clock, self.due = loop, schedule, clock, due
        self.next: datetime | None = None
        self.timer: Timer | None = None

    def start(self) -> None:
        self.cancel()
        self.next = self.schedule.next_after(self.clock.now())
        self._arm()

    def _arm(self) -> None:
        assert self.next is not None
        self.timer = self.loop.call_later(min(self.clock.delay(self.next), MAX_SLEEP), self._fire)

    def _fire(self) -> None:
        self.timer = None
        planned = self.next
        if planned is None:
            return
        now = self.clock.now()
        if now < planned:  # woken early: the wall clock moved, or the sleep was capped
            self._arm()
            return
        # After a long stall (a clock set forward), one run, not one per missed time.
        self.next = self.schedule.next_after(now)
        self._arm()
        self.due(planned)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.next = None
