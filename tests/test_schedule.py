"""Schedules: cron expressions, @names, the time zone, and the timetable driven by an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pyinit.services import schedule
from pyinit.services.schedule import Clock, Schedule, Timetable, WarpedClock

pytestmark = pytest.mark.timeout(10)


def test_next_fire_times() -> None:
    start = datetime(2026, 12, 3, 8, 7, 30, tzinfo=UTC)
    assert Schedule("*/5 * * * *").next_after(start) == datetime(2026, 12, 3, 8, 10, tzinfo=UTC)
    assert Schedule("@hourly").next_after(start) == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert Schedule("@daily").next_after(start) == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert Schedule("30 2 * * MON").next_after(start) == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    exact = datetime(2026, 12, 3, 8, 10, tzinfo=UTC)
    assert Schedule("*/5 * * * *").next_after(exact) == datetime(2026, 12, 3, 8, 15, tzinfo=UTC)


def test_the_zone_decides_the_wall_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 14:00 in Paris (summer time)
    fire = Schedule("0 3 * * *").next_after(start.astimezone(paris))
    assert fire.hour == 3 and fire.astimezone(UTC).hour == 1


@pytest.mark.parametrize("text", ["* * * *", "* * * * * *", "61 * * * *", "@fortnightly", "* * 31 2 *", "x * * * *"])
def test_invalid_expressions(text: str) -> None:
    with pytest.raises(ValueError, match="invalid schedule"):
        Schedule(text)


def test_zone_from_tz() -> None:
    assert str(schedule.zone({"TZ": "America/New_York"})) == "America/New_York"
    assert str(schedule.zone({"TZ": ":Asia/Tokyo"})) == "Asia/Tokyo"
    assert schedule.zone({"TZ": "Not/AZone"}) is not None  # falls back to the system's zone


def test_the_test_hook_warps_minutes() -> None:
    clock = schedule.clock({"PYINIT_TEST_MINUTE": "100ms", "TZ": "UTC"})
    assert isinstance(clock, WarpedClock) and clock.speed == pytest.approx(600)
    assert type(schedule.clock({"TZ": "UTC"})) is Clock


class FakeClock(Clock):
    def __init__(self, now: datetime) -> None:
        super().__init__(UTC)
        self.current = now

    def now(self) -> datetime:
        return self.current

    def delay(self, until: datetime) -> float:
        return max((until - self.current).total_seconds(), 0.0)


class FakeLoop:
    def __init__(self) -> None:
        self.pending: list[tuple[float, object]] = []

    def call_later(self, delay: float, callback: object) -> object:
        self.pending.append((delay, callback))

        class T:
            def cancel(self) -> None:
                pass

        return T()

    def fire(self) -> float:
        delay, callback = self.pending.pop(0)
        callback()  # type: ignore[operator]
        return delay


def test_timetable_fires_once_per_time_and_skips_missed_ones() -> None:
    clock = FakeClock(datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    loop = FakeLoop()
    fired: list[datetime] = []
    table = Timetable(loop, Schedule("* * * * *"), clock, fired.append)  # type: ignore[arg-type]
    table.start()
    assert loop.pending[0][0] == 30.0
    clock.current += timedelta(seconds=30)
    loop.fire()
    assert fired == [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)]
    assert loop.pending[0][0] == 60.0
    clock.current += timedelta(minutes=10, seconds=5)  # a stall: one run, not ten
    loop.fire()
    assert fired[-1] == datetime(2026, 1, 1, 0, 2, tzinfo=UTC) and len(fired) == 2
    assert table.next == datetime(2026, 1, 1, 0, 12, tzinfo=UTC)
    assert loop.pending[0][0] == 55.0


def test_timetable_woken_early_waits_again() -> None:
    clock = FakeClock(datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC))
    loop = FakeLoop()
    fired: list[datetime] = []
    Timetable(loop, Schedule("@daily"), clock, fired.append).start()  # type: ignore[arg-type]
    assert loop.pending[0][0] == schedule.MAX_SLEEP  # capped: the wall clock is looked at again
    clock.current += timedelta(hours=1)
    loop.fire()
    assert fired == [] and loop.pending[0][0] == schedule.MAX_SLEEP
