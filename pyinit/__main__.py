"""``python -m pyinit``: the same as the ``pyinit`` command."""

import sys

from pyinit.cli import main

sys.exit(main())
