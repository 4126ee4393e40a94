"""Importing pyinit blocks every signal (its first statement, on purpose), and the
unit tests import it into pytest itself. Unblock again, or pytest-timeout's SIGALRM
and Ctrl-C would never arrive, and every process a test starts would inherit the mask."""

import _signal

import pyinit  # noqa: F401  (the import that blocks)

_signal.pthread_sigmask(_signal.SIG_SETMASK, [])
