"""A worker for examples/services.toml: fetches a URL every two seconds.

It says it is ready with a newline on descriptor 3 (``ready = { fd = 3 }``),
and stops cleanly on SIGINT, its configured ``stop_signal``.
"""

import os
import sys
import time
import urllib.request

url = sys.argv[1]
os.write(3, b"\n")
os.close(3)
try:
    while True:
        with urllib.request.urlopen(url, timeout=5) as reply:
            print(f"fetched {len(reply.read())} bytes from {url}")
        time.sleep(2)
except KeyboardInterrupt:
    print("worker: interrupted, bye")
