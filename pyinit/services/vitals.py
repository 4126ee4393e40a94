"""The health of one run of a service: its check, its watchdog, and the status they share.

Made when the service starts (the watchdog's environment must be in place
before the fork), started when it is ready, stopped when its process ends.
Both feed one :class:`~pyinit.services.health.HealthState`, so a missed
``WATCHDOG=1`` and a failed check count towards the same ``failures``.
"""

from __future__ import annotations

import time

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop
    from pyinit.reaper import Reaper
    from pyinit.services.health import HealthMonitor, HealthState, Watchdog
    from pyinit.services.spec import ServiceSpec


class Vitals:
    def __init__(self, loop: Loop, reaper: Reaper, spec: ServiceSpec, on_unhealthy: Callable[[], None]) -> None:
        from pyinit.services.health import HealthState

        self.loop, self.reaper, self.spec = loop, reaper, spec
        self.on_unhealthy = on_unhealthy
        failures = spec.health.failures if spec.health is not None else 3
        start_period = spec.health.start_period if spec.health is not None else 0.0
        self.state: HealthState = HealthState(failures, start_period, time.monotonic())
        self.monitor: HealthMonitor | None = None
        self.watchdog: Watchdog | None = None

    @staticmethod
    def wanted(spec: ServiceSpec) -> bool:
        return spec.health is not None or spec.watchdog > 0

    @property
    def status(self) -> str:
        return self.state.status

    def start(self) -> None:
        """The service is ready: checks from now on."""
        from pyinit.services.health import HealthMonitor, Watchdog

        if self.spec.health is not None and self.monitor is None:
            self.monitor = HealthMonitor(self.loop, self.reaper, self.spec.health, self.state, self.changed)
            self.monitor.start()
        if self.spec.watchdog > 0 and self.watchdog is None:
            self.watchdog = Watchdog(self.loop, self.spec.watchdog, self.state, self.changed)
            self.watchdog.start()

    def kick(self) -> None:
        """``WATCHDOG=1`` from the service."""
        if self.watchdog is not None:
            self.watchdog.kick()

    def changed(self, status: str, detail: str) -> None:
        from pyinit.services.health import UNHEALTHY

        if status == UNHEALTHY:
            log.warning("service unhealthy", service=self.spec.name, failures=self.state.streak, detail=detail)
            self.stop()
            self.on_unhealthy()
        else:
            log.info("service healthy", service=self.spec.name, detail=detail)

    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
