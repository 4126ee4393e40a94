"""Where pyinit's cgroup lives in the file system, and reading its counters.

A process's cgroup path (``/proc/self/cgroup``) is relative to the root of its
hierarchy, but what a container sees under ``/sys/fs/cgroup`` may be a subtree
(cgroup v1 without a cgroup namespace: Docker bind-mounts the container's own
directory there). ``/proc/self/mountinfo`` says which directory of the
hierarchy each mount shows, so the path is translated through it rather than
guessed. Every reader returns None when the file is missing or unreadable.
"""

import posix

from pyinit.fs import exists

UNIFIED = ""  # the cgroup v2 hierarchy's "controller" in these functions

TYPE_CHECKING = False
if TYPE_CHECKING:
    Mount = tuple[str, str, str, set[str]]  # root in the hierarchy, mount point, fstype, super options


def _memberships(pid: str) -> dict[str, str]:
    """controller -> cgroup path; cgroup v2 under UNIFIED."""
    found: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as lines:
        for line in lines:
            _id, _, rest = line.rstrip("\n").partition(":")
            controllers, _, path = rest.partition(":")
            for controller in controllers.split(",") if controllers else [UNIFIED]:
                found[controller] = path
    return found


def _mounts(pid: str) -> "list[Mount]":
    """Every cgroup mount."""
    found = []
    with open(f"/proc/{pid}/mountinfo") as lines:
        for line in lines:
            fields = line.split()
            try:
                dash = fields.index("-")
            except ValueError:
                continue
            fstype = fields[dash + 1]
            if fstype in ("cgroup", "cgroup2"):
                options = set(fields[dash + 3].split(",")) if len(fields) > dash + 3 else set()
                found.append((_unescape(fields[3]), _unescape(fields[4]), fstype, options))
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    if "\\" not in field:
        return field
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def _normal(path: str) -> str:
    """``os.path.normpath`` of an absolute path, with ``..`` stopping at ``/`` as ``abspath`` does."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def _inside(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` ("" for ``root`` itself), None when it lies outside:
    ``os.path.relpath`` for the absolute paths the kernel writes."""
    path, root = _normal(path), _normal(root)
    if root == "/":
        return path[1:]
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def _is_directory(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000  # S_ISDIR, without the stat module
    except (OSError, ValueError):
        return False


def candidates(path: str, mounts: "list[Mount]", controller: str) -> list[str]:
    """Where cgroup ``path`` of ``controller``'s hierarchy appears, through each mount that shows it."""
    found = []
    for root, point, fstype, options in mounts:
        if (fstype == "cgroup2") != (controller == UNIFIED):
            continue
        if controller != UNIFIED and controller not in options:
            continue
        relative = _inside(path, root)
        if relative is None:
            continue  # this mount shows another part of the hierarchy
        found.append(_normal(f"{point}/{relative}"))
    return found


def directory(controller: str, pid: str = "self") -> str | None:
    """The directory of ``pid``'s cgroup for ``controller`` ("memory", "pids", or
    UNIFIED for cgroup v2), or None when it is not mounted where this process can see it."""
    try:
        path = _memberships(pid).get(controller)
        mounts = _mounts(pid)
    except OSError:
        return None
    if path is None:
        return None
    return next((found for found in candidates(path, mounts, controller) if _is_directory(found)), None)


def memory_directory(pid: str = "self") -> tuple[str, int] | None:
    """(directory, cgroup version) of the memory controller: v2 when the unified
    hierarchy has it enabled, else v1."""
    unified = directory(UNIFIED, pid)
    if unified is not None and exists(f"{unified}/memory.events"):
        return unified, 2
    legacy = directory("memory", pid)
    if legacy is not None:
        return legacy, 1
    return None


def pids_directory(pid: str = "self") -> str | None:
    unified = directory(UNIFIED, pid)
    if unified is not None and exists(f"{unified}/pids.max"):
        return unified
    return directory("pids", pid)


def read_text(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return None


def read_key(path: str, key: str) -> int | None:
    """The value of ``key`` in a flat-keyed file (``memory.events``, ``memory.oom_control``)."""
    text = read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def read_limit(path: str) -> int | None:
    """A limit file's value; None for "max" (v2) or the huge v1 "unlimited", and when unreadable."""
    text = read_text(path)
    if text is None or text.strip() == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= 2**62 else value
