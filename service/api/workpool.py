"""A pool of processes for the API's CPU-bound work, off the event loop.

Checking an upload, rendering a report page or comparing two reports is CPU-bound. Done
in the API process (even in a thread) it would hold the GIL in long stretches, and every
socket call of the event loop would queue behind it: status polls would wait on uploads.
Here it runs in separate processes, started at a lower scheduling priority
(:func:`service.backend.procs.lower_priority`), so that on a busy machine the kernel runs the
API's event loop first when a request arrives. They stop with the API process
(:func:`service.backend.procs.die_with_parent`).

A pool process can die (the kernel's OOM killer picks the biggest process: one loading
a huge upload). A ``ProcessPoolExecutor`` is then broken for good; :class:`WorkPool`
replaces it with a new one and runs the lost work once more (it is idempotent:
validation and rendering only read files). Work that kills the pool twice is answered
503 (:class:`~service.api.errors.WorkPoolLost`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from service.api.errors import WorkPoolLost
from service.backend.procs import die_with_parent, lower_priority

T = TypeVar("T")

#: Added to the pool processes' nice value: their work is throughput, polls are latency.
POOL_NICENESS = 5

log = logging.getLogger(__name__)


def _start(niceness: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with_parent()
    lower_priority(niceness)
    if initializer is not None:
        initializer(*initargs)


@dataclass(frozen=True)
class PoolHealth:
    """What ``/v1/health`` shows of a work pool.

    Attributes
    ----------
    ok : bool
        False after work was lost twice in a row (the processes keep dying), until a
        run succeeds again.
    processes : int
        Pool size.
    rebuilds : int
        Times the pool was replaced after one of its processes died.
    """

    ok: bool
    processes: int
    rebuilds: int


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
        self._initargs = (niceness, initializer, initargs)
        self.executor = self._new_executor()
        self.rebuilds = 0
        self.lost_twice = False
        # health() reads from a thread while run() replaces the executor on the loop.
        self._lock = threading.Lock()

    def _new_executor(self) -> ProcessPoolExecutor:
        # "spawn": forking a process that runs threads (the event loop's pool) is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=self._initargs,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        # Every run on a broken pool fails: only the first replaces it.
        with self._lock:
            if self.executor is not broken:
                return
            # It failed its pending work already; cancelling would raise CancelledError
            # in the requests waiting on it instead of BrokenProcessPool.
            broken.shutdown(wait=False)
            self.executor = self._new_executor()
            self.rebuilds += 1
        log.warning("a work-pool process died; replaced the pool (rebuild %d)", self.rebuilds)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a pool process; its exception is raised here.

        Call it on the event loop: a replacement pool starts its processes from the
        calling thread, and they stop when that thread ends (parent-death signal).

        Raises
        ------
        WorkPoolLost
            The pool broke under this work twice (it was replaced each time).
        """
        loop = asyncio.get_running_loop()
        broken: BrokenProcessPool | None = None
        for _ in range(2):
            executor = self.executor
            try:
                result: T = await loop.run_in_executor(executor, fn, *args)
            except BrokenProcessPool as exc:
                broken = exc
                self._replace(executor)
                continue
            self.lost_twice = False
            return result
        self.lost_twice = True
        raise WorkPoolLost(
            f"a process of the API's work pool died twice running {fn.__name__} "
            "(out of memory?); the request had no effect, retry later"
        ) from broken

    def health(self) -> PoolHealth:
        """Whether the pool takes work, its size and how often it was replaced."""
        with self._lock:
            return PoolHealth(
                ok=not self.lost_twice, processes=self.processes, rebuilds=self.rebuilds
            )

    def warm_up(self) -> None:
        """Start the processes now rather than on the first request that needs one.

        A pool that breaks meanwhile is replaced once, like in :meth:`run`.
        """
        for attempt in range(2):
            executor = self.executor
            try:
                for future in [executor.submit(os.getpid) for _ in range(self.processes)]:
                    future.result(timeout=120)
            except BrokenProcessPool:
                if attempt:
                    raise
                self._replace(executor)
            else:
                return

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
