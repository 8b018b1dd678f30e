"""``deteval serve`` whose worker exits at start-up, every time, as a worker that cannot
load its code or reach its broker would.

Run as ``python crashing_worker.py serve ...`` (the arguments of ``python -m deteval``):
serve then starts ``python crashing_worker.py worker ...`` as its worker, which exits
with code 3 at once.
"""

from __future__ import annotations

import sys

import service.ops.supervisor
from deteval.cli import main

EXIT_CODE = 3


class CrashingWorkerSupervisor(service.ops.supervisor.Supervisor):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        python, _, _, *worker_args = self.worker.argv  # python -m deteval worker ...
        self.worker.argv = [python, __file__, *worker_args]


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        print("crashing_worker: exiting at start-up", file=sys.stderr)
        sys.exit(EXIT_CODE)
    service.ops.supervisor.Supervisor = CrashingWorkerSupervisor  # type: ignore[misc]
    sys.exit(main(sys.argv[1:]))
