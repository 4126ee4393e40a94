# The C half of the signal module, which pyinit uses directly to stay lean.
from collections.abc import Iterable

NSIG: int
SIG_BLOCK: int
SIG_UNBLOCK: int
SIG_SETMASK: int
SIG_DFL: int
SIG_IGN: int
SIGRTMIN: int
SIGRTMAX: int

def pthread_sigmask(how: int, mask: Iterable[int], /) -> set[int]: ...
def valid_signals() -> set[int]: ...
def getsignal(signalnum: int, /) -> object: ...
def signal(signalnum: int, handler: int, /) -> object: ...
def pidfd_send_signal(pidfd: int, sig: int, siginfo: None = None, flags: int = 0, /) -> None: ...
