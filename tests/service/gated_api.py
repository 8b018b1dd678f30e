"""An API whose enqueue step waits at a gate, so a test can act while an upload holds
its upload slot.

Run as ``python gated_api.py api ...`` (the arguments of ``python -m deteval``, one API
process), with ``DETEVAL_TEST_GATE`` naming a directory. Each accepted upload, once
checked, writes ``reached-<n>`` there, then waits until a file ``open`` appears (at most
two minutes) before storing and enqueueing for real.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

from gate import pass_gate

import service.api.intake
from deteval.cli import main

GATE = Path(os.environ["DETEVAL_TEST_GATE"])
_enqueue = service.api.intake._enqueue
_arrivals = itertools.count(1)


def gated_enqueue(*args):  # type: ignore[no-untyped-def]
    pass_gate(GATE, f"reached-{next(_arrivals)}")
    return _enqueue(*args)


if __name__ == "__main__":  # not in the API's work-pool processes, which import this file
    service.api.intake._enqueue = gated_enqueue
    sys.exit(main(sys.argv[1:]))
