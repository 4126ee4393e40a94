"""A test service: appends what happens to it to an events file, one line per event.

usage: service.py NAME EVENTS [--ready-after SECS] [--ready-file PATH] [--listen PORT]
                  [--ready-fd N] [--notify] [--exit CODE] [--run SECS] [--stop-takes SECS]

Events: "start NAME PID", "ready NAME", "signal NAME SIGNAME", each line
written with one append. On a stop signal (TERM, INT, QUIT, HUP, USR1, USR2)
it records it and exits 0 (--stop-takes: after that long, recording "stopped NAME"
first, as a server that finishes its requests). --exit CODE: exit with CODE after --run SECS.
"""

import os
import signal
import socket
import sys
import time

name, events = sys.argv[1], sys.argv[2]
args = sys.argv[3:]


def opt(flag: str, default: str | None = None) -> str | None:
    return args[args.index(flag) + 1] if flag in args else default


def record(line: str) -> None:
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def stop(signum: int, frame: object) -> None:
    record(f"signal {name} {signal.Signals(signum).name}")
    time.sleep(0.1)  # dependents must be gone before we are asked: give a wrong order a chance to show
    if "--stop-takes" in args:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # a shutdown is not interrupted
        time.sleep(float(opt("--stop-takes") or 0))
        record(f"stopped {name}")
    sys.exit(0)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
for sig in STOP_SIGNALS:
    signal.signal(sig, stop)
record(f"start {name} {os.getpid()}")
time.sleep(float(opt("--ready-after", "0") or 0))
record(f"ready {name}")  # before saying so: a dependent must find it recorded first
listener = None
if "--listen" in args:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(opt("--listen") or 0)))
    listener.listen(8)
ready_file = opt("--ready-file")
if ready_file:
    open(ready_file, "w").close()
if "--ready-fd" in args:
    os.write(int(opt("--ready-fd") or 3), b"\n")
if "--notify" in args:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.sendto(b"STATUS=starting\nREADY=1\n", os.environ["NOTIFY_SOCKET"])
deadline = time.monotonic() + float(opt("--run", "60") or 60)
while time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(int(opt("--exit", "0") or 0))
