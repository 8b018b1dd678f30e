"""An API whose work-pool process dies, as under the OOM killer, when it checks a
ground truth that contains ``kill-the-pool``; other uploads are checked as usual.

Run as ``python pool_killing_api.py api ...`` (the arguments of ``python -m deteval``,
one API process).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import service.api.validation
from deteval.cli import main

POISON = b"kill-the-pool"
_summarize = service.api.validation.summarize_ground_truth


def summarize_or_die(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        if POISON in f.read():
            os.kill(os.getpid(), signal.SIGKILL)
    return _summarize(path)


if __name__ == "__main__":  # not in the API's work-pool processes, which import this file
    service.api.validation.summarize_ground_truth = summarize_or_die
    sys.exit(main(sys.argv[1:]))
