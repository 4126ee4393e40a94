"""Why pyinit exited, in at most 4096 bytes: the Kubernetes termination message.

A kubelet reads the container's ``terminationMessagePath`` (``/dev/termination-log``,
mounted in every container) when it ends and shows it in ``kubectl describe pod``
and the pod's status; it keeps at most 4096 bytes. So the summary is plain text,
the most important line first, and whatever does not fit is cut from the end,
except the output tail, of which the newest lines are kept.

The same text is logged as the ``exit summary`` event (info level: the OOM verdict
itself is a warning in the exit event of whoever died).
"""

from __future__ import annotations

import os

from pyinit import log
from pyinit.settings import DEFAULT_TERMINATION_LOG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pyinit.teardown import Teardown

LIMIT = 4096
TAIL_HEADING = "last stderr lines:"


class Report:
    """What ended the run. ``cause`` is one sentence ("the main child (pid 7: app)
    was killed by SIGKILL"); ``oom_killed`` None when the counter could not be read."""

    def __init__(
        self,
        code: int,
        cause: str,
        oom_killed: bool | None = None,
        killed: Sequence[str] = (),
        tail: Sequence[str] = (),
        tail_of: str = "",
    ) -> None:
        self.code = code
        self.cause = cause
        self.oom_killed = oom_killed
        self.killed = list(killed)
        self.tail = list(tail)
        self.tail_of = tail_of

    def lines(self) -> list[str]:
        """The fixed part, most important first (the tail is added by :func:`text`)."""
        lines = [f"pyinit exited with status {self.code}: {self.cause}"]
        if self.oom_killed:
            lines.append("oom_killed=true: the kernel's OOM killer ended it (memory cgroup limit reached)")
        if self.killed:
            lines.append(f"SIGKILLed after the grace period: {', '.join(self.killed)}")
        return lines

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"exit_code": self.code, "cause": self.cause}
        if self.oom_killed is not None:
            fields["oom_killed"] = self.oom_killed
        if self.killed:
            fields["sigkilled"] = self.killed
        return fields


def child_cause(pid: int, command: str, status: int | None, stop_signal: int = 0) -> str:
    """The single child's part: "the main child (pid 7: app) was killed by SIGKILL"."""
    whom = f"the main child (pid {pid}: {os.path.basename(command)})"
    if status is None:
        cause = f"{whom} has not ended"
    elif os.WIFSIGNALED(status):
        from pyinit import signals

        cause = f"{whom} was killed by {signals.name(os.WTERMSIG(status))}"
    else:
        cause = f"{whom} exited with status {os.WEXITSTATUS(status)}"
    if stop_signal:
        from pyinit import signals

        cause += f", after a stop request ({signals.name(stop_signal)})"
    return cause


def text(report: Report, limit: int = LIMIT) -> str:
    """The message, at most ``limit`` bytes of UTF-8."""
    out = b""
    for line in report.lines():
        out = _append(out, line, limit)
    if report.tail:
        heading = f"last stderr lines of {report.tail_of}:" if report.tail_of else TAIL_HEADING
        room = limit - len(out) - len(heading.encode()) - 1
        kept: list[bytes] = []
        used = 0
        for line in reversed(report.tail):  # newest first: they are the likeliest culprit
            encoded = ("  " + line).encode(errors="replace") + b"\n"
            if used + len(encoded) > room:
                break
            kept.append(encoded)
            used += len(encoded)
        if kept:
            out += heading.encode() + b"\n" + b"".join(reversed(kept))
    return out.decode(errors="ignore")


def _append(out: bytes, line: str, limit: int) -> bytes:
    encoded = line.encode(errors="replace") + b"\n"
    room = limit - len(out)
    if len(encoded) <= room:
        return out + encoded
    if room <= 1:
        return out
    # cut inside the line, never inside a character
    return out + encoded[: room - 1].decode(errors="ignore").encode() + b"\n"


def target(setting: str | None) -> str | None:
    """Where the message goes: ``--termination-log`` / ``PYINIT_TERMINATION_LOG``
    (empty: nowhere), else ``/dev/termination-log`` when it exists and is writable
    (a kubelet mounts it in every container; elsewhere nothing is written)."""
    if setting is not None:
        return setting or None
    if os.path.isfile(DEFAULT_TERMINATION_LOG) and os.access(DEFAULT_TERMINATION_LOG, os.W_OK):
        return DEFAULT_TERMINATION_LOG
    return None


def write(path: str, message: str) -> None:
    """One non-blocking write; a failure is logged, never raised (pyinit is on its way out)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, message.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("cannot write the termination message", path=path, error=exc.strerror or str(exc))


def publish(make: Callable[[], Report], teardown: Teardown | None, setting: str | None) -> None:
    """On the way out: log the ``exit summary`` event and write the termination message.
    ``make()`` builds the mode's report; the teardown adds whom it had to SIGKILL.
    Nothing here may change pyinit's exit status: a failure is logged and that is all."""
    try:
        report = make()
        if teardown is not None:
            report.killed += [f"pid {m.pid} ({m.command})" for m in teardown.killed]
        message = text(report)
        log.info("exit summary", summary=message.rstrip("\n"), **report.fields())
        path = target(setting)
        if path is not None:
            write(path, message)
    except Exception as exc:
        log.error("cannot summarize the exit", error=repr(exc))
