"""``python -m evaluator`` is ``deteval``."""

import sys

from evaluator.cli.commands import main

sys.exit(main())
