"""A worker of examples/day2: takes a job from the web service every second and feeds the watchdog.

usage: worker.py JOBS_URL INSTANCE
"""

import os
import socket
import sys
import time
import urllib.request

url, instance = sys.argv[1], sys.argv[2]
notify = os.environ.get("NOTIFY_SOCKET")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if notify else None
try:
    while True:
        with urllib.request.urlopen(url, timeout=5) as reply:
            print(f"worker {instance}: got {reply.read().decode().strip()}")
        if sock is not None and notify is not None:
            sock.sendto(b"WATCHDOG=1", notify)  # alive: pyinit restarts a worker that stops saying so
        time.sleep(1)
except KeyboardInterrupt:
    print(f"worker {instance}: interrupted, bye")
