"""Durations as people write them (``5``, ``2.5``, ``500ms``, ``5s``, ``2m``): one rule for the
command line and the services file, so neither imports the other's parser."""

from __future__ import annotations


def parse_duration(text: str) -> float:
    """Seconds from ``5``, ``2.5``, ``500ms``, ``5s`` or ``2m``."""
    spelled = text.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if spelled.endswith(suffix):
            spelled, factor = spelled[: -len(suffix)], scale
            break
    else:
        factor = 1.0
    try:
        value = float(spelled) * factor
    except ValueError:
        raise ValueError(f"invalid duration: {text!r} (use seconds, or 500ms, 5s, 2m)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"invalid duration: {text!r}")
    return value
