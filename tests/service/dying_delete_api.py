"""An API process that dies (SIGKILL) in the middle of deleting an evaluation: after its
files are removed, before its record is.

Run as ``python dying_delete_api.py api ...`` (the arguments of ``python -m deteval``,
one API process).
"""

from __future__ import annotations

import os
import signal
import sys

import service.backend.storage
from deteval.cli import main

_remove = service.backend.storage.Storage.remove_evaluation


def remove_then_die(self, tenant, evaluation_id):  # type: ignore[no-untyped-def]
    _remove(self, tenant, evaluation_id)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":  # not in the API's work-pool processes, which import this file
    service.backend.storage.Storage.remove_evaluation = remove_then_die  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
