"""A test child: records each signal it receives, one name per line, in a file.

usage: recorder.py OUT [--exit-on SIG] [--children N] [--ignore-term]
Writes "ready <pid>" once its handlers are installed.
"""

import os
import signal
import sys
import time

out_path = sys.argv[1]
args = sys.argv[2:]
exit_on = signal.Signals[args[args.index("--exit-on") + 1]] if "--exit-on" in args else None
out = open(out_path, "a", buffering=1)


def handler(signum: int, frame: object) -> None:
    out.write(signal.Signals(signum).name + "\n")
    out.flush()
    if signum == exit_on:
        sys.exit(0)


for sig in signal.valid_signals():
    if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD) or sig > signal.SIGSYS:
        continue
    if sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        continue
    signal.signal(sig, handler)
if "--ignore-term" in args:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
out.write(f"ready {os.getpid()}\n")
out.flush()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(3)
