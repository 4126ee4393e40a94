"""The init itself, as a story: become a reaper, spawn the child, then wait,
forward and reap until the child is gone, and leave nothing behind."""

from __future__ import annotations

import os
import sys

from pyinit import log, signals, spawn
from pyinit.settings import Settings


def become_reaper(settings: Settings) -> None:
    """PID 1 reaps by nature; anywhere else, ask to inherit our orphans."""
    if settings.pdeathsig:
        from pyinit import linux

        linux.set_parent_death_signal(settings.pdeathsig)
    if os.getpid() == 1:
        return  # linux (ctypes) is then first imported after the child runs
    from pyinit import linux

    try:
        linux.set_child_subreaper()
    except OSError as exc:
        log.warning(
            "not PID 1 and cannot become a subreaper: zombies will not be reaped",
            error=exc.strerror,
        )


def foreground_terminal() -> int | None:
    """stdin, if it is a terminal whose foreground group is ours to hand on.

    A pyinit started in the background (``pyinit -- x &``) must never take
    the terminal from the shell that started it.
    """
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


class Init:
    """State the loop needs: the main child, how to forward, how to exit."""

    def __init__(self, settings: Settings, child: int, failure: spawn.SpawnError | None) -> None:
        from pyinit.loop import Loop
        from pyinit.reaper import Reaper

        self.settings = settings
        self.child = child
        self.failure = failure
        self.status: int | None = None
        self.reaper = Reaper()
        self.reaper.watch(child, self.on_child_exit)
        self.loop = Loop(signals.catchable(), self.on_signal)

    # -- events -------------------------------------------------------------
    def on_signal(self, sig: int, code: int, sender: int) -> None:
        if sig == signals.SIGCHLD:
            self.reaper.reap()
            return
        if sender == os.getpid():
            log.debug("not forwarding a signal pyinit caused", signal=signals.name(sig))
            return
        if sig in signals.JOB_CONTROL and sig != signals.SIGTSTP:
            log.debug("ignored", signal=signals.name(sig))
            return
        self.forward(sig)

    def forward(self, sig: int) -> None:
        target = signals.rewrite(sig, self.settings.rewrite)
        if target == 0 or self.status is not None:
            log.debug("dropped", signal=signals.name(sig))
            return
        whom = self.child if self.settings.single_child else -self.child
        try:
            os.kill(whom, target)
        except ProcessLookupError:
            return
        log.info("forwarded", signal=signals.name(target), to=whom)

    def on_child_exit(self, pid: int, status: int) -> None:
        from pyinit.reaper import describe

        self.status = status
        log.info("child exited", pid=pid, **describe(status))
        self.loop.stop()

    # -- the story ------------------------------------------------------------
    def exit_code(self) -> int:
        from pyinit.reaper import exit_code

        if self.failure is not None:
            return self.failure.code
        assert self.status is not None
        code = exit_code(self.status)
        return 0 if code in self.settings.expect_exit else code

    def run(self) -> int:
        self.reaper.reap()  # the child may already be gone
        while self.status is None:
            self.loop.run_once()
        self.reaper.reap()  # what is already dead goes with us
        return self.exit_code()


def run(settings: Settings) -> int:
    become_reaper(settings)
    try:
        child, failure = spawn.spawn(settings.command, settings.isolation, foreground_terminal())
    except OSError as exc:
        sys.stderr.write(f"pyinit: cannot start {settings.command[0]}: {exc.strerror}\n")
        return 1
    if failure is not None:
        sys.stderr.write(f"pyinit: {failure}\n")
    else:
        log.info("spawned", pid=child, command=settings.command)
    return Init(settings, child, failure).run()
