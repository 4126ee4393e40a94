"""Structured logging that costs nothing until an event is emitted.

structlog takes tens of milliseconds to import, and pyinit is quiet by
default, so the import happens the first time an event passes the level
filter, never on the path from exec to the child running.
"""

from __future__ import annotations

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
_logger: Any = None


def configure(verbosity: int, fmt: str) -> None:
    """``verbosity`` 0 shows warnings and errors, 1 lifecycle events, 2 debug."""
    global _threshold, _format, _logger
    _threshold = {0: WARNING, 1: INFO}.get(verbosity, DEBUG if verbosity > 1 else ERROR)
    _format = fmt
    _logger = None


def enabled(level: int) -> bool:
    return level >= _threshold


def _build() -> Any:
    import structlog

    renderer: Any
    if _format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event=0)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger("pyinit").bind(logger="pyinit")


def emit(level: int, event: str, **fields: Any) -> None:
    global _logger
    if level < _threshold:
        return
    try:
        if _logger is None:
            _logger = _build()
        method = {ERROR: "error", WARNING: "warning", INFO: "info"}.get(level, "debug")
        getattr(_logger, method)(event, **fields)
    except Exception as exc:  # logging must never take PID 1 down
        try:  # stderr itself may be the failure: a pipe whose reader died with our parent
            sys.stderr.write(f"pyinit: {event} {fields} (log failure: {exc!r})\n")
        except Exception:
            pass


def error(event: str, **fields: Any) -> None:
    emit(ERROR, event, **fields)


def warning(event: str, **fields: Any) -> None:
    emit(WARNING, event, **fields)


def info(event: str, **fields: Any) -> None:
    emit(INFO, event, **fields)


def debug(event: str, **fields: Any) -> None:
    emit(DEBUG, event, **fields)
