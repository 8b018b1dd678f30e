"""A pool of processes for the API's CPU-bound work, off the event loop.

Checking an upload, rendering a report page or comparing two reports is CPU-bound. Done
in the API process (even in a thread) it would hold the GIL in long stretches, and every
socket call of the event loop would queue behind it: status polls would wait on uploads.
Here it runs in separate processes, started at a lower scheduling priority
(:func:`service.procs.lower_priority`), so that on a busy machine the kernel runs the
API's event loop first when a request arrives.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from service.procs import lower_priority

T = TypeVar("T")

#: Added to the pool processes' nice value: their work is throughput, polls are latency.
POOL_NICENESS = 5


def _start(niceness: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    lower_priority(niceness)
    if initializer is not None:
        initializer(*initargs)


class WorkPool:
    """Processes that run plain functions for the API process.

    Parameters
    ----------
    processes : int
        Pool size.
    initializer : callable, optional
        Called in each process once, with ``initargs``.
    initargs : tuple
    niceness : int
        Added to each process' nice value (lower priority than the API).
    """

    def __init__(
        self,
        processes: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        niceness: int = POOL_NICENESS,
    ) -> None:
        if processes < 1:
            raise ValueError(f"a work pool needs at least one process, got {processes}")
        self.processes = processes
        # "spawn": forking a process that runs threads (the event loop's pool) is unsafe.
        self.executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(niceness, initializer, initargs),
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a pool process; its exception is raised here."""
        result: T = await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        return result

    def warm_up(self) -> None:
        """Start the processes now rather than on the first request that needs one."""
        for future in [self.executor.submit(os.getpid) for _ in range(self.processes)]:
            future.result(timeout=120)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
