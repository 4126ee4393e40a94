"""What pyinit was asked to do, decided once by the CLI and then only read."""

from __future__ import annotations

from pyinit import signals, spawn


class Settings:
    """Every knob of a run. Built by :mod:`pyinit.cli`; nothing else reads argv or the environment."""

    command: list[str]
    personality: str
    # forwarding
    single_child: bool
    rewrite: dict[int, int]
    job_control: str
    # children
    isolation: str
    child_signals: str
    # exit
    expect_exit: frozenset[int]
    # reaping
    subreaper: bool
    pdeathsig: int
    # teardown
    grace: float
    stop_signal: int
    stop_delay: float
    # supervision (pyinit/supervisor.py)
    config: str | None
    procfile: str | None
    control_socket: str
    # the termination message (pyinit/summary.py): None = the platform's file if any, "" = none
    termination_log: str | None
    # logging
    verbosity: int
    log_format: str
    warn_on_reap: bool

    def __init__(self) -> None:
        self.command = []
        self.personality = "pyinit"
        self.single_child = False
        self.rewrite = {}
        # What TSTP/TTIN/TTOU sent to pyinit do: "forward" TSTP and drop TTIN/TTOU
        # (native and tini), or "stop" the group and pyinit itself (dumb-init).
        self.job_control = "forward"
        self.isolation = spawn.PGROUP
        # The child's signals: spawn.RESET (all default, none blocked) or
        # spawn.INHERIT (the ignored ones and the mask pyinit was started with, as tini).
        self.child_signals = spawn.RESET
        self.expect_exit = frozenset()
        self.subreaper = False
        self.pdeathsig = 0
        self.grace = 5.0
        self.stop_signal = signals.SIGTERM
        self.stop_delay = 0.0
        self.config = None
        self.procfile = None
        self.control_socket = "/run/pyinit.sock"
        self.termination_log = None
        self.verbosity = 0
        self.log_format = "console"
        self.warn_on_reap = False

    def __repr__(self) -> str:
        return f"Settings({vars(self)!r})"
