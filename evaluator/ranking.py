"""Accumulation: precision at fixed recall levels, and recall, per class.

Each class's detections are already in pycocotools' accumulation order (see
:class:`evaluator.matching.Matching`); this module turns their true/false positive flags
into the ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M) arrays of
``COCOeval.accumulate()``, with the same floating-point operations in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .matching import Matching
from .params import CocoParams

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


def _first_reaching(
    tp_cum: NDArray[np.int64], n_positive: int, recall_thresholds: NDArray[np.float64]
) -> NDArray[np.int64]:
    """``np.searchsorted(tp_cum[t] / n_positive, recall_thresholds, "left")`` for every row.

    Parameters
    ----------
    tp_cum : ndarray of shape (T, n), dtype int64
        Cumulative true positives, non-decreasing along axis 1.

    Returns
    -------
    ndarray of shape (T, R), dtype int64
        First index whose recall reaches each threshold; ``n`` where none does.

    Notes
    -----
    ``c / n_positive`` is non-decreasing in the integer ``c``, so ``tp/n >= r`` holds exactly
    when ``tp >= c_min(r)``, the least count whose (rounded) recall reaches ``r``. Finding
    ``c_min`` on the ``n_positive + 1`` possible recalls, then offsetting each row by a
    multiple of ``n_positive + 1``, turns T searches into one on integers.
    """
    n_thr, n = tp_cum.shape
    possible_recalls = np.arange(n_positive + 1) / n_positive
    needed = np.searchsorted(possible_recalls, recall_thresholds, side="left")  # (R,)
    stride = n_positive + 2
    offsets = np.arange(n_thr)[:, None] * stride  # (T, 1)
    flat = (tp_cum + offsets).ravel()
    found = np.searchsorted(flat, (needed[None, :] + offsets).ravel(), side="left")
    found = found.reshape(n_thr, -1) - np.arange(n_thr)[:, None] * n  # (T, R)
    # A threshold no count reaches (needed = n_positive + 1) lands past the row: n.
    return np.minimum(found, n)


def accumulate(matching: Matching, params: CocoParams) -> Accumulated:
    """Precision/recall arrays identical to ``COCOeval.accumulate()``."""
    n_thr, n_rec = params.iou_thresholds.shape[0], params.recall_thresholds.shape[0]
    n_classes, n_area = matching.n_positive.shape
    n_maxdet = len(params.max_dets)
    precision = -np.ones((n_thr, n_rec, n_classes, n_area, n_maxdet))
    recall = -np.ones((n_thr, n_classes, n_area, n_maxdet))
    scores = -np.ones((n_thr, n_rec, n_classes, n_area, n_maxdet))
    bounds = np.searchsorted(matching.det_class, np.arange(n_classes + 1))
    for k in range(n_classes):
        lo, hi = bounds[k], bounds[k + 1]
        rank = matching.det_rank[lo:hi]
        for m, max_det in enumerate(params.max_dets):
            keep = np.flatnonzero(rank < max_det) + lo  # still in accumulation order
            det_scores = matching.det_score[keep]
            n = keep.shape[0]
            for a in range(n_area):
                n_positive = int(matching.n_positive[k, a])
                if n_positive == 0:
                    continue
                tp = matching.true_positive[a][:, keep]  # (T, n)
                fp = ~tp & ~matching.ignored[a][:, keep]  # (T, n)
                tp_cum = np.cumsum(tp, axis=1)
                tp_sum = tp_cum.astype(np.float64)
                fp_sum = np.cumsum(fp, axis=1).astype(np.float64)
                if n == 0:
                    recall[:, k, a, m] = 0
                    precision[:, :, k, a, m] = 0
                    scores[:, :, k, a, m] = 0
                    continue
                recall[:, k, a, m] = tp_sum[:, -1] / n_positive
                prec = tp_sum / (fp_sum + tp_sum + _EPS)  # (T, n)
                # Precision envelope: the best precision at this recall or any higher one.
                prec = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
                idx = _first_reaching(tp_cum, n_positive, params.recall_thresholds)  # (T, R)
                reached = idx < n
                safe = np.minimum(idx, n - 1)
                precision[:, :, k, a, m] = np.where(
                    reached, np.take_along_axis(prec, safe, axis=1), 0.0
                )
                scores[:, :, k, a, m] = np.where(reached, det_scores[safe], 0.0)
    return Accumulated(precision=precision, recall=recall, scores=scores)
