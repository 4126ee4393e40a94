"""A systemd-watchdog client for tests: WATCHDOG=1 every WATCHDOG_USEC/4 while STOP_FILE does not exist.

usage: watchdog.py EVENTS STOP_FILE
Records "start PID WATCHDOG_USEC WATCHDOG_PID" first, then "silent PID" when it stops sending.
"""

import os
import socket
import sys
import time

events, stop_file = sys.argv[1], sys.argv[2]


def record(line: str) -> None:
    with open(events, "a") as out:
        out.write(line + "\n")


usec = int(os.environ["WATCHDOG_USEC"])
record(f"start {os.getpid()} {usec} {os.environ['WATCHDOG_PID']}")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
while not os.path.exists(stop_file):
    sock.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
    time.sleep(usec / 4 / 1e6)
record(f"silent {os.getpid()}")
while True:
    time.sleep(60)
