"""An application to run inside a container under pyinit (bind-mounted at /helpers).

usage: capp.py MODE OUT_DIR
  stubborn  start two children in sessions of their own that record a SIGTERM
            ("TERM <time>" in OUT/child-<pid>) and keep running; the app itself
            records "app-exit <time>" in OUT/app and exits 42 on SIGTERM.
  orphans   write "app <pid> <ppid>" to OUT/app, then make three orphans: each
            writes "orphan <pid> <ppid>" to OUT/orphans once its parent has gone,
            and exits when OUT/go exists. The app then waits for a signal.
Readiness is announced by the files above; times are time.time() (the host's clock).
"""

import os
import signal
import sys
import time

mode, out = sys.argv[1], sys.argv[2]


def append(name: str, line: str) -> None:
    with open(os.path.join(out, name), "a") as f:
        f.write(line + "\n")


def stubborn_child() -> None:
    os.setsid()  # out of the app's process group: only a teardown reaches it
    me = f"child-{os.getpid()}"
    signal.signal(signal.SIGTERM, lambda *_: append(me, f"TERM {time.time()}"))
    append(me, "ready")
    while True:
        time.sleep(1)


def orphan(parent: int) -> None:
    while os.getppid() == parent:  # until the kernel has re-parented us
        time.sleep(0.01)
    append("orphans", f"orphan {os.getpid()} {os.getppid()}")
    while not os.path.exists(os.path.join(out, "go")):
        time.sleep(0.05)
    os._exit(0)


def leave_orphan() -> None:
    parent = os.getpid()  # read here: the orphan may only run after we are gone
    fork(lambda: orphan(parent))  # then this middle process exits at once


def fork(body) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


if mode == "stubborn":
    for _ in range(2):
        fork(stubborn_child)

    def on_term(*_: object) -> None:
        append("app", f"app-exit {time.time()}")
        os._exit(42)

    signal.signal(signal.SIGTERM, on_term)
    append("app", "ready")
    while True:
        time.sleep(1)
elif mode == "orphans":
    append("app", f"app {os.getpid()} {os.getppid()}")
    for _ in range(3):
        middle = fork(leave_orphan)
        os.waitpid(middle, 0)
    signal.pause()
else:
    sys.exit(f"unknown mode {mode}")
