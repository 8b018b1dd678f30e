"""``python -m service serve|api|worker|submit``."""

import sys

from service.cli import main

sys.exit(main())
