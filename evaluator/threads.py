"""Work spread over this machine's cores: the threads the compiled kernels run on.

Every kernel of the package (matching, accumulation, masks) releases the GIL, so plain
Python threads run chunks of it in parallel; each chunk writes its own part of the
outputs. The threads are started once per process and kept: starting a thread waits
for the GIL, which another Python thread may hold for milliseconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["available_cores", "beside", "on_this_thread", "run_in_chunks", "threads"]

# Below this much work in a chunk, a thread costs more than it saves.
_WORK_PER_CHUNK = 1 << 16

# The kept pools, by number of threads. A chunk never submits work of its own, so
# callers on several threads can share them without waiting on each other's chunks.
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
# Threads whose kernels run their chunks themselves (see on_this_thread).
_alone = threading.local()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The kept pool of ``workers`` threads (made on first use)."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="deteval")
        return pool


def _forget_pools() -> None:
    """In a forked child the pools' threads do not exist: start afresh."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS has one (Linux),
    else the machine's count; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


def threads() -> int:
    """Threads the kernels use: ``DETEVAL_THREADS`` if set (a positive integer), else
    :func:`available_cores`."""
    configured = os.environ.get("DETEVAL_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return available_cores()


@contextmanager
def on_this_thread() -> Iterator[None]:
    """Run the kernels called in the body on the calling thread alone, not on the pool.

    For work done beside other work that has the pool: its chunks would otherwise wait
    in the pool's queue behind the other work's, and its time would be the other's too.
    """
    before = getattr(_alone, "active", False)
    _alone.active = True
    try:
        yield
    finally:
        _alone.active = before


T = TypeVar("T")


def beside(work: Callable[[], T]) -> Future[T]:
    """Start ``work`` on a thread of its own, its kernels on that thread alone
    (:func:`on_this_thread`), while the caller goes on: for work the caller needs later
    and would otherwise do alone, on one core."""

    def alone() -> T:
        with on_this_thread():
            return work()

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deteval-beside")
    try:
        return executor.submit(alone)
    finally:
        executor.shutdown(wait=False)  # the thread ends with the work


def run_in_chunks(run: Callable[[int, int], None], work: NDArray[np.int64] | int) -> None:
    """Call ``run(first, last)`` on consecutive ranges of items that cover them all.

    Parameters
    ----------
    run : callable
        Processes items ``first`` to ``last - 1``; calls may run at the same time.
    work : ndarray of shape (n,), dtype int64, or int
        Cost of each item, or the number of items when they cost the same; the ranges get
        about the same total, at most four per core.
    """
    n = work if isinstance(work, int) else work.shape[0]
    if n == 0:
        return
    if getattr(_alone, "active", False):
        run(0, n)
        return
    workers = threads()
    if isinstance(work, int):
        n_chunks = min(max(n // _WORK_PER_CHUNK, 1), 4 * workers, n)
        # Where the cumulative cost 1, 2, ..., n first reaches each even share.
        cuts = np.maximum(np.ceil(np.linspace(0, n, n_chunks + 1)[1:-1]) - 1, 0).astype(np.int64)
    else:
        cumulative = np.cumsum(work)
        total = int(cumulative[-1])
        n_chunks = min(max(total // _WORK_PER_CHUNK, 1), 4 * workers, n)
        cuts = np.searchsorted(cumulative, np.linspace(0, total, n_chunks + 1)[1:-1])
    bounds = np.unique(np.r_[0, cuts, n]).tolist()
    chunks = list(zip(bounds[:-1], bounds[1:]))
    if len(chunks) == 1 or workers == 1:
        for first, last in chunks:
            run(first, last)
        return
    pool = _pool(workers)
    submitted = [pool.submit(run, first, last) for first, last in chunks]
    wait(submitted)  # every chunk ends before a failure is raised
    for done in submitted:
        done.result()
