"""A worker whose scoring always fails with a transient error, as a data volume that
keeps dropping out would.

Run as ``python flaky_worker.py worker ...`` (the arguments of ``python -m deteval``).
"""

from __future__ import annotations

import sys

import workers.pipeline
from deteval.cli import main


def flaky_score(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise ConnectionError("the data volume dropped out")


workers.pipeline.score = flaky_score
sys.exit(main(sys.argv[1:]))
