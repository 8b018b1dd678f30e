"""Accumulation: precision at fixed recall levels, and recall, per class.

Each class's detections are already in pycocotools' accumulation order (see
:class:`evaluator.metrics.matching.Matching`); the compiled kernel turns their true /
false positive flags into the ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M)
arrays of ``COCOeval.accumulate()``, with the same floating-point operations in the same
order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.greedy import IGNORED, TRUE_POSITIVE
from evaluator.metrics.matching import Matching
from evaluator.metrics.parallel import kernels, run_in_chunks
from evaluator.metrics.params import CocoParams


@dataclass(frozen=True, eq=False)
class Accumulated:
    """``COCOeval.eval`` arrays; -1 marks a class with no ground truth in that setting.

    Attributes
    ----------
    precision : ndarray of shape (T, R, K, A, M), dtype float64
        Interpolated precision at each recall threshold.
    recall : ndarray of shape (T, K, A, M), dtype float64
        Recall reached with all kept detections.
    scores : ndarray of shape (T, R, K, A, M), dtype float64
        Score of the detection at which each recall threshold is reached, 0 if never.
    """

    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    scores: NDArray[np.float64]


def accumulate(matching: Matching, params: CocoParams) -> Accumulated:
    """Precision/recall arrays identical to ``COCOeval.accumulate()``.

    The compiled kernel (``_kernels.accumulate``) walks each class's detections in
    accumulation order with pycocotools' operations: running true- and false-positive
    counts as doubles, ``rc = tp / n_positive``, ``pr = tp / (fp + tp + eps)``, the
    precision envelope, and the first position reaching each recall threshold. Classes
    are spread over the cores.
    """
    return _accumulate_outcome(
        matching.det_class,
        matching.det_rank,
        matching.det_score,
        matching.outcome,
        matching.n_positive,
        params,
        None,
    )


def accumulate_ranked(
    det_class: NDArray[np.int64],
    det_rank: NDArray[np.int64],
    det_score: NDArray[np.float64],
    true_positive: NDArray[np.bool_],
    ignored: NDArray[np.bool_],
    n_positive: NDArray[np.int64],
    params: CocoParams,
    counted: NDArray[np.bool_] | None = None,
) -> Accumulated:
    """:func:`accumulate` on the only columns of a :class:`Matching` it reads.

    For callers that change the outcome of a matching (TIDE's oracle fixes) without
    building a whole new one: they may also leave detections out (``counted``) instead
    of copying the columns without them.

    Parameters
    ----------
    det_class : ndarray of shape (D,), dtype int64
        Non-decreasing: the detections are in accumulation order.
    det_rank, det_score : ndarray of shape (D,)
        As in :class:`Matching`.
    true_positive, ignored : ndarray of shape (A, T, D), dtype bool
    n_positive : ndarray of shape (C, A), dtype int64
    params : CocoParams
        Its ``iou_thresholds``, ``recall_thresholds`` and ``max_dets`` give T, R and M.
    counted : ndarray of shape (D,), dtype bool, optional
        False for a detection left out, as if it were not there; None: all count.
    """
    outcome = np.asarray(true_positive, dtype=np.uint8) * np.uint8(TRUE_POSITIVE)
    outcome |= np.asarray(ignored, dtype=np.uint8) * np.uint8(IGNORED)
    return _accumulate_outcome(det_class, det_rank, det_score, outcome, n_positive, params, counted)


def _accumulate_outcome(
    det_class: NDArray[np.int64],
    det_rank: NDArray[np.int64],
    det_score: NDArray[np.float64],
    outcome: NDArray[np.uint8],
    n_positive: NDArray[np.int64],
    params: CocoParams,
    counted: NDArray[np.bool_] | None,
) -> Accumulated:
    """:func:`accumulate_ranked` on an outcome plane, (A, T, D) uint8, as
    :class:`Matching` holds it (both bits set: a true positive)."""
    n_thr, n_rec = params.iou_thresholds.shape[0], params.recall_thresholds.shape[0]
    n_classes, n_area = n_positive.shape
    n_maxdet = len(params.max_dets)
    precision = np.full((n_thr, n_rec, n_classes, n_area, n_maxdet), -1.0)
    recall = np.full((n_thr, n_classes, n_area, n_maxdet), -1.0)
    scores = np.full((n_thr, n_rec, n_classes, n_area, n_maxdet), -1.0)
    class_start = np.searchsorted(det_class, np.arange(n_classes + 1)).astype(np.int64)
    det_rank = np.ascontiguousarray(det_rank, dtype=np.int64)
    counted_bytes = (
        np.zeros(0, dtype=np.uint8)
        if counted is None
        else np.ascontiguousarray(counted, dtype=bool).view(np.uint8)
    )
    det_score = np.ascontiguousarray(det_score, dtype=np.float64)
    outcome = np.ascontiguousarray(outcome, dtype=np.uint8)
    n_positive = np.ascontiguousarray(n_positive, dtype=np.int64)
    max_dets = np.array(params.max_dets, dtype=np.int64)
    rec_thrs = np.ascontiguousarray(params.recall_thresholds, dtype=np.float64)

    def run(first: int, last: int) -> None:
        kernels.accumulate(
            class_start,
            det_rank,
            counted_bytes,
            det_score,
            outcome,
            n_positive,
            max_dets,
            rec_thrs,
            precision,
            recall,
            scores,
            first,
            last,
        )

    run_in_chunks(run, np.diff(class_start) + 1)  # work: detections per class
    return Accumulated(precision=precision, recall=recall, scores=scores)
