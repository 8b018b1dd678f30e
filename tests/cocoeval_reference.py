"""pycocotools' ``COCOeval`` as the reference of the segm and keypoints suites: one runner
and one exact comparison for both (the bbox suite's is :func:`coco_cases.run_pycocotools`)."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

OPTIONS = frozenset(
    {"iou_thresholds", "recall_thresholds", "max_dets", "area_ranges", "use_cats", "oks_sigmas"}
)


@dataclass(frozen=True)
class FullScores:
    """pycocotools' outputs: precision and scores (T, R, K, A, M), recall (T, K, A, M),
    stats (12,) or, for keypoints, (10,)."""

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    stats: np.ndarray


def assert_same(report: Any, reference: FullScores) -> None:
    """The report's stats, precision, recall and scores equal pycocotools' exactly."""
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.recall, reference.recall, strict=True)
    np.testing.assert_array_equal(report.scores, reference.scores, strict=True)


def run_cocoeval(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    iou_type: str,
    options: Mapping[str, Any],
) -> FullScores:
    """``COCOeval(gt, loadRes(results), iou_type)`` with ``evaluate_coco``'s keyword
    ``options`` set on its params, silenced, on deep copies of the inputs (``results``
    must not be empty: ``loadRes`` crashes on it)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    unknown = set(options) - OPTIONS
    if unknown:
        raise TypeError(f"run_cocoeval: unknown options {sorted(unknown)}")
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(dict(gt))
        coco_gt.createIndex()
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(list(results))), iou_type)
        params = evaluation.params
        if "oks_sigmas" in options:
            params.kpt_oks_sigmas = np.asarray(options["oks_sigmas"], dtype=np.float64)
        if "iou_thresholds" in options:
            params.iouThrs = np.asarray(options["iou_thresholds"], dtype=np.float64)
        if "recall_thresholds" in options:
            params.recThrs = np.asarray(options["recall_thresholds"], dtype=np.float64)
        if "max_dets" in options:
            params.maxDets = list(options["max_dets"])
        if "area_ranges" in options:
            params.areaRng = [list(bounds) for bounds in options["area_ranges"].values()]
            params.areaRngLbl = list(options["area_ranges"])
        if "use_cats" in options:
            params.useCats = int(options["use_cats"])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return FullScores(
        precision=evaluation.eval["precision"],
        recall=evaluation.eval["recall"],
        scores=evaluation.eval["scores"],
        stats=np.asarray(evaluation.stats, dtype=np.float64),
    )
