"""The per-service log ring: bounded by bytes, oldest first out, followers see every new line."""

from __future__ import annotations

import pytest

from pyinit.services.logring import LINE_OVERHEAD, Entry, LogRing, parse_size, timestamp

pytestmark = pytest.mark.timeout(10)


def test_the_ring_keeps_the_newest_lines_within_its_size() -> None:
    ring = LogRing(capacity=10 * (LINE_OVERHEAD + 6))
    for number in range(100):
        ring.add("stdout" if number % 2 else "stderr", f"line{number:02d}".encode())
    assert [e.line for e in ring.tail()] == [f"line{n}" for n in range(90, 100)]
    assert [e.line for e in ring.tail(3)] == ["line97", "line98", "line99"]
    assert ring.tail(0) == [] and len(ring.tail(1000)) == 10
    assert ring.size <= ring.capacity
    assert [e.stream for e in ring.tail(2)] == ["stderr", "stdout"]


def test_a_line_larger_than_the_ring_is_not_kept_but_followed() -> None:
    ring = LogRing(capacity=100)
    seen: list[Entry] = []
    stop = ring.follow(seen.append)
    ring.add("stdout", b"x" * 200)
    ring.add("stdout", b"\xffbad")
    assert [e.line for e in ring.tail()] == ["\ufffdbad"]
    assert [e.line[:3] for e in seen] == ["xxx", "\ufffdba"]
    stop()
    ring.add("stdout", b"later")
    assert len(seen) == 2


def test_resize_drops_the_oldest() -> None:
    ring = LogRing()
    for number in range(10):
        ring.add("stdout", str(number).encode())
    ring.resize(2 * (LINE_OVERHEAD + 1))
    assert [e.line for e in ring.tail()] == ["8", "9"]


@pytest.mark.parametrize(
    ("value", "size"), [(1000, 1000), ("256KiB", 262144), ("1MiB", 1048576), ("500kB", 500000), ("64 k", 64000)]
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["lots", "1.5MiB", "-1", "12TB", True, 1.5])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


def test_timestamps_are_utc_to_the_millisecond() -> None:
    assert timestamp(0.25) == "1970-01-01T00:00:00.250Z"
    assert Entry(86400.5, "stderr", "x").as_dict() == {
        "time": "1970-01-02T00:00:00.500Z",
        "stream": "stderr",
        "line": "x",
    }
