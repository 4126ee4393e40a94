"""What the termination message says of a services run (pyinit.summary writes it)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyinit.services.service import Service
    from pyinit.summary import Report


def report(code: int, services: list[Service], critical: Service | None, reason: str) -> Report:
    """The critical service's end, else why everything stopped (with the failed services);
    the last stderr lines of the one to blame, when pyinit relayed its output."""
    from pyinit.summary import Report

    failed = [s for s in services if s.state == "failed"]
    blamed = critical or (failed[0] if failed else None)
    tail = [e.line for e in blamed.ring.tail() if e.stream == "stderr"] if blamed and blamed.ring else []
    killed = [f"service {s.name}" for s in services if s.sigkilled]  # its stop_grace ran out
    if critical is not None:
        cause = f"critical service {critical.name} ended ({critical.last_exit})"
        return Report(code, cause, critical.oom_killed, killed, tail, critical.name)
    cause = reason or "the services have ended"
    if failed:
        cause += "; failed: " + ", ".join(f"{s.name} ({s.last_exit})" for s in failed)
    return Report(code, cause, None, killed, tail, blamed.name if blamed else "")
