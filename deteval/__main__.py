"""``python -m deteval`` is ``deteval``."""

import sys

from deteval.cli import main

sys.exit(main())
