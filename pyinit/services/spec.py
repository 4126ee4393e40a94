"""What a service is, as configured: the read-only records the rest of the package works from."""

from __future__ import annotations

from pyinit import signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    RestartPolicy = Literal["no", "on-failure", "always"]
    Output = Literal["inherit", "prefix"]
    ReadyKind = Literal["command", "tcp", "fd", "notify"]

RESTART_POLICIES: tuple[RestartPolicy, ...] = ("no", "on-failure", "always")
OUTPUTS: tuple[Output, ...] = ("inherit", "prefix")
READY_KINDS: tuple[ReadyKind, ...] = ("command", "tcp", "fd", "notify")


class Ready:
    """How a service says it is ready. ``kind`` is ``None`` (at once) or one of READY_KINDS."""

    def __init__(self) -> None:
        self.kind: ReadyKind | None = None
        self.command: list[str] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.fd = 0
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

    def __repr__(self) -> str:
        return f"ServiceSpec({vars(self)!r})"
