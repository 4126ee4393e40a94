"""Signal names and numbers, rewrite maps, and the forwarding decision.

Built on ``_signal`` rather than ``signal``: the latter builds enums at import
and costs several milliseconds on the path from exec to the child running.
"""

import _signal
import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SIGHUP = 1
SIGINT = 2
SIGQUIT = 3
SIGKILL = 9
SIGTERM = 15
SIGCHLD = 17
SIGCONT = 18
SIGSTOP = 19
SIGTSTP = 20
SIGTTIN = 21
SIGTTOU = 22

STOP_REQUESTS = frozenset({SIGTERM, SIGINT, SIGQUIT})
JOB_CONTROL = frozenset({SIGTSTP, SIGTTIN, SIGTTOU})

# Name <-> number, made on first use (a log line, a signal option): not on the usual start.
NUMBERS: dict[str, int] = {}
NAMES: dict[int, str] = {}


def _tables() -> None:
    NUMBERS.update(
        (name, value)
        for name, value in vars(_signal).items()
        if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(value, int)
    )
    # The preferred spelling first wins, so names read as the kernel's.
    for spelled, number in sorted(NUMBERS.items(), key=lambda item: item[0] in ("SIGIOT", "SIGPOLL", "SIGCLD")):
        NAMES.setdefault(number, spelled)


class SignalError(ValueError):
    """A signal name or number that does not exist."""


def catchable() -> set[int]:
    """Every signal pyinit blocks and collects: all valid ones but KILL and STOP."""
    return {int(sig) for sig in _signal.valid_signals()} - {SIGKILL, SIGSTOP}


def group_alive(pgrp: int) -> bool:
    """Whether process group ``pgrp`` still has a member (one we may not signal counts)."""
    try:
        posix.killpg(pgrp, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: members we may not signal, but members
        pass
    return True


def name(sig: int) -> str:
    if not NAMES:
        _tables()
    if sig in NAMES:
        return NAMES[sig]
    if _signal.SIGRTMIN <= sig <= _signal.SIGRTMAX:
        return f"SIGRTMIN+{sig - _signal.SIGRTMIN}"
    return f"SIG{sig}"


def parse(text: str, allow_zero: bool = False) -> int:
    """A signal from ``TERM``, ``SIGTERM``, ``sigterm``, ``15`` or ``RTMIN+3``."""
    if not NUMBERS:
        _tables()
    spelled = text.strip().upper()
    if spelled.isdigit():
        number = int(spelled)
        if number == 0 and allow_zero:
            return 0
        if 1 <= number < _signal.NSIG:
            return number
        raise SignalError(f"invalid signal number: {text}")
    if not spelled.startswith("SIG"):
        spelled = "SIG" + spelled
    if spelled in NUMBERS:
        return NUMBERS[spelled]
    for base, anchor, step in (("SIGRTMIN+", _signal.SIGRTMIN, 1), ("SIGRTMAX-", _signal.SIGRTMAX, -1)):
        offset = spelled.removeprefix(base)
        if offset != spelled and offset.isdigit():
            number = anchor + int(offset) * step
            if _signal.SIGRTMIN <= number <= _signal.SIGRTMAX:
                return number
    raise SignalError(f"invalid signal: {text}")


def parse_rewrite(text: str, parse_one: "Callable[..., int] | None" = None) -> tuple[int, int]:
    """``SIG:SIG`` -> (from, to); a target of 0 drops the signal. ``parse_one``
    (default :func:`parse`) reads each side, taking ``allow_zero`` as ``parse`` does."""
    one = parse if parse_one is None else parse_one
    source, sep, target = text.partition(":")
    if not sep:
        raise SignalError(f"invalid rewrite (want FROM:TO): {text}")
    return one(source), one(target, allow_zero=True)


def rewrite(sig: int, table: dict[int, int]) -> int:
    """The signal to forward for ``sig``; 0 means drop it."""
    return table.get(sig, sig)
