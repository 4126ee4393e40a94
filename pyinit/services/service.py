"""One service: what is known about it and its state machine.

Every change of state goes through :meth:`Service._to`, which logs the event
that names it, so the log is the service's history (``-v`` shows it)::

    waiting  --launched-->      starting   "service starting" ("cannot start service": the spawn failed)
    starting --ready-->         ready      "service ready"
    starting/ready --exit-->    exited     "service exited" (status 0) / failed (otherwise)
    exited/failed --policy-->   backoff    "service restarting"; or failed: "service given up"
    backoff  --launched-->      starting
    starting/ready --stop-->    stopping   "service stopping"
    stopping --group gone-->    stopped    "service stopped"
    any without a process --stop or shutdown--> stopped
    exited/failed/stopped --start request--> waiting   "service waiting"
    (a scheduled job) --after a run, or to begin with--> scheduled   "job scheduled"
    waiting/stopped --a dependency failed for good--> failed   "service dependency failed"

The service does not schedule anything: the supervisor owns the loop, the
timers and the order between services, and calls these methods.
"""

from __future__ import annotations

import os

from pyinit import log, signals, sink
from pyinit.reaper import describe, describe_status, exit_code
from pyinit.services import policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    from pyinit.loop import Timer
    from pyinit.services.jobs import Job
    from pyinit.services.logring import LogRing
    from pyinit.services.output import Prefixer
    from pyinit.services.readiness import Probe
    from pyinit.services.spec import ServiceSpec
    from pyinit.services.vitals import Vitals

    State = Literal["waiting", "starting", "ready", "backoff", "stopping", "stopped", "exited", "failed", "scheduled"]
    # What follows an exit, for the supervisor: the rest of a stopping group is still alive
    # ("lingering"), the stop is over ("stopped"), a restart is due ("backoff"), or the
    # service is over for good ("ended").
    Outcome = Literal["lingering", "stopped", "backoff", "ended"]


