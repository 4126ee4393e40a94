"""Supervising several services (``--config``, ``--procfile``); nothing here is imported in single-child mode.

The rooms, in the order a run goes through them::

    config    the TOML file or Procfile -> ServiceSpec records (spec, values), every problem reported at once;
              env_file and ${VAR} (envfile), instances = N (instances)
    graph     start order, dependents, cycles, which waiting services are blocked
    mode      what the PID-1 frame's calls mean for the services: drain, stop, hurry, forward, report
    supervisor  the orchestration: start in order, restart, stop in reverse, shut down
    service   one service's state machine; every change is one logged event
    policy    restart or give up, as a pure function of the spec, the history, the exit and the time
    launch    starting a process: readiness probe (readiness), prefixed output (output), spawn
    report    what the termination message says of the run
    api       the control socket's requests (status, ready, start, stop, restart, signal, logs, reload, scale)
    vitals    a ready service's health: checks (health, checks) and the systemd watchdog
    jobs      scheduled runs: cron times (schedule) as loop timers
    logring   each relayed service's recent lines, for ctl logs and ready = { log = ... }
    changes   reload and scale: the difference between two sets of services (reload), carried out
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.settings import Settings


def main(settings: Settings) -> int:
    """Load and validate the configuration (exit 2 on any problem), then supervise in the frame."""
    import sys

    from pyinit.init import Frame
    from pyinit.services.config import ConfigError, load
    from pyinit.services.mode import ServicesMode
    from pyinit.services.supervisor import Supervisor

    path = settings.config or settings.procfile
    assert path is not None
    try:
        specs = load(path, procfile=settings.procfile is not None)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"pyinit: {problem}\n")
        return 2
    return Frame(settings).run(ServicesMode(Supervisor(settings, specs)))
