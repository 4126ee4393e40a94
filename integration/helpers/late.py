"""A process that, asked to stop, starts another one and exits (the teardown must re-scan).

usage: late.py OUT   writes "ready" to OUT.ready, then on SIGTERM the newcomer's pid to OUT.
"""

import os
import signal
import sys
import time

out = sys.argv[1]


def on_term(signum: int, frame: object) -> None:
    # The newcomer must not lose a stop signal that arrives between fork and exec,
    # while it still has this handler: keep TERM blocked until it is back to the default.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        os.execvp("sleep", ["sleep", "1000"])
    with open(out, "w") as f:
        f.write(str(pid))
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)
with open(out + ".ready", "w") as f:
    f.write("ready")
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(3)
