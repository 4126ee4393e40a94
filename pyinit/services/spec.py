"""What a service is, as configured: the read-only records the rest of the package works from."""

from __future__ import annotations

from pyinit import signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from pyinit.services.checks import Health
    from pyinit.services.schedule import Schedule

    RestartPolicy = Literal["no", "on-failure", "always"]
    Output = Literal["inherit", "prefix", "quiet"]
    ReadyKind = Literal["command", "tcp", "fd", "notify", "log"]
    OnDependencyFailure = Literal["stop", "ignore"]

RESTART_POLICIES: tuple[RestartPolicy, ...] = ("no", "on-failure", "always")
OUTPUTS: tuple[Output, ...] = ("inherit", "prefix", "quiet")
READY_KINDS: tuple[ReadyKind, ...] = ("command", "tcp", "fd", "notify", "log")
ON_DEPENDENCY_FAILURE: tuple[OnDependencyFailure, ...] = ("stop", "ignore")
# Outputs that pass through pyinit: a log ring, ``ctl logs``, ``ready = { log = ... }``.
RELAYED: tuple[Output, ...] = ("prefix", "quiet")


class Ready:
    """How a service says it is ready. ``kind`` is ``None`` (at once) or one of READY_KINDS."""

    def __init__(self) -> None:
        self.kind: ReadyKind | None = None
        self.command: list[str] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.fd = 0
        self.pattern = ""  # log: a regular expression a line of the service's output matches
        self.interval = 0.2
        self.timeout = 0.0  # 0: wait for ever


class ServiceSpec:
    """One service as configured; read-only once validated."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.command: list[str] = []
        self.env: dict[str, str] = {}
        self.cwd: str | None = None
        self.uid: int | None = None
        self.gid: int | None = None
        self.groups: list[int] | None = None
        self.user_env: dict[str, str] = {}  # HOME, USER, LOGNAME of ``user``; ``env`` wins
        self.restart: RestartPolicy = "on-failure"
        self.backoff_initial = 0.5
        self.backoff_max = 30.0
        self.backoff_reset = 10.0
        self.start_limit = 5
        self.start_limit_window = 60.0
        self.stop_signal = signals.SIGTERM
        self.stop_grace = 10.0
        self.depends_on: list[str] = []
        self.ready = Ready()
        self.critical = False
        self.output: Output = "inherit"
        self.oom_score_adj: int | None = None  # None: pyinit's own plus spawn.OOM_SCORE_STEP
        self.env_file: list[str] = []  # as given (expanded); their values are merged into ``env``
        self.health: Health | None = None
        self.watchdog = 0.0  # 0: none
        self.log_buffer = 256 * 1024
        self.instances: int | None = None  # None: one service of this name, not NAME-1
        self.group: str | None = None  # for an instance: the service it was made from
        self.schedule: Schedule | None = None
        self.on_dependency_failure: OnDependencyFailure = "stop"

    @property
    def relayed(self) -> bool:
        """Its output passes through pyinit (and so into its log ring)."""
        return self.output in RELAYED

    def __repr__(self) -> str:
        return f"ServiceSpec({vars(self)!r})"
