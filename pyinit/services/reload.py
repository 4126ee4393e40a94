"""``ctl reload``: what differs between the running services and a freshly loaded file.

Pure: two sets of (instance-expanded) specs in, four lists of names out. A
service is unchanged when every setting compares equal, so it is not touched
(same process, same pid); anything else about it means a restart.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    ServiceSpec = Any


class Diff:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.removed: list[str] = []
        self.changed: list[str] = []
        self.unchanged: list[str] = []

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }


def fingerprint(value: Any) -> Any:
    """A comparable form of a setting: objects by their attributes, recursively."""
    if isinstance(value, dict):
        return tuple(sorted((str(key), fingerprint(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(fingerprint(item) for item in value)
    if hasattr(value, "__dict__"):
        return (type(value).__name__, fingerprint(vars(value)))
    return value


def diff(old: dict[str, ServiceSpec], new: dict[str, ServiceSpec]) -> Diff:
    result = Diff()
    for name, spec in new.items():
        if name not in old:
            result.added.append(name)
        elif fingerprint(old[name]) == fingerprint(spec):
            result.unchanged.append(name)
        else:
            result.changed.append(name)
    result.removed = [name for name in old if name not in new]
    return result
