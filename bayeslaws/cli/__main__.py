"""``python -m bayeslaws.cli ...``: the same as the ``bayeslaws`` program."""

import sys

from . import main

sys.exit(main())
