"""The PID-1 frame both modes run in: one loop, one reaper, one signal triage, one teardown.

The story, as tini tells it: become a reaper (PID 1 is one; anywhere else ask
for orphans), let the mode start its children, then wait, sort each signal
once and hand it on, reap, until the mode says its work is over; stop what is
left of the namespace (:mod:`pyinit.teardown`), started from the loop and
never from inside a reap; return the mode's exit status.

Every signal is sorted here, once::

    SIGCHLD                      -> reap, then the mode looks at what changed
    sent by pyinit itself        -> dropped (a terminal hang-up it caused, ...)
    the mode's work is over      -> a stop request hurries the teardown; the rest is dropped
    stop request (TERM/INT/QUIT) -> the mode's stop_requested, later ones its hurry
    anything else                -> the mode's forward

A mode is what runs inside: the single child (:mod:`pyinit.single`) or the
services (:mod:`pyinit.services`).
"""

import posix

from pyinit import log, signals
from pyinit.fs import exists as _exists
from pyinit.reaper import Reaper
from pyinit.settings import DEFAULT_TERMINATION_LOG
from pyinit.signals import SIGCHLD, STOP_REQUESTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from pyinit.loop import Loop
    from pyinit.settings import Settings
    from pyinit.summary import Report
    from pyinit.teardown import Teardown

    class Mode(Protocol):
        """What runs inside the frame. Every method is called from the loop."""

        def start(self, frame: "Frame") -> None:
            """Once, before the loop runs: start the children."""

        def after_reap(self) -> None:
            """After a SIGCHLD's reap: look at what the exits changed."""

        def forward(self, sig: int) -> None:
            """A signal for the children (neither SIGCHLD, nor a stop request, nor our own)."""

        def stop_requested(self, sig: int) -> None:
            """The first TERM, INT or QUIT."""

        def hurry(self, sig: int) -> None:
            """A later TERM, INT or QUIT, while the mode is still running."""

        def exit_code(self) -> int:
            """pyinit's exit status, once the frame is done."""

        def close(self) -> None:
            """After the loop: release what the mode holds (sockets, pipes)."""

        def report(self, code: int) -> Report:
            """Why the run ended, for the termination message (:mod:`pyinit.summary`)."""


def become_reaper(settings: "Settings") -> None:
    """PID 1 reaps by nature; anywhere else, ask to inherit our orphans."""
    if settings.pdeathsig:
        from pyinit import linux

        linux.set_parent_death_signal(settings.pdeathsig)
    if posix.getpid() == 1:
        return  # linux (ctypes) is then first imported after the child runs
    from pyinit import linux

    try:
        linux.set_child_subreaper()
    except OSError as exc:
        log.warning(
            "not PID 1 and cannot become a subreaper: zombies will not be reaped",
            error=exc.strerror,
        )


class Frame:
    """Owns the loop and the reaper; sorts signals; ends with the namespace's teardown."""

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.reaper = Reaper()
        self._loop: Loop | None = None
        self.mode: Mode | None = None
        self.stop_requests = 0
        self.ending = False  # the mode's work is over; the teardown runs or is about to
        self.teardown: Teardown | None = None
        self.finished = False
        self.pid = posix.getpid()  # a system call each time it is asked, and asked for every signal

    @property
    def loop(self) -> "Loop":
        """Built on first use: the single child is spawned before the loop's imports
        (epoll, and ctypes for the signalfd) are paid for; signals queue meanwhile."""
        if self._loop is None:
            from pyinit.loop import Loop

            self._loop = Loop(signals.catchable(), self.on_signal)
        return self._loop

    # -- what the mode calls ---------------------------------------------------
    def end(self, teardown: bool = True) -> None:
        """The mode's work is over: stop the rest of the namespace, then leave the loop.

        Safe to call from inside a reap: the teardown (which reaps itself) starts
        from the loop. ``teardown=False`` leaves at once (``--grace 0``, as tini).
        """
        if self.ending:
            return
        self.ending = True
        if not teardown or self._nobody_left():
            self.finished = True
            return
        from pyinit.teardown import Teardown

        settings = self.settings
        self.teardown = Teardown(self.loop, self.reaper, settings.stop_signal, settings.grace, self._done)
        self.loop.call_later(0, self.teardown.start)

    def _nobody_left(self) -> bool:
        """Whether there is plainly nothing to tear down: no child of ours (so no
        descendant either) and, as PID 1, no other process in a /proc that lists
        only us. The teardown's modules and its scan are then spared (about 1 ms on
        the way out of every `pyinit CMD`); anything less plain is the teardown's."""
        if self.reaper.has_children():  # a zombie not yet reaped counts: no reaping in a reap
            return False
        if self.pid == 1:
            try:
                return [name for name in posix.listdir("/proc") if name.isdigit()] == ["1"]
            except OSError:
                return False
        return True

    def _done(self) -> None:
        self.finished = True

    # -- what the kernel sends -----------------------------------------------
    def on_signal(self, sig: int, sender: int) -> None:
        assert self.mode is not None
        if sig == SIGCHLD:
            self.reaper.reap()
            self.mode.after_reap()
            return
        if sender == self.pid:
            log.debug("not forwarding a signal pyinit caused", signal=signals.name(sig))
            return
        if self.ending:
            # The children the signal was meant for are gone; a stop request now
            # means "do not wait any longer" (Ctrl-C twice).
            if sig in STOP_REQUESTS and self.teardown is not None:
                self.teardown.hurry()
            else:
                self.loop.drop(sig)  # counted, logged once per batch: a storm must not fill the log
            return
        if sig in STOP_REQUESTS:
            self.stop_requests += 1
            if self.stop_requests == 1:
                self.mode.stop_requested(sig)
            else:
                self.mode.hurry(sig)
            return
        self.mode.forward(sig)

    # -- the story -------------------------------------------------------------
    def run(self, mode: "Mode") -> int:
        """Start ``mode``, loop until it has ended and the namespace is torn down, return its status."""
        self.mode = mode
        become_reaper(self.settings)
        try:
            mode.start(self)
            self.reaper.reap()  # a child may already be gone
            mode.after_reap()
            run_once = self.loop.run_once  # once: the property and the look-up are per wake-up otherwise
            while not self.finished:
                try:  # outside the inner loop: a try costs nothing until it catches
                    while not self.finished:
                        run_once()
                except Exception as exc:  # the loop's own bug: PID 1 carries on
                    log.error("internal error in the loop; carrying on", error=repr(exc))
            self.reaper.reap()  # what is already dead goes with us
        finally:
            mode.close()
        code = mode.exit_code()
        setting = self.settings.termination_log
        if log.enabled(log.INFO) or setting or (setting is None and _exists(DEFAULT_TERMINATION_LOG)):
            from pyinit import summary  # only when someone will read it: it is on the way out

            summary.publish(lambda: mode.report(code), self.teardown, setting)
        return code
