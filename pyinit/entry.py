"""The ``pyinit`` command: run the init, then leave without finalizing the interpreter.

Finalization (module teardown, a last garbage collection) costs about 3 ms
after the child has exited and everything is reaped, on the path the start-up
benchmark measures. An init has nothing left to clean up by then: flush what
was written and exit.
"""

import posix
import sys

from pyinit.cli import main

# What a writer killed by SIGPIPE reports (128 + 13), as `yes | head` does.
BROKEN_PIPE = 141


def run() -> None:
    try:
        code = main()
    except BrokenPipeError:  # `pyinit ctl status | head`: the reader has seen enough
        code = BROKEN_PIPE
    from pyinit import log

    log.finish()  # the last lines get a bounded time to be read
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not change the status
            pass
    posix._exit(code)
