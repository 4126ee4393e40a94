"""The least a Python init can do, as a floor for pyinit's signal and reaping figures.

    python -IS pyfloor.py epoll|sigwait -- COMMAND...

Blocks every signal, becomes a subreaper, runs COMMAND in a process group of
its own, then loops: forward every signal but SIGCHLD to that group, reap on
SIGCHLD, exit when COMMAND has. ``epoll`` waits as pyinit does (epoll_wait on
a signalfd, then read it: the one wait that also serves sockets and timers);
``sigwait`` in sigwaitinfo, as tini does. Nothing else: no options, no
teardown, no logging, no guard against its own bugs. The bench runs both in
the same rounds as pyinit and tini, so what pyinit costs above them is its
own code, and what they cost above tini is Python's.
"""

import ctypes
import os
import select
import signal
import sys

SIGCHLD = int(signal.SIGCHLD)


def main() -> None:
    mode, command = sys.argv[1], sys.argv[3:]
    everything = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    signal.pthread_sigmask(signal.SIG_BLOCK, everything)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.execvp(command[0], command)
    if mode == "sigwait":
        while True:
            info = signal.sigwaitinfo(everything)
            if info.si_signo != SIGCHLD:
                os.kill(-child, info.si_signo)
            elif reap(child):
                return
    mask = sum(1 << (int(sig) - 1) for sig in everything).to_bytes(128, sys.byteorder)
    fd = libc.signalfd(-1, mask, os.O_NONBLOCK | os.O_CLOEXEC)
    epoll = select.epoll()
    epoll.register(fd, select.EPOLLIN)
    while True:
        epoll.poll(-1)
        records = memoryview(os.read(fd, 128 * 8)).cast("I")
        for sig in records[0::32]:
            if sig != SIGCHLD:
                os.kill(-child, sig)
            elif reap(child):
                return


def reap(child: int) -> bool:
    """Collect every zombie; True once ``child`` is among them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False
        if pid == child:
            return True


if __name__ == "__main__":
    main()
    os._exit(0)
