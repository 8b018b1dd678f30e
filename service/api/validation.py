"""Upload validation, run in the API's work pool (:mod:`service.api.workpool`).

Checking an upload (parsing it and validating every box and id) is CPU-bound, so it runs
in the pool's processes, which also keep the loaded ground truth of recently used
datasets.

Results cross the process boundary as plain dicts (an ``InputError`` does not pickle);
:class:`Validator` turns a rejection back into :class:`~service.api.errors.InvalidInput`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from evaluator import GroundTruth, InputError, load_ground_truth, load_predictions
from evaluator.input.loading import IouType
from service.api.errors import InvalidInput
from service.api.workpool import WorkPool

# -- inside the pool processes -------------------------------------------------------------
_datasets: OrderedDict[tuple[str, str], GroundTruth] = OrderedDict()  # by (path, iou_type)
_cache_size = 4


def init_process(cache_size: int) -> None:
    """Pool initializer: how many loaded datasets each process keeps."""
    global _cache_size
    _cache_size = cache_size


def _ground_truth(path: str, cache: bool, iou_type: IouType) -> GroundTruth:
    if not cache:
        return load_ground_truth(path, iou_type=iou_type)
    key = (path, iou_type)
    if key in _datasets:  # datasets are immutable once registered
        _datasets.move_to_end(key)
        return _datasets[key]
    gt = load_ground_truth(path, iou_type=iou_type)
    _datasets[key] = gt
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


def check_predictions(
    predictions: str, ground_truth: str, cache_gt: bool, iou_type: IouType = "bbox"
) -> dict[str, Any]:
    """Validate predictions against a ground truth: their warnings, or a rejection.

    Unknown image *and* category ids are errors here (``unknown_categories="error"``):
    an upload that names classes the dataset lacks is almost always a mapping mistake.
    The ground truth is read for ``iou_type``: a dataset without the masks or keypoints
    an evaluation compares is rejected where the first one is missing.
    """
    try:
        gt = _ground_truth(ground_truth, cache_gt, iou_type)
    except InputError as exc:
        return _rejection("ground_truth", exc)
    try:
        preds = load_predictions(predictions, gt, "error", iou_type=iou_type)
    except InputError as exc:
        return _rejection("predictions", exc)
    return {"rejected": False, "warnings": list(preds.warnings)}


# -- in the API process --------------------------------------------------------------------
def _raise_if_rejected(result: dict[str, Any]) -> dict[str, Any]:
    if result["rejected"]:
        raise InvalidInput(result["field"], result["location"], result["problem"])
    return result


class Validator:
    """Validates uploads in a work pool whose processes ran :func:`init_process`.

    Parameters
    ----------
    pool : WorkPool
    """

    def __init__(self, pool: WorkPool) -> None:
        self.pool = pool

    async def _run(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        return _raise_if_rejected(await self.pool.run(fn, *args))

    async def ground_truth(self, path: os.PathLike[str]) -> dict[str, Any]:
        """Counts and warnings of a ground-truth file (422 if invalid)."""
        return await self._run(summarize_ground_truth, os.fspath(path))

    async def predictions(
        self,
        predictions: os.PathLike[str],
        ground_truth: os.PathLike[str],
        cache_gt: bool,
        iou_type: IouType = "bbox",
    ) -> list[str]:
        """Warnings about predictions checked against a ground truth (422 if invalid).

        ``cache_gt`` keeps the loaded ground truth for the next call (registered
        datasets only: inline uploads are used once).
        """
        result = await self._run(
            check_predictions,
            os.fspath(predictions),
            os.fspath(ground_truth),
            cache_gt,
            iou_type,
        )
        warnings: list[str] = result["warnings"]
        return warnings
