"""A main child that leaves processes behind: recorders in the background, then it exits.

usage: spawner.py [--daemon] [--wait-stdin] [--count N] [--code C] OUT [RECORDER ARGS...]
Starts N recorders writing to OUT.0 .. OUT.N-1 (as daemons: setsid() and a double fork, when
--daemon), waits until each is ready, optionally until stdin reaches EOF, then prints
time.monotonic() and exits with status C.
"""

import argparse
import os
import sys
import time
from pathlib import Path

RECORDER = [sys.executable, str(Path(__file__).with_name("recorder.py"))]

parser = argparse.ArgumentParser()
parser.add_argument("--daemon", action="store_true")
parser.add_argument("--wait-stdin", action="store_true")
parser.add_argument("--count", type=int, default=1)
parser.add_argument("--code", type=int, default=0)
parser.add_argument("out")
options, extra = parser.parse_known_args()


def start(argv: list[str]) -> None:
    pid = os.fork()
    if pid == 0:
        if options.daemon:
            os.setsid()
            if os.fork():
                os._exit(0)
        os.execv(argv[0], argv)
    if options.daemon:
        os.waitpid(pid, 0)  # the intermediate, gone at once: the daemon is nobody's child here


outs = [Path(f"{options.out}.{i}") for i in range(options.count)]
for out in outs:
    start([*RECORDER, str(out), *extra])
deadline = time.monotonic() + 30
while not all(out.exists() and out.read_text().startswith("ready") for out in outs):
    if time.monotonic() > deadline:
        sys.exit("recorders not ready")
    time.sleep(0.02)
if options.wait_stdin:
    sys.stdin.read()
print(time.monotonic(), flush=True)
sys.exit(options.code)
