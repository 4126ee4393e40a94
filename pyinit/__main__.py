"""``python -m pyinit``: the same as the ``pyinit`` command."""

from pyinit.entry import run

run()
