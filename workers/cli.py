"""The workers' subcommand of ``deteval``: ``worker``, one Celery worker.

``deteval.cli`` calls :func:`register`. Like every registration it imports only the
standard library at the top; Celery is imported when the command runs.
"""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``worker`` to a ``deteval`` parser."""
    worker = subparsers.add_parser("worker", help="run one Celery worker (settings: DETEVAL_*)")
    worker.add_argument("--concurrency", type=int, default=1, help="scoring processes")
    worker.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run at a lower priority: add this to the nice value (and, on Linux, use SCHED_BATCH)",
    )
    worker.set_defaults(func=_worker)


def kernel_threads(cores: int, concurrency: int) -> int:
    """Threads for the engine's kernels in each of ``concurrency`` scoring processes, so
    that together they use the ``cores`` without oversubscribing them (at least 1)."""
    return max(1, cores // max(concurrency, 1))


def _worker(args: argparse.Namespace) -> int:
    from evaluator.threads import available_cores
    from service.backend.dispatch import QUEUE
    from service.backend.procs import lower_priority
    from workers.app import app

    os.environ.setdefault(
        "DETEVAL_THREADS", str(kernel_threads(available_cores(), args.concurrency))
    )
    if args.nice:
        lower_priority(args.nice)
    app.worker_main(
        [
            "worker",
            f"--loglevel={args.loglevel}",
            f"--concurrency={args.concurrency}",
            f"--pool={args.pool}",
            "-Q",
            QUEUE,
        ]
    )
    return 0
