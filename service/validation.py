"""Upload validation in a pool of processes, off the API's event loop.

Checking an upload (parsing it and validating every box and id) is CPU-bound. In the
API process it would hold the GIL in long stretches, and every socket call of the event
loop would then queue behind it: status polls would wait on uploads. Here it runs in
separate processes, which also keep the loaded ground truth of recently used datasets.

Results cross the process boundary as plain dicts (an ``InputError`` does not pickle);
:class:`Validator` turns a rejection back into :class:`~service.errors.InvalidInput`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from evaluator import GroundTruth, InputError, load_ground_truth, load_predictions
from service.errors import InvalidInput

# -- inside the pool processes -------------------------------------------------------------
_datasets: OrderedDict[str, GroundTruth] = OrderedDict()
_cache_size = 4


def _init(cache_size: int) -> None:
    global _cache_size
    _cache_size = cache_size


def _ground_truth(path: str, cache: bool) -> GroundTruth:
    if not cache:
        return load_ground_truth(path)
    if path in _datasets:  # datasets are immutable once registered
        _datasets.move_to_end(path)
        return _datasets[path]
    gt = load_ground_truth(path)
    _datasets[path] = gt
    while len(_datasets) > _cache_size:
        _datasets.popitem(last=False)
    return gt


def _rejection(field: str, exc: InputError) -> dict[str, Any]:
    return {"rejected": True, "field": field, "location": exc.location, "problem": exc.problem}


def summarize_ground_truth(path: str) -> dict[str, Any]:
    """Load a ground-truth file: its counts and warnings, or a rejection."""
    try:
        gt = load_ground_truth(path)
    except InputError as exc:
        return _rejection("ground_truth", exc)
    return {
        "rejected": False,
        "n_images": int(gt.image_ids.shape[0]),
        "n_annotations": gt.n_annotations,
        "n_categories": int(gt.category_ids.shape[0]),
        "warnings": list(gt.warnings),
    }


def check_predictions(predictions: str, ground_truth: str, cache_gt: bool) -> dict[str, Any]:
    """Validate predictions against a ground truth: their warnings, or a rejection.

    Unknown image *and* category ids are errors here (``unknown_categories="error"``):
    an upload that names classes the dataset lacks is almost always a mapping mistake.
    """
    try:
        gt = _ground_truth(ground_truth, cache_gt)
    except InputError as exc:
        return _rejection("ground_truth", exc)
    try:
        preds = load_predictions(predictions, gt, unknown_categories="error")
    except InputError as exc:
        return _rejection("predictions", exc)
    return {"rejected": False, "warnings": list(preds.warnings)}


# -- in the API process --------------------------------------------------------------------
def _raise_if_rejected(result: dict[str, Any]) -> dict[str, Any]:
    if result["rejected"]:
        raise InvalidInput(result["field"], result["location"], result["problem"])
    return result


class Validator:
    """A pool of validation processes for one API process.

    Parameters
    ----------
    processes : int, optional
        Pool size; the CPU count by default.
    cache_size : int
        Loaded datasets each process keeps.
    """

    def __init__(self, processes: int | None = None, cache_size: int = 4) -> None:
        self.processes = processes or os.cpu_count() or 2
        # "spawn": forking a process that runs threads (the event loop's pool) is unsafe.
        self.pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(cache_size,),
        )

    async def _run(self, fn: Any, *args: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(
            self.pool, fn, *args
        )
        return _raise_if_rejected(result)

    async def ground_truth(self, path: os.PathLike[str]) -> dict[str, Any]:
        """Counts and warnings of a ground-truth file (422 if invalid)."""
        return await self._run(summarize_ground_truth, os.fspath(path))

    async def predictions(
        self, predictions: os.PathLike[str], ground_truth: os.PathLike[str], cache_gt: bool
    ) -> list[str]:
        """Warnings about predictions checked against a ground truth (422 if invalid).

        ``cache_gt`` keeps the loaded ground truth for the next call (registered
        datasets only: inline uploads are used once).
        """
        result = await self._run(
            check_predictions, os.fspath(predictions), os.fspath(ground_truth), cache_gt
        )
        warnings: list[str] = result["warnings"]
        return warnings

    def warm_up(self) -> None:
        """Start the processes now rather than on the first upload."""
        for future in [self.pool.submit(os.getpid) for _ in range(self.processes)]:
            future.result(timeout=120)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
