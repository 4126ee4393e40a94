"""The single-child mode: one command, its signals, its terminal, its exit status.

What it adds to the frame (:mod:`pyinit.init`): the child is spawned in a
process group (or session) of its own, holding the terminal's foreground when
pyinit held it; signals go to its group (``-c``: to the child only) after
``--rewrite``; a stop request waits ``--stop-delay`` first; job-control
signals follow the personality; the child's exit ends the work, and its
status (128+N for signal N, ``-e`` codes as 0) is pyinit's.
"""

import posix
import sys

from pyinit import log, signals, spawn

_CONT_OR_JOB_CONTROL = signals.JOB_CONTROL | {signals.SIGCONT}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.init import Frame
    from pyinit.settings import Settings
    from pyinit.single_control import SingleControl
    from pyinit.summary import Report
    from pyinit.terminal import Terminal


# The control socket, the drain and the OOM counter's first reading wait this long after
# the spawn (or for a stop request): a command that is over by then never pays for them
# (about 1.5 ms of imports and system calls), and no probe is that quick.
SERVE_AFTER = 0.02


class SingleChild:
    """The mode: state the frame's events need about the one child."""

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.child = 0
        self.failure: spawn.SpawnError | None = None
        self.status: int | None = None
        self.code: int | None = None  # set when pyinit itself decides the status (spawn failed)
        self.terminal: Terminal | None = None  # job control, when pyinit hands the child its terminal
        self._frame: Frame | None = None
        self.control: SingleControl | None = None  # readiness, drain, OOM verdict: once the child runs
        self.stop_signal = 0  # the first stop request, for the exit summary
        # Read once for the forwarding path, where each look-up is paid per signal.
        self.rewrite = settings.rewrite
        self.whom = 0  # the child, or with -g / pyinit's default its group (-pid): set at spawn
        self.verbose = log.enabled(log.INFO)  # the log is configured before the mode exists

    @property
    def frame(self) -> "Frame":
        assert self._frame is not None
        return self._frame

    # -- Mode -------------------------------------------------------------------
    def start(self, frame: "Frame") -> None:
        self._frame = frame
        settings = self.settings
        # pyinit.terminal only with a terminal: most runs have none (a container's stdin).
        tty = 0 if posix.isatty(0) else None
        if tty is not None:
            from pyinit import terminal

            if settings.isolation == spawn.SESSION:
                terminal.detach()
            elif not terminal.holds_foreground(tty):  # started in the background: not ours to take
                tty = None
        try:  # the child inherits pyinit's directory
            self.child, failure = spawn.spawn(
                settings.command, settings.isolation, tty, child_signals=settings.child_signals
            )
        except OSError as exc:
            sys.stderr.write(f"pyinit: cannot start {settings.command[0]}: {exc.strerror}\n")
            self.code = 1
            frame.end(teardown=False)
            return
        finally:
            posix.chdir("/")  # then pyinit leaves it: it holds no directory (nor its mount) busy
        self.whom = self.child if settings.single_child else -self.child
        if failure is not None:
            self.failure = settings.personality.exec_failure(settings.command[0], failure, self.child)
            sys.stderr.write(f"{self.failure}\n")
        else:
            log.info("spawned", pid=self.child, command=settings.command)
            frame.loop.call_later(SERVE_AFTER, self.serve)
        if tty is not None and settings.isolation == spawn.PGROUP:
            self.terminal = terminal.Terminal(tty, self.child)
        frame.reaper.watch(self.child, self.on_child_exit)
        frame.reaper.on_orphan = self.on_orphan

    def after_reap(self) -> None:
        if self.terminal is not None:  # no call at all without a terminal: this runs once per orphan
            self.terminal.child_changed()

    def forward(self, sig: int) -> None:
        if sig in _CONT_OR_JOB_CONTROL:  # one test on the usual signal's path
            if sig == signals.SIGCONT:
                if self.terminal is not None:
                    self.terminal.continued()
            else:
                self.on_job_control(sig)
                return
        self.send(sig)

    def stop_requested(self, sig: int) -> None:
        self.stop_signal = self.stop_signal or sig
        if self.settings.stop_delay > 0:
            self.serve()
        if self.control is not None:  # not ready at once; forwarded after --stop-delay (pyinit/drain.py)
            self.control.stop_request(sig)
        else:
            self.send(sig)

    def hurry(self, sig: int) -> None:
        # The child decides what a second request means (a second Ctrl-C, say).
        self.stop_requested(sig)

    def exit_code(self) -> int:
        from pyinit.reaper import exit_code

        if self.code is not None:
            return self.code
        if self.failure is not None:
            return self.failure.code
        assert self.status is not None
        code = exit_code(self.status)
        return 0 if code in self.settings.expect_exit else code

    def report(self, code: int) -> "Report":
        from pyinit.summary import Report, child_cause

        if self.failure is not None or self.code is not None:
            return Report(code, f"the command could not be started: {self.failure or 'fork failed'}")
        cause = child_cause(self.child, self.settings.command[0], self.status, self.stop_signal)
        return Report(code, cause, None if self.control is None else self.control.oom_killed)

    def close(self) -> None:
        if self.terminal is not None:
            self.terminal.release()
        if self.control is not None:
            self.control.close()

    # -- the child -----------------------------------------------------------
    def on_job_control(self, sig: int) -> None:
        """TSTP/TTIN/TTOU sent to pyinit itself (a terminal sends them to its foreground
        group, which is the child's, so these come from ``kill``)."""
        if self.settings.job_control == "stop":
            # dumb-init: forward (as SIGSTOP in session mode), then stop too so a
            # shell above sees the job stopped. A namespace init cannot stop itself.
            self.send(sig)
            if posix.getpid() != 1:
                posix.kill(posix.getpid(), signals.SIGSTOP)
            return
        if sig != signals.SIGTSTP:  # TTIN/TTOU only ever concern pyinit's own terminal use
            log.debug("ignored", signal=signals.name(sig))
            return
        self.send(sig)

    def send(self, sig: int) -> None:
        target = self.rewrite.get(sig, sig)  # signals.rewrite's rule, inline on the forwarding path
        if target == 0 or self.status is not None:
            self.frame.loop.drop(sig)  # counted, logged once per batch: a storm must not fill the log
            return
        whom = self.whom
        try:
            posix.kill(whom, target)
        except ProcessLookupError:
            return
        if self.verbose:  # not even the name's look-up on the forwarding path when quiet
            log.info("forwarded", signal=signals.name(target), to=whom)

    def on_child_exit(self, pid: int, status: int) -> None:
        from pyinit.reaper import describe

        self.status = status
        verdict = self.control.child_exited(status) if self.control is not None else {}
        log.emit(log.WARNING if verdict else log.INFO, "child exited", pid=pid, **describe(status), **verdict)
        # As tini with --grace 0: the kernel kills the rest of a namespace with us.
        self.frame.end(teardown=self.settings.grace > 0)

    def serve(self) -> None:
        """Readiness, the drain, the OOM counter, the control socket (pyinit/single_control.py)."""
        if self.control is not None or self.status is not None:
            return
        from pyinit.single_control import SingleControl

        self.control = SingleControl(self.frame.loop, self.settings, self.child, self.send)

    def on_orphan(self, pid: int, status: int) -> None:
        if self.settings.warn_on_reap:
            # tini's -w sentence, which is what people grep for; the pid is a field too.
            log.warning(f"Reaped zombie process with pid={pid}", pid=pid)
        if self.control is not None and not self.frame.ending and self.control.orphan_reaped(status):
            log.warning("orphan killed by the OOM killer", pid=pid, oom_killed=True)
