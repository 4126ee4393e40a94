"""The non-blocking output: whole lines kept or dropped, counted, and a marker once drained."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pyinit import sink
from pyinit.loop import Loop
from pyinit.services.output import MAX_LINE, Prefixer, cut

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    sink._sinks.pop(w, None)
    for fd in (r, w):
        os.close(fd)


def read_all(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def test_a_full_pipe_never_blocks_and_drops_whole_lines(pipe: tuple[int, int]) -> None:
    r, w = pipe
    out = sink.Sink(w, limit=4096)
    line = b"x" * 99 + b"\n"
    kept = sum(out.write(line, "web") for _ in range(2000))  # 200 KB into a 64 KiB pipe
    assert out.dropped["web"] == 2000 - kept > 0
    assert out.pending() <= 4096
    assert os.get_blocking(w)  # the shared descriptor is left as it was
    data = read_all(r)
    out.flush()  # writable again: what waited, then the marker
    data += read_all(r)
    *lines, last = data.split(b"\n")
    assert last == b""
    assert lines[:-1] == [b"x" * 99] * kept
    assert lines[-1] == f"pyinit: output was blocked: {2000 - kept} lines dropped (web {2000 - kept})".encode()
    assert out.unreported == {}


def test_a_flood_the_reader_never_catches_up_with_still_gets_its_marker(pipe: tuple[int, int]) -> None:
    """The buffer never empties (the writer is always ahead): the marker comes once half of
    it is free, where the gap is, and the lines after it are taken again."""
    r, w = pipe
    out = sink.Sink(w, limit=16384)
    line = b"x" * 99 + b"\n"
    sent = 0
    while not out.unreported:  # fill the pipe and the buffer until a line is dropped
        out.write(line, "web")
        sent += 1
    assert out.write(line, "web") is False  # still more than half full: dropped too
    os.read(r, 3 * 4096)  # the reader takes three pages ...
    out.flush()
    assert 0 < out.pending() <= 8192 and out.unreported  # ... not all that waits
    out.write(b"y\n", "web")  # the flood goes on: the marker first, then the line
    data = read_all(r)
    out.flush()
    data += read_all(r)
    assert data.endswith(b"lines dropped (web 2)\ny\n"), data[-120:]
    assert out.unreported == {} and out.dropped == {"web": 2}


def test_the_marker_names_every_source(pipe: tuple[int, int]) -> None:
    assert sink.marker({"web": 3, "pyinit": 1}) == b"pyinit: output was blocked: 4 lines dropped (pyinit 1, web 3)\n"


def test_the_marker_is_json_when_the_log_is(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setattr(sink, "json_markers", True)
    record = json.loads(sink.marker({"web": 3}))
    assert record["dropped"] == 3 and record["sources"] == {"web": 3} and record["level"] == "warning"


def test_a_reader_gone_for_good_makes_the_sink_quiet() -> None:
    r, w = os.pipe()
    os.close(r)
    try:
        out = sink.Sink(w)
        out.write(b"hello\n")  # EPIPE: nobody will ever read it
        assert out.broken
        assert out.write(b"again\n") is False
        assert out.pending() == 0
    finally:
        os.close(w)


def test_the_loop_writes_what_waits_when_the_pipe_turns_writable(pipe: tuple[int, int]) -> None:
    r, w = pipe
    loop = Loop(set(), lambda *_: None)
    try:
        out = sink.for_fd(w)
        sink.attach(loop)
        while out.write(b"y" * 4095 + b"\n", "pyinit") and not out.pending():
            pass
        assert out.watched
        data = read_all(r)
        while out.pending() or out.unreported:
            loop.run_once()
            data += read_all(r)
        assert not out.watched  # nothing waits: the loop does not wake for it any more
        assert all(line == b"y" * 4095 for line in data.split(b"\n")[:-1] if not line.startswith(b"pyinit:"))
    finally:
        sink.attach(None)
        loop.close()


def test_a_cut_never_splits_a_utf8_sequence() -> None:
    text = "é".encode() * 10  # two bytes each
    assert cut(text, 5) == 4
    assert cut(text, 4) == 4
    assert cut(b"\xff" * 10, 5) == 5  # not UTF-8: cut where asked


@pytest.fixture
def relay(pipe: tuple[int, int]) -> Iterator[tuple[Prefixer, int]]:
    r, w = pipe
    loop = Loop(set(), lambda *_: None)
    prefixer = Prefixer(loop, b"web | ", w)
    try:
        yield prefixer, r
    finally:
        prefixer.after_fork()
        prefixer.close()
        sink.attach(None)
        loop.close()


def test_carriage_returns_end_lines(relay: tuple[Prefixer, int]) -> None:
    prefixer, r = relay
    prefixer.take(b"10%\r20%\r")
    prefixer.take(b"\nnext\r\nlast\n")
    assert read_all(r) == b"web | 10%\nweb | 20%\nweb | next\nweb | last\n"


def test_a_long_line_comes_in_marked_pieces(relay: tuple[Prefixer, int]) -> None:
    prefixer, r = relay
    prefixer.take(b"a" * (MAX_LINE + 10))
    prefixer.take(b"b" * 10 + b"\nshort\n")
    data = read_all(r)
    prefixer.sink.flush()  # the loop would, once the pipe is writable again
    assert data + read_all(r) == b"web | " + b"a" * MAX_LINE + b"\nweb + " + b"a" * 10 + b"b" * 10 + b"\nweb | short\n"


def test_invalid_utf8_passes_through(relay: tuple[Prefixer, int]) -> None:
    prefixer, r = relay
    prefixer.take(b"\xff\xfe\xc3\n")
    assert read_all(r) == b"web | \xff\xfe\xc3\n"


def test_stdout_and_stderr_on_one_pipe_share_one_sink(pipe: tuple[int, int]) -> None:
    _r, w = pipe
    twin = os.dup(w)
    try:
        assert sink.for_fd(w) is sink.for_fd(twin)
    finally:
        sink._sinks.pop(twin, None)
        os.close(twin)
