"""The two path helpers the start needs, on ``posix`` alone.

``os`` is not imported on the way from exec to the child running: the
interpreter started with ``-I -S`` has not loaded it, and it brings
``posixpath``, ``stat`` and ``_collections_abc`` (about 1.7 ms here, a sixth of
the interpreter's own start). What pyinit needs of it, ``posix`` has, but these.
"""

import posix


def basename(path: str) -> str:
    """``os.path.basename``: what follows the last slash."""
    return path.rpartition("/")[2]


def exists(path: str) -> bool:
    """``os.path.exists``: whether ``stat`` succeeds."""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True
