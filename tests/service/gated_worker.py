"""A worker whose scoring waits at a gate, so a test can act while a job is mid-run.

Run as ``python gated_worker.py worker ...`` (the arguments of ``python -m deteval``),
with ``DETEVAL_TEST_GATE`` naming a directory. Each scoring call writes
``reached-<pid>`` there, reports some progress, then waits until a file ``open``
appears (at most two minutes) before scoring for real.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gate import pass_gate

import workers.pipeline
from deteval.cli import main

GATE = Path(os.environ["DETEVAL_TEST_GATE"])
_score = workers.pipeline.score


def gated_score(gt_path, predictions_path, progress=None, **kwargs):  # type: ignore[no-untyped-def]
    if progress is not None:
        progress(0.25)
    pass_gate(GATE, f"reached-{os.getpid()}")
    return _score(gt_path, predictions_path, progress, **kwargs)


workers.pipeline.score = gated_score
sys.exit(main(sys.argv[1:]))
