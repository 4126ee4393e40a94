"""The init itself, as a story: become a reaper, spawn the child, then wait,
forward and reap until the child is gone; stop what it left behind
(:mod:`pyinit.teardown`), and exit with the child's status."""

from __future__ import annotations

import os
import sys

from pyinit import log, signals, spawn, terminal
from pyinit.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.teardown import Teardown


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


class Init:
    """State the loop needs: the main child, how to forward, how to exit."""

    def __init__(
        self, settings: Settings, child: int, failure: spawn.SpawnError | None, tty: int | None = None
    ) -> None:
        from pyinit.loop import Loop
        from pyinit.reaper import Reaper

        self.settings = settings
        self.child = child
        self.failure = failure
        self.status: int | None = None
        self.teardown: Teardown | None = None
        self.finished = False
        self.terminal = terminal.Terminal(tty, child)
        self.reaper = Reaper()
        self.reaper.watch(child, self.on_child_exit)
        if settings.warn_on_reap:
            # tini's -w sentence, which is what people grep for; the pid is a field too.
            self.reaper.on_orphan = lambda pid, _: log.warning(f"Reaped zombie process with pid={pid}", pid=pid)
        self.loop = Loop(signals.catchable(), self.on_signal)

    # -- events -------------------------------------------------------------
    def on_signal(self, sig: int, sender: int) -> None:
        if sig == signals.SIGCHLD:
            self.reaper.reap()
            self.terminal.child_changed()
            return
        if sender == os.getpid():
            log.debug("not forwarding a signal pyinit caused", signal=signals.name(sig))
            return
        if sig == signals.SIGCONT:
            self.terminal.continued()
        if sig in signals.JOB_CONTROL:
            self.on_job_control(sig)
            return
        if self.status is not None:
            self.during_teardown(sig)
        elif sig in signals.STOP_REQUESTS and self.settings.stop_delay > 0:
            # Let a load balancer notice and drain before the child starts stopping.
            log.info("stop request; forwarding it after the stop delay", signal=signals.name(sig))
            self.loop.call_later(self.settings.stop_delay, lambda: self.forward(sig))
        else:
            self.forward(sig)

    def on_job_control(self, sig: int) -> None:
        """TSTP/TTIN/TTOU sent to pyinit itself (a terminal sends them to its foreground
        group, which is the child's, so these come from ``kill``)."""
        if self.settings.job_control == "stop":
            # dumb-init: forward (as SIGSTOP in session mode), then stop too so a
            # shell above sees the job stopped. A namespace init cannot stop itself.
            self.forward(sig)
            if os.getpid() != 1:
                os.kill(os.getpid(), signals.SIGSTOP)
            return
        if sig != signals.SIGTSTP:  # TTIN/TTOU only ever concern pyinit's own terminal use
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

    def during_teardown(self, sig: int) -> None:
        """The main child is gone: a stop request now means "do not wait any longer"."""
        if sig in signals.STOP_REQUESTS and self.teardown is not None:
            self.teardown.hurry()
        else:
            log.debug("dropped: the child has exited", signal=signals.name(sig))

    def on_child_exit(self, pid: int, status: int) -> None:
        from pyinit.reaper import describe

        self.status = status
        log.info("child exited", pid=pid, **describe(status))
        if self.settings.grace <= 0:
            self.finished = True  # as tini: the kernel kills the rest of a namespace with us
            return
        from pyinit.teardown import Teardown

        self.teardown = Teardown(self.loop, self.reaper, self.settings.stop_signal, self.settings.grace, self.on_done)
        # Started from the loop, not from inside the reaper that called us.
        self.loop.call_later(0, self.teardown.start)

    def on_done(self) -> None:
        self.finished = True

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
        while not self.finished:
            self.loop.run_once()
        self.reaper.reap()  # what is already dead goes with us
        return self.exit_code()


def run(settings: Settings) -> int:
    become_reaper(settings)
    if settings.isolation == spawn.SESSION:
        terminal.detach()
        tty = 0 if os.isatty(0) else None
    else:
        tty = terminal.foreground_fd()
    try:
        child, failure = spawn.spawn(settings.command, settings.isolation, tty, child_signals=settings.child_signals)
    except OSError as exc:
        sys.stderr.write(f"pyinit: cannot start {settings.command[0]}: {exc.strerror}\n")
        return 1
    if failure is not None:
        from pyinit import personalities

        persona = personalities.by_name(settings.personality)
        failure = persona.exec_failure(settings.command[0], failure.errno, child)
        sys.stderr.write(f"{failure}\n")
    else:
        log.info("spawned", pid=child, command=settings.command)
    # As dumb-init: once the child runs, pyinit holds no directory (nor its mount) busy.
    os.chdir("/")
    init = Init(settings, child, failure, tty if settings.isolation == spawn.PGROUP else None)
    code = init.run()
    init.terminal.release()
    return code
