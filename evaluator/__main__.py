"""``python -m evaluator`` is ``deteval``."""

import sys

from .cli import main

sys.exit(main())