class Service:
    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.state: State = "waiting"
        self.pid: int | None = None
        # Its process group, kept after the leader exits while a stop waits for the rest of it.
        self.pgid: int | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.history = policy.History()
        self.backoff = 0.0  # the delay of the restart pending in "backoff"
        self.last_exit: str | None = None
        self.last_code: int | None = None
        self.oom_killed: bool | None = None  # the last exit's OOM verdict (None: not a SIGKILL, or unknown)
        self.sigkilled = False  # pyinit sent its process group SIGKILL since it started
        self.timer: Timer | None = None  # restart, kill or readiness deadline
        self.probe: Probe | None = None
        self.outputs: list[Prefixer] = []
        self.on_stopped: list[Callable[[], None]] = []
        self.ring: LogRing | None = None  # its recent output, when that passes through pyinit
        if spec.relayed:
            from pyinit.services.logring import LogRing

            self.ring = LogRing(spec.log_buffer)
        self.vitals: Vitals | None = None  # health checks and watchdog of the current run
        self.job: Job | None = None  # the timetable of a scheduled job
        self.unhealthy = False  # the current run is being stopped for failing its health checks

    # -- the one transition ------------------------------------------------------
    def _to(self, state: State, event: str, level: int = log.INFO, **fields: Any) -> None:
        self.state = state
        log.emit(level, event, service=self.name, **fields)

    # -- what the supervisor asks ------------------------------------------------
    @property
    def running(self) -> bool:
        """It has processes: its leader, or what is left of its group during a stop."""
        return self.pgid is not None

    def satisfies_dependents(self) -> bool:
        """Ready, or a one-shot that finished well."""
        return self.state == "ready" or (self.state == "exited" and self.last_code == 0)

    def dead(self) -> bool:
        """Over, and it will not come back without a request."""
        return self.state in ("failed", "stopped") or (self.state == "exited" and self.last_code != 0)

    def group_alive(self) -> bool:
        return self.pgid is not None and signals.group_alive(self.pgid)

    def kill(self, sig: int) -> None:
        if self.pgid is None:
            return
        self.sigkilled = self.sigkilled or sig == signals.SIGKILL
        try:  # the whole group: a service's own children (sh -c ...) hear it too
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            if self.pid is None:
                return
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def status(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "uptime": round(now - self.started_at, 3) if self.pid is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "ready": self.satisfies_dependents(),
            "health": self.vitals.status if self.vitals is not None else None,
            **(self.job.status() if self.job is not None else {}),
            "dropped_lines": sink.dropped(self.name),  # its `prefix` lines a blocked stream cost
            **({} if self.oom_killed is None else {"oom_killed": self.oom_killed}),
        }

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def cancel_probe(self) -> None:
        if self.probe is not None:
            self.probe.cancel()
            self.probe = None

    # -- starting -----------------------------------------------------------------
    def launched(self, pid: int, now: float, probe: Probe, outputs: list[Prefixer]) -> None:
        self.pid = self.pgid = pid
        self.started_at = now
        self.sigkilled = False
        self.probe, self.outputs = probe, outputs
        self._to("starting", "service starting", pid=pid, command=self.spec.command)

    def launch_failed(self, error: str, now: float) -> None:
        """The spawn itself failed: the service counts as started, and its exit follows."""
        self.started_at = now
        self._to("starting", "cannot start service", log.ERROR, error=error)

    def became_ready(self) -> bool:
        if self.state != "starting":
            return False
        self.cancel_timer()
        self._to("ready", "service ready", pid=self.pid)
        return True

    def ready_too_late(self) -> None:
        self.timer = None
        if self.state == "starting" and self.pid is not None:
            log.warning("service not ready in time; killing it", service=self.name, timeout=self.spec.ready.timeout)
            self.kill(signals.SIGKILL)

    def reset(self) -> None:
        """A start request: a fresh back-off and start limit, and waiting for its dependencies."""
        self.cancel_timer()
        self.history = policy.History()
        if self.state != "waiting":
            self._to("waiting", "service waiting")

    # -- exits -------------------------------------------------------------------
    def leader_exited(
        self, pid: int, status: int, now: float, shutting_down: bool, oom_killed: bool | None = None
    ) -> Outcome:
        """``oom_killed``: the OOM verdict of a SIGKILL death (pyinit/oom.py), None when unknown."""
        self.pid = None
        self.cancel_probe()
        if self.vitals is not None:
            self.vitals.stop()
        unhealthy, self.unhealthy = self.unhealthy, False
        code = exit_code(status)
        self.oom_killed = oom_killed
        self.last_exit = "oom-killed" if oom_killed else describe_status(status)
        self.last_code = code
        if self.state == "stopping" and self.group_alive():
            # A wrapper (`sh -c`, every Procfile entry) dies of the stop signal at once while
            # the program it ran is still shutting down: the service is stopped when its whole
            # group is gone, or a restart (the port still taken) or a dependency's stop would
            # overlap with it. The rest are orphans now, ours, so their exits wake us up; the
            # stop grace keeps running.
            log.info("service leader exited; waiting for its process group", service=self.name, pid=pid)
            return "lingering"
        self.pgid = None
        self.cancel_timer()
        if self.state == "stopping" or shutting_down:
            self.stop_finished()
            return "stopped"
        failed = code != 0 or unhealthy  # stopped for failing its checks: however gracefully it exited
        self._to(
            "failed" if failed else "exited",
            "service exited",
            log.WARNING if failed else log.INFO,
            pid=pid,
            **describe(status),
            **({"oom_killed": True} if oom_killed else {}),
        )
        decision = policy.decide(self.spec, self.history, code or int(failed), self.started_at, now)
        self.history = decision.history
        if decision.action == "restart":
            self.backoff = decision.delay
            self._to("backoff", "service restarting", delay=round(decision.delay, 3))
            return "backoff"
        if decision.action == "give up":
            window = self.spec.start_limit_window
            self._to("failed", "service given up", log.WARNING, restarts=decision.restarts, window=window)
        return "ended"

    # -- stopping ----------------------------------------------------------------
    def stop(self) -> bool:
        """Its stop signal to its group: ``True`` when a stop (and its grace) begins, ``False``
        when one is under way already or it had no process (it is stopped at once)."""
        if self.state == "stopping":
            return False
        self.cancel_timer()
        if self.pgid is None:
            if self.state != "stopped":
                self._to("stopped", "service stopped", status=self.last_exit)
            self.notify_stopped()
            return False
        spec = self.spec
        self.cancel_probe()
        self._to("stopping", "service stopping", signal=signals.name(spec.stop_signal), grace=spec.stop_grace)
        self.send_stop_signal()
        return True

    def send_stop_signal(self) -> None:
        self.kill(self.spec.stop_signal)
        if self.spec.stop_signal not in (signals.SIGKILL, signals.SIGCONT):
            self.kill(signals.SIGCONT)  # a stopped process must run to hear it

    def grace_over(self) -> bool:
        """The stop grace ran out: SIGKILL. ``True`` when that finished the stop."""
        self.timer = None
        if self.pgid is None:
            return False
        log.warning("service did not stop in time; killing it", service=self.name)
        self.kill(signals.SIGKILL)
        if self.pid is None:  # only the rest of its group was left: it is as good as gone
            self.stop_finished()
            return True
        return False

    def stop_finished(self) -> None:
        self.pgid = None
        self.cancel_timer()
        self._to("stopped", "service stopped", status=self.last_exit)
        self.notify_stopped()

    def halt(self) -> None:
        """pyinit is shutting down and this service has no process: it will not start."""
        self.cancel_timer()
        if self.state in ("waiting", "backoff"):
            self._to("stopped", "service stopped", status=self.last_exit)

    def wait_for_schedule(self) -> None:
        """A job between runs (or before its first)."""
        assert self.job is not None
        self._to("scheduled", "job scheduled", next_run=self.job.next_run())

    def dependency_failed(self, dependency: str, cause: str) -> None:
        """A service it depends on failed for good: it will not run (stopped first if it was running)."""
        self.cancel_timer()
        self.last_exit = f"dependency {dependency} failed"
        self._to("failed", "service dependency failed", log.WARNING, dependency=dependency, cause=cause)

    def notify_stopped(self) -> None:
        """Call (once) whoever waits for this stop: a control request's reply, a restart."""
        callbacks, self.on_stopped = self.on_stopped, []
        for callback in callbacks:
            callback()
