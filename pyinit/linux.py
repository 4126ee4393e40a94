"""The few Linux calls the standard library lacks, each wrapped once.

ctypes costs a couple of milliseconds to import, so this module is imported
only after the child has been spawned, or inside the forked child itself.
"""

from __future__ import annotations

import ctypes
import os
import sys

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

SFD_NONBLOCK = os.O_NONBLOCK
SFD_CLOEXEC = os.O_CLOEXEC

SYS_RT_SIGACTION = 13  # x86_64, the fallback
SYS_RT_SIGACTION_BY_MACHINE = {"x86_64": 13, "aarch64": 134, "armv7l": 174, "ppc64le": 173}

# One signalfd_siginfo record, as the kernel writes it (man 2 signalfd).
SIGINFO_SIZE = 128

# The kernel's sigset_t: 64 bits. glibc's is 1024 bits; both start the same way.
_SigSet = ctypes.c_uint64 * 16


def _raise_errno(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def _sigset(signals: set[int] | list[int]) -> ctypes.Array[ctypes.c_uint64]:
    mask = _SigSet()
    for sig in signals:
        mask[(sig - 1) // 64] |= 1 << ((sig - 1) % 64)
    return mask


def signalfd(signals: set[int] | list[int]) -> int:
    """A non-blocking, close-on-exec signalfd for ``signals`` (which must be blocked)."""
    fd = int(_libc.signalfd(-1, ctypes.byref(_sigset(signals)), SFD_NONBLOCK | SFD_CLOEXEC))
    if fd < 0:
        _raise_errno("signalfd")
    return fd


def set_child_subreaper() -> None:
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_SET_CHILD_SUBREAPER)")


def set_parent_death_signal(sig: int) -> None:
    if _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_SET_PDEATHSIG)")


def reset_signal_dispositions() -> None:
    """Set every signal, glibc's internal 32 and 33 included, to SIG_DFL.

    Python's ``signal`` module and glibc's ``sigaction`` both refuse 32 and 33,
    yet an ignored disposition survives exec: a process started with
    ``posix_spawn`` has them ignored, and would pass that on. The raw system
    call takes every number.
    """
    number = SYS_RT_SIGACTION_BY_MACHINE.get(os.uname().machine, SYS_RT_SIGACTION)
    # struct kernel_sigaction, all zero: handler SIG_DFL, no flags, empty mask.
    action = (ctypes.c_uint64 * 4)()
    for sig in range(1, 65):
        if sig in (9, 19):  # SIGKILL and SIGSTOP cannot be changed
            continue
        _libc.syscall(number, sig, ctypes.byref(action), None, 8)


def parse_siginfo(record: bytes) -> tuple[int, int, int]:
    """``(signo, code, pid)`` from one signalfd_siginfo record."""
    signo = int.from_bytes(record[0:4], sys.byteorder)
    code = int.from_bytes(record[8:12], sys.byteorder, signed=True)
    pid = int.from_bytes(record[12:16], sys.byteorder)
    return signo, code, pid
