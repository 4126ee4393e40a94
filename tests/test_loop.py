"""The loop's wait: its timeout comes from the nearest deadline."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pyinit import log, signals
from pyinit.loop import MAX_WAIT, SIGNAL_BATCH, Loop

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("delay", [1e9, 1e300, float("inf")])
def test_a_far_deadline_waits_no_longer_than_epoll_takes(delay: float) -> None:
    loop = Loop({signals.SIGHUP}, lambda *_: None)
    try:
        loop.call_later(delay, lambda: None)
        assert loop._timeout() == MAX_WAIT
        assert MAX_WAIT * 1000 <= 2**31 - 1  # epoll_wait's int of milliseconds
    finally:
        loop.close()


def test_a_signal_storm_is_read_in_bounded_batches_with_timers_in_between() -> None:
    sig = signal.SIGRTMIN + 3
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
    seen: list[int] = []
    ticks: list[int] = []
    loop = Loop({sig}, lambda s, _sender: seen.append(s))
    try:
        for _ in range(3 * SIGNAL_BATCH):
            os.kill(os.getpid(), sig)  # real-time signals queue: one record each
        loop.call_later(0, lambda: ticks.append(len(seen)))
        loop.run_once()
        assert ticks == [1]  # the timer ran after one signal, not after the whole queue
        while len(seen) < 3 * SIGNAL_BATCH:
            loop.run_once()
        assert seen == [sig] * (3 * SIGNAL_BATCH)
    finally:
        loop.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_dropped_signals_are_counted_and_logged_once_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    sig = signal.SIGRTMIN + 4
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
    lines: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(log, "enabled", lambda level: True)
    monkeypatch.setattr(log, "debug", lambda event, **fields: lines.append((event, fields)))
    loop = Loop({sig}, lambda s, _sender: loop.drop(s))
    try:
        for _ in range(SIGNAL_BATCH):
            os.kill(os.getpid(), sig)
        loop.run_once()
        assert lines == [("signals dropped", {"count": SIGNAL_BATCH, "signals": {"SIGRTMIN+4": SIGNAL_BATCH}})]
    finally:
        loop.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_timers_run_soonest_first_and_in_order_of_scheduling_at_the_same_time() -> None:
    loop = Loop({signals.SIGHUP}, lambda *_: None)
    fired: list[str] = []
    try:
        for name, delay in [("c", 0.003), ("a", 0.0), ("b", 0.0), ("d", 0.004), ("x", 0.002)]:
            timer = loop.call_later(delay, lambda name=name: fired.append(name))  # type: ignore[misc]
            if name == "x":
                timer.cancel()
        while len(fired) < 4:
            loop.run_once()
        assert fired == ["a", "b", "c", "d"]
        assert loop._timeout() == -1  # the cancelled one went with the rest
    finally:
        loop.close()


def test_a_listening_socket_wakes_the_signal_wait_through_sigio_and_kill_sigio_is_a_signal(
    tmp_path: Path,
) -> None:
    import socket

    wanted = {signals.SIGHUP, signal.SIGIO}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    seen: list[int] = []
    accepted: list[socket.socket] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.setblocking(False)
    server.bind(str(tmp_path / "s"))
    server.listen(4)
    loop = Loop(wanted, lambda s, _sender: seen.append(s))

    def accept() -> None:
        try:
            accepted.append(server.accept()[0])
        except BlockingIOError:
            pass

    try:
        loop.add_async_reader(server.fileno(), accept)
        assert loop._epoll is None  # nothing but signals watched: the loop waits in sigtimedwait
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(tmp_path / "s"))
        loop.run_once()
        assert len(accepted) == 1 and seen == []
        os.kill(os.getpid(), signal.SIGIO)  # someone's kill: a signal like any other
        loop.run_once()
        assert seen == [signal.SIGIO] and len(accepted) == 1
        client.close()
    finally:
        loop.close()
        for conn in accepted:
            conn.close()
        server.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
