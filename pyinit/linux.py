"""The few Linux calls the standard library lacks, each wrapped once.

Built on ``_ctypes``, the C half of ctypes: the ``ctypes`` package itself
costs about 1.6 ms more to import (it defines dozens of types pyinit never
uses), on the path from exec to the child running. Three calls need only an
int-returning C function taking ints and byte buffers, which ``_ctypes``
provides with two tiny classes.
"""

import _ctypes
import posix
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

SFD_NONBLOCK = posix.O_NONBLOCK
SFD_CLOEXEC = posix.O_CLOEXEC

SYS_RT_SIGACTION = 13  # x86_64, the fallback
SYS_RT_SIGACTION_BY_MACHINE = {"x86_64": 13, "aarch64": 134, "armv7l": 174, "ppc64le": 173}

# One signalfd_siginfo record, as the kernel writes it (man 2 signalfd).
SIGINFO_SIZE = 128


class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "i"


class _CFunction(_ctypes.CFuncPtr):
    """A libc function returning int, with errno saved for :func:`_ctypes.get_errno`."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _CInt


class _Libc:
    """What CFuncPtr asks of a library: its dlopen handle (None: the process's own symbols)."""

    _handle = _ctypes.dlopen(None, posix.RTLD_NOW)  # type: ignore[arg-type]  # typeshed lacks None


def _function(name: str) -> _CFunction:
    return _CFunction((name, _Libc()))  # type: ignore[arg-type]  # typeshed wants a ctypes.CDLL


_signalfd = _function("signalfd")
_prctl = _function("prctl")
_syscall = _function("syscall")


def _raise_errno(what: str) -> None:
    err = _ctypes.get_errno()
    raise OSError(err, f"{what}: {posix.strerror(err)}")


def _sigset(signals: set[int] | list[int]) -> bytes:
    """A sigset_t: the kernel reads 64 bits, glibc's type is 1024; both start the same way."""
    bits = 0
    for sig in signals:
        bits |= 1 << (sig - 1)
    return bits.to_bytes(128, sys.byteorder)


def signalfd(signals: set[int] | list[int]) -> int:
    """A non-blocking, close-on-exec signalfd for ``signals`` (which must be blocked)."""
    fd = int(_signalfd(-1, _sigset(signals), SFD_NONBLOCK | SFD_CLOEXEC))
    if fd < 0:
        _raise_errno("signalfd")
    return fd


def set_child_subreaper() -> None:
    if _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_SET_CHILD_SUBREAPER)")


def set_parent_death_signal(sig: int) -> None:
    if _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_SET_PDEATHSIG)")


def reset_signal_dispositions() -> None:
    """Set every signal, glibc's internal 32 and 33 included, to SIG_DFL.

    Python's ``signal`` module and glibc's ``sigaction`` both refuse 32 and 33,
    yet an ignored disposition survives exec: a process started with
    ``posix_spawn`` has them ignored, and would pass that on. The raw system
    call takes every number.
    """
    number = SYS_RT_SIGACTION_BY_MACHINE.get(posix.uname().machine, SYS_RT_SIGACTION)
    # struct kernel_sigaction, all zero: handler SIG_DFL, no flags, empty mask.
    action = bytes(32)
    for sig in range(1, 65):
        if sig in (9, 19):  # SIGKILL and SIGSTOP cannot be changed
            continue
        _syscall(number, sig, action, None, 8)
