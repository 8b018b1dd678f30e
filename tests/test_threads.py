"""The kept thread pool that runs the kernels' chunks: coverage, failures, fork."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

from evaluator import threads


@pytest.fixture
def many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 1)
    monkeypatch.setenv("DETEVAL_THREADS", "3")


def _covered(n: int, alike: bool = False) -> list[tuple[int, int]]:
    """The ranges run_in_chunks hands out for n items of cost 1 (given as their number
    with ``alike``)."""
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def run(first: int, last: int) -> None:
        with lock:
            seen.append((first, last))

    threads.run_in_chunks(run, n if alike else np.ones(n, dtype=np.int64))
    return sorted(seen)


@pytest.mark.usefixtures("many_chunks")
@pytest.mark.parametrize("alike", [False, True])
def test_chunks_cover_every_item_once(alike: bool) -> None:
    for n in (0, 1, 2, 7, 100):
        chunks = _covered(n, alike)
        assert [i for first, last in chunks for i in range(first, last)] == list(range(n))
    assert len(_covered(100, alike)) > 1
    assert _covered(100, alike) == _covered(100)  # the same ranges either way


@pytest.mark.usefixtures("many_chunks")
def test_the_threads_are_kept_between_calls() -> None:
    _covered(50)
    before = {t.ident for t in threading.enumerate() if t.name.startswith("deteval")}
    _covered(50)
    after = {t.ident for t in threading.enumerate() if t.name.startswith("deteval")}
    assert before and after == before


@pytest.mark.usefixtures("many_chunks")
def test_on_this_thread_the_calling_thread_runs_all_items_itself() -> None:
    """Work beside the pool's (the confusion matrix and VOC beside TIDE) does not queue
    behind it: one range, on the calling thread; the pool again after, also nested."""
    ran_on: list[int] = []

    def run(first: int, last: int) -> None:
        ran_on.append(threading.get_ident())

    with threads.on_this_thread():
        assert _covered(100) == [(0, 100)]
        with threads.on_this_thread():
            assert _covered(7) == [(0, 7)]
        assert _covered(100) == [(0, 100)]
        threads.run_in_chunks(run, np.ones(50, dtype=np.int64))
    assert ran_on == [threading.get_ident()]
    assert len(_covered(100)) > 1
    other: list[list[tuple[int, int]]] = []
    with threads.on_this_thread():  # only the thread that asked
        worker = threading.Thread(target=lambda: other.append(_covered(100)))
        worker.start()
        worker.join()
    assert len(other[0]) > 1


@pytest.mark.usefixtures("many_chunks")
def test_a_failing_chunk_is_raised_once_every_chunk_has_ended() -> None:
    ended: list[int] = []

    def run(first: int, last: int) -> None:
        if first == 0:
            raise RuntimeError("chunk 0 failed")
        time.sleep(0.05)
        ended.append(first)

    with pytest.raises(RuntimeError, match="chunk 0 failed"):
        threads.run_in_chunks(run, np.ones(6, dtype=np.int64))
    assert len(ended) == len(_covered(6)) - 1


def _chunks_in_child(queue: multiprocessing.Queue[int]) -> None:
    queue.put(sum(last - first for first, last in _covered(40)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
@pytest.mark.usefixtures("many_chunks")
def test_a_forked_child_starts_its_own_threads() -> None:
    # As a prefork worker pool does: the parent has run chunks, so its pool exists, but
    # its threads are not in the child.
    _covered(40)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_chunks_in_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0, "the child's chunks never ran"
    assert queue.get(timeout=5) == 40


def test_work_beside_runs_on_its_own_thread_with_its_kernels_there() -> None:
    """beside() returns at once; the work runs on another thread, whose run_in_chunks
    calls run there in one range (the pool is left to the caller), and its value or its
    error comes back through the future."""
    started = threading.Event()
    go_on = threading.Event()

    def work() -> tuple[int, list[tuple[int, int]]]:
        started.set()
        go_on.wait(5)
        ranges: list[tuple[int, int]] = []
        threads.run_in_chunks(lambda a, b: ranges.append((a, b)), 1 << 20)
        return threading.get_ident(), ranges

    future = threads.beside(work)
    assert started.wait(5) and not future.done()  # the caller goes on meanwhile
    go_on.set()
    ident, ranges = future.result(5)
    assert ident != threading.get_ident() and ranges == [(0, 1 << 20)]

    def fails() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        threads.beside(fails).result(5)
