"""pyinit: a container-grade init process.

The first thing pyinit does is block every catchable signal. Until then the
interpreter is starting up, and a signal sent to a namespace init that has
neither blocked it nor installed a handler is dropped by the kernel: that
window (the interpreter's own start-up, a few milliseconds) cannot be closed
from Python. Once blocked, signals queue and are collected through a signalfd.
"""

import _signal

# The modules a single child's pyinit loads (its start: entry, cli, options, settings,
# personality, linux, signals, spawn, log, init, single, reaper, loop, fs; then its control
# socket: control, single_control, drain, oom, cgroup) do without `os` and without `from
# __future__ import annotations`, which imports the __future__ module (0.4 ms of a 10 ms
# start); their annotations that name types imported only for the type checker are quoted.

# The mask pyinit was started with: tini's children get it back (see spawn.py).
ORIGINAL_MASK = _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())

__version__ = "0.1.0"
