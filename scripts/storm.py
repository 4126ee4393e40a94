"""Stop latency in a signal storm: pyinit against tini, in the same storm.

usage: python scripts/storm.py [--count 100000] [--rounds 3] [INIT ...]

Each init runs as PID 1 of its own namespace (``unshare -fp --mount-proc``)
with a child that ignores the storm's signals and exits 3 on SIGTERM. COUNT
signals (USR1, USR2, HUP, RTMIN..RTMIN+5; real-time ones queue, a record
each) are sent to the init, then SIGTERM while the storm goes on; the figure
is the time from that SIGTERM to the init's exit. The storm stops when the
init is gone (or after 3 million signals). Run as root; the inits default to
pyinit (next to this Python) and tini.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, *range(signal.SIGRTMIN, signal.SIGRTMIN + 6)]
CHILD = r"""
import os, signal, sys, time
for sig in [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, *range(signal.SIGRTMIN, signal.SIGRTMIN + 6)]:
    signal.signal(sig, signal.SIG_IGN)
signal.signal(signal.SIGTERM, lambda *_: os._exit(3))
open(sys.argv[1], "w").close()
while True:
    time.sleep(1000)
"""
AFTER_TERM_LIMIT = 3_000_000
WAIT_LIMIT = 60.0  # after the storm: an init still running then is reported as "inf"


def storm(pid: int, count: int) -> int:
    for i in range(count):
        try:
            os.kill(pid, KINDS[i % len(KINDS)])
        except ProcessLookupError:
            return i
    return count


def one_run(init: list[str], count: int) -> tuple[float, int, int]:
    """(seconds from SIGTERM to exit, exit status, signals sent after the SIGTERM)."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready"
        proc = subprocess.Popen(["unshare", "-fp", "--mount-proc", *init, sys.executable, "-c", CHILD, str(ready)])
        try:
            while not ready.exists():
                time.sleep(0.01)
            init_pid = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
            storm(init_pid, count)
            os.kill(init_pid, signal.SIGTERM)
            asked = time.monotonic()
            after = storm(init_pid, AFTER_TERM_LIMIT)
            try:
                status = proc.wait(WAIT_LIMIT)
            except subprocess.TimeoutExpired:
                return float("inf"), -1, after  # wedged: still busy with the storm
            return time.monotonic() - asked, status, after
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("inits", nargs="*")
    args = parser.parse_args()
    pyinit = str(Path(sys.executable).with_name("pyinit"))
    inits = [name.split() for name in args.inits] or [[pyinit, "--grace", "30", "--"], ["tini", "--"]]
    inits = [init for init in inits if shutil.which(init[0]) or print(f"{init[0]}: not installed, skipped")]
    times: dict[str, list[float]] = {os.path.basename(init[0]): [] for init in inits}
    for _ in range(args.rounds):  # interleaved: a busy moment of the machine costs both alike
        for init in inits:
            seconds, status, after = one_run(init, args.count)
            name = os.path.basename(init[0])
            times[name].append(seconds)
            took = f"SIGTERM -> exit {seconds:.3f}s (status {status}, {after} sent after)"
            print(f"{name:8} storm {args.count} signals: {took}")
    for name, values in times.items():
        print(f"{name:8} median {statistics.median(values):.3f}s over {len(values)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
