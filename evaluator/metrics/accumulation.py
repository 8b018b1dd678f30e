"""Accumulation: precision at fixed recall levels, and recall, per class.

Each class's detections are already in pycocotools' accumulation order (see
:class:`evaluator.metrics.matching.Matching`); this module turns their true/false positive flags
into the ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M) arrays of
``COCOeval.accumulate()``, with the same floating-point operations in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.matching import Matching
from evaluator.metrics.params import CocoParams

# pycocotools adds the machine epsilon to the denominator of precision.
_EPS = np.spacing(1)


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


def _counts_needed(n_positive: int, recall_thresholds: NDArray[np.float64]) -> NDArray[np.int64]:
    """Least true-positive count whose recall reaches each threshold, shape (R,).

    pycocotools finds ``np.searchsorted(tp / n_positive, r, "left")``. ``c / n_positive``
    is non-decreasing in the integer ``c``, so ``tp / n >= r`` holds exactly when
    ``tp >= c_min(r)``; ``c_min`` is found on the ``n_positive + 1`` possible recalls, with
    the same division. ``n_positive + 1`` means the threshold is never reached.
    """
    possible_recalls = np.arange(n_positive + 1) / n_positive
    return np.searchsorted(possible_recalls, recall_thresholds, side="left")


def _class_curves(
    tp_count: NDArray[np.int64],
    tp_precision: NDArray[np.float64],
    tp_score: NDArray[np.float64],
    run_bounds: NDArray[np.int64],
    needed: NDArray[np.int64],
    first_score: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Interpolated precision and score at each recall threshold for one class.

    Parameters
    ----------
    tp_count, tp_precision, tp_score : ndarray of shape (P,)
        For each true positive of the class, threshold by threshold: its rank among the
        class's true positives (1, 2, ...), the precision there and the detection's score.
    run_bounds : ndarray of shape (T + 1,), dtype int64
        True positives of threshold ``t`` are ``run_bounds[t]:run_bounds[t + 1]``.
    needed : ndarray of shape (R,), dtype int64
        From :func:`_counts_needed`.
    first_score : float
        Score of the class's best detection (the point recall 0 is read at).

    Returns
    -------
    precision, scores : ndarray of shape (T, R), dtype float64

    Notes
    -----
    Precision only rises at a true positive, so the envelope (best precision at this
    recall or beyond) is a reverse running maximum over true positives alone, and the
    first detection reaching ``c`` true positives is the ``c``-th true positive. A
    threshold needing 0 true positives is read at the first detection: its envelope is
    the maximum over all true positives (0 if none), its score the best score.
    """
    n_thr = run_bounds.shape[0] - 1
    lengths = np.diff(run_bounds)  # (T,)
    width = max(int(lengths.max()), 1)
    rows = np.repeat(np.arange(n_thr), lengths)
    cols = tp_count - 1
    grid = np.zeros((n_thr, width))
    grid[rows, cols] = tp_precision
    envelope = np.maximum.accumulate(grid[:, ::-1], axis=1)[:, ::-1]  # (T, width)
    score_grid = np.zeros((n_thr, width))
    score_grid[rows, cols] = tp_score
    col = np.maximum(needed - 1, 0)[None, :]  # (1, R)
    reached = needed[None, :] <= lengths[:, None]  # (T, R)
    safe = np.minimum(col, width - 1)
    precision = np.where(
        reached, np.take_along_axis(envelope, np.broadcast_to(safe, reached.shape), 1), 0.0
    )
    scores = np.where(
        reached, np.take_along_axis(score_grid, np.broadcast_to(safe, reached.shape), 1), 0.0
    )
    scores[:, needed == 0] = first_score
    return precision, scores


def accumulate(matching: Matching, params: CocoParams) -> Accumulated:
    """Precision/recall arrays identical to ``COCOeval.accumulate()``.

    Notes
    -----
    pycocotools computes, per class, ``rc = tp / n_positive`` and
    ``pr = tp / (fp + tp + eps)`` along the score-sorted detections. ``fp + tp`` is the
    count of non-ignored detections so far, an exact integer, so the same doubles come
    from one cumulative sum of the non-ignored flags read at the true positives.
    """
    n_thr, n_rec = params.iou_thresholds.shape[0], params.recall_thresholds.shape[0]
    n_classes, n_area = matching.n_positive.shape
    n_maxdet = len(params.max_dets)
    precision = -np.ones((n_thr, n_rec, n_classes, n_area, n_maxdet))
    recall = -np.ones((n_thr, n_classes, n_area, n_maxdet))
    scores = -np.ones((n_thr, n_rec, n_classes, n_area, n_maxdet))
    needed = {
        (k, a): _counts_needed(int(matching.n_positive[k, a]), params.recall_thresholds)
        for k in range(n_classes)
        for a in range(n_area)
        if matching.n_positive[k, a] > 0
    }
    for m, max_det in enumerate(params.max_dets):
        keep = np.flatnonzero(matching.det_rank < max_det)  # still in accumulation order
        det_class = matching.det_class[keep]
        det_score = matching.det_score[keep]
        class_bounds = np.searchsorted(det_class, np.arange(n_classes + 1))
        all_kept = keep.shape[0] == matching.det_rank.shape[0]
        for a in range(n_area):
            tp = matching.true_positive[a] if all_kept else matching.true_positive[a][:, keep]
            counted_flags = ~(matching.ignored[a] if all_kept else matching.ignored[a][:, keep])
            # int32 on an int8 view: several times faster than the default bool -> int64.
            counted_cum = np.cumsum(counted_flags.view(np.int8), axis=1, dtype=np.int32)  # (T, n)
            n_kept = keep.shape[0]
            flat = np.flatnonzero(tp)  # by threshold, then position
            thr_idx, pos = flat // n_kept, flat % n_kept
            k_of = det_class[pos]
            class_first = class_bounds[k_of]
            before_class = np.where(
                class_first > 0, counted_cum[thr_idx, np.maximum(class_first - 1, 0)], 0
            )
            counted = counted_cum[thr_idx, pos] - before_class  # fp + tp, exact
            # Group true positives by (class, threshold), keeping position order.
            run = k_of * n_thr + thr_idx
            by_run = np.argsort(run, kind="stable")
            run, pos, counted = run[by_run], pos[by_run], counted[by_run]
            run_bounds = np.searchsorted(run, np.arange(n_classes * n_thr + 1))
            count = np.arange(run.shape[0]) - run_bounds[run] + 1  # c-th true positive
            tp_precision = count / (counted.astype(np.float64) + _EPS)
            for k in range(n_classes):
                if (k, a) not in needed:
                    continue
                n_det = class_bounds[k + 1] - class_bounds[k]
                bounds = run_bounds[k * n_thr : (k + 1) * n_thr + 1]
                if n_det == 0:
                    recall[:, k, a, m] = 0
                    precision[:, :, k, a, m] = 0
                    scores[:, :, k, a, m] = 0
                    continue
                sl = slice(bounds[0], bounds[-1])
                recall[:, k, a, m] = np.diff(bounds) / matching.n_positive[k, a]
                precision[:, :, k, a, m], scores[:, :, k, a, m] = _class_curves(
                    count[sl],
                    tp_precision[sl],
                    det_score[pos[sl]],
                    bounds - bounds[0],
                    needed[k, a],
                    float(det_score[class_bounds[k]]),
                )
    return Accumulated(precision=precision, recall=recall, scores=scores)
