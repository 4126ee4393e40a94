"""Structured logging that costs nothing until an event is emitted.

structlog takes tens of milliseconds to import, and pyinit is quiet by
default, so the import happens the first time an event passes the level
filter, never on the path from exec to the child running.

Every line goes to stderr through :mod:`pyinit.sink`, which never blocks: a
stalled log reader costs dropped lines (counted, and reported once the stream
drains), never a PID 1 stuck in a write. The sink, too, is made with the first
event, and the loop learns about it only then.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ERROR = 40
WARNING = 30
INFO = 20
DEBUG = 10

_threshold = WARNING
_format = "console"
_logger: "Any" = None
_loop: "Any" = None  # the loop that flushes the sink, once there is one
_sink: "Any" = None


class _SinkFile:
    """What structlog's PrintLogger writes to (``print`` writes the line, then its newline):
    whole lines go on to stderr's sink."""

    def __init__(self) -> None:
        self.partial = ""

    def write(self, text: str) -> int:
        text = self.partial + text
        end = text.rfind("\n") + 1
        self.partial = text[end:]
        if end:
            _write(text[:end])
        return len(text)

    def flush(self) -> None:
        pass


def _write(text: str) -> None:
    global _sink
    if _sink is None:
        from pyinit import sink

        _sink = sink.for_fd(2)
        sink.json_markers = _format == "json"
        if _loop is not None:
            sink.attach(_loop)
    _sink.write(text.encode(errors="replace"), "pyinit")


def use_loop(loop: "Any") -> None:
    """Called by each new loop: an assignment, until the first event makes a sink."""
    global _loop
    _loop = loop
    if _sink is not None:
        from pyinit import sink

        sink.attach(loop)


def dropped_lines() -> int:
    """pyinit's own log lines dropped so far because stderr was blocked."""
    if _sink is None:
        return 0  # nothing was ever written
    from pyinit import sink

    return sink.dropped("pyinit")


def forget_loop(loop: "Any") -> None:
    """A loop closes: nothing may wait through it any more."""
    if _loop is loop:
        use_loop(None)


def finish() -> None:
    """pyinit exits: its last lines (and its relays') get a bounded time to be read."""
    if _sink is not None or "pyinit.sink" in sys.modules:
        from pyinit import sink

        sink.drain_all()


def configure(verbosity: int, fmt: str) -> None:
    """``verbosity`` 0 shows warnings and errors, 1 lifecycle events, 2 debug."""
    global _threshold, _format, _logger
    _threshold = {0: WARNING, 1: INFO}.get(verbosity, DEBUG if verbosity > 1 else ERROR)
    _format = fmt
    _logger = None


def enabled(level: int) -> bool:
    return level >= _threshold


def _build() -> "Any":
    import structlog

    renderer: Any
    if _format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        try:  # structlog 25.5 renamed the argument; pyinit runs with older ones too
            renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
        except TypeError:
            renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event=0)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(_SinkFile()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger("pyinit").bind(logger="pyinit")


def emit(level: int, event: str, **fields: "Any") -> None:
    global _logger
    if level < _threshold:
        return
    try:
        if _logger is None:
            _logger = _build()
        method = {ERROR: "error", WARNING: "warning", INFO: "info"}.get(level, "debug")
        getattr(_logger, method)(event, **fields)
    except Exception as exc:  # logging must never take PID 1 down
        try:  # the sink itself may be the failure
            _write(f"pyinit: {event} {fields} (log failure: {exc!r})\n")
        except Exception:
            pass


def error(event: str, **fields: "Any") -> None:
    emit(ERROR, event, **fields)


def warning(event: str, **fields: "Any") -> None:
    emit(WARNING, event, **fields)


def info(event: str, **fields: "Any") -> None:
    emit(INFO, event, **fields)


def debug(event: str, **fields: "Any") -> None:
    emit(DEBUG, event, **fields)
