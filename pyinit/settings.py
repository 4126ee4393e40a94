"""What pyinit was asked to do, decided once by the CLI and then only read."""

from pyinit import signals, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, Protocol

    from pyinit.spawn import ChildSignals, Isolation, SpawnError

    class Personality(Protocol):
        """What a run needs of its personality (pyinit.personalities) once the options are read."""

        name: str

        def exec_failure(self, command: str, failure: SpawnError, pid: int) -> SpawnError: ...

    JobControl = Literal["forward", "stop"]
    LogFormat = Literal["console", "json"]

DEFAULT_CONTROL_SOCKET = "/run/pyinit.sock"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"  # a kubelet mounts it in every container


class Settings:
    """Every knob of a run. Built by :mod:`pyinit.cli`; nothing else reads argv or the environment.

    Slotted: an option table that names an attribute wrongly fails at once
    instead of quietly setting a new one.
    """

    __slots__ = (
        "child_signals",
        "command",
        "config",
        "control_socket",
        "expect_exit",
        "grace",
        "isolation",
        "job_control",
        "log_format",
        "pdeathsig",
        "personality",
        "procfile",
        "rewrite",
        "single_child",
        "stop_delay",
        "stop_signal",
        "subreaper",
        "termination_log",
        "verbosity",
        "warn_on_reap",
    )

    command: list[str]
    personality: "Personality"
    # forwarding
    single_child: bool
    rewrite: dict[int, int]
    job_control: "JobControl"
    # children
    isolation: "Isolation"
    child_signals: "ChildSignals"
    # exit
    expect_exit: frozenset[int]
    # reaping
    subreaper: bool
    pdeathsig: int
    # teardown
    grace: float
    stop_signal: int
    stop_delay: float
    # supervision (pyinit/services/)
    config: str | None
    procfile: str | None
    control_socket: str
    # the termination message (pyinit/summary.py): None = the platform's file if any, "" = none
    termination_log: str | None
    # logging
    verbosity: int
    log_format: "LogFormat"
    warn_on_reap: bool

    def __init__(self, personality: "Personality") -> None:
        self.command = []
        self.personality = personality
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
        self.control_socket = DEFAULT_CONTROL_SOCKET
        self.termination_log = None
        self.verbosity = 0
        self.log_format = "console"
        self.warn_on_reap = False

    def __repr__(self) -> str:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields["personality"] = self.personality.name
        return f"Settings({fields!r})"
