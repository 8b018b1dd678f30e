"""Precision, recall and F1 at a score threshold, and the F1-optimal threshold.

Built on COCO's matching (one IoU threshold, area "all", the largest max_dets), with its
ignore semantics: a detection matched to a crowd region (or otherwise ignored) is
neither a true nor a false positive, and ignored ground truths are not positives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.matching import Matching, pooled_order
from evaluator.metrics.params import CocoParams


@dataclass(frozen=True)
class OperatingPoint:
    """Counts and rates of one class (or all classes pooled) at one score threshold.

    ``precision`` is NaN without any counted detection; ``recall`` and ``f1`` are NaN
    without positives.
    """

    threshold: float
    tp: int
    fp: int
    n_positive: int
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tp": self.tp, "fp": self.fp, "fn": self.n_positive - self.tp}
        for name in ("threshold", "precision", "recall", "f1"):
            value = getattr(self, name)
            out[name] = None if np.isnan(value) else value
        return out


def rates(tp: NDArray[np.int64], fp: NDArray[np.int64], n_positive: int) -> tuple[NDArray, ...]:
    """Precision, recall and F1 for arrays of counts (NaN where undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        recall = tp / n_positive if n_positive else np.full(tp.shape, np.nan)
        f1 = 2 * tp / (2 * tp + fp + (n_positive - tp)) if n_positive else np.full(tp.shape, np.nan)
    return precision, recall, f1


def best_f1_index(tp: NDArray[np.int64], fp: NDArray[np.int64], n_positive: int) -> int:
    """Index of the highest F1 of :func:`rates` (the first on ties), with one float array
    for all the points rather than three.

    Parameters
    ----------
    tp, fp : ndarray of shape (u,), dtype int64
        Counts at each threshold; ``u > 0``.
    n_positive : int
        At least 1 (else F1 is undefined everywhere).
    """
    f1 = tp * 2.0  # the same numbers as rates(): 2 tp / (2 tp + fp + (n - tp)) ...
    f1 /= tp + fp + n_positive  # ... whose denominator is this integer
    return int(np.argmax(f1))


def counts_by_threshold(
    scores: NDArray[np.float64], tp: NDArray[np.bool_], fp: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Counts at each distinct score, keeping detections with ``score >= threshold``.

    Parameters
    ----------
    scores, tp, fp : ndarray of shape (n,)
        Sorted by descending score.

    Returns
    -------
    thresholds, tp_count, fp_count : ndarray of shape (u,)
        Distinct scores, descending, and the counts of detections scoring at least that.
    """
    if scores.size == 0:
        return scores, np.zeros(0, np.int64), np.zeros(0, np.int64)
    last_of_score = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    return (
        scores[last_of_score],
        np.cumsum(tp, dtype=np.int64)[last_of_score],
        np.cumsum(fp, dtype=np.int64)[last_of_score],
    )


def _point(
    scores: NDArray[np.float64],
    tp: NDArray[np.bool_],
    fp: NDArray[np.bool_],
    n_positive: int,
    threshold: float | None,
) -> OperatingPoint:
    """The point at ``threshold``; ``None`` picks the threshold of best F1 (highest on ties).

    Without a best threshold (no detections, or no positives so that F1 is undefined)
    the threshold is NaN and the point keeps nothing: 0 TP, 0 FP, recall 0 (NaN without
    positives).
    """
    if threshold is None:
        thresholds, tp_count, fp_count = counts_by_threshold(scores, tp, fp)
        if thresholds.size == 0 or n_positive == 0:  # F1 undefined everywhere
            threshold = float("nan")
        else:
            threshold = float(thresholds[best_f1_index(tp_count, fp_count, n_positive)])
    kept = scores >= threshold  # all False for a NaN threshold
    tp_n, fp_n = int(tp[kept].sum()), int(fp[kept].sum())
    p, r, f = (float(v[0]) for v in rates(np.array([tp_n]), np.array([fp_n]), n_positive))
    return OperatingPoint(float(threshold), tp_n, fp_n, n_positive, p, r, f)


@dataclass(frozen=True, eq=False)
class OperatingPoints:
    """Per-class and pooled operating points.

    Attributes
    ----------
    iou_threshold : float
    score_threshold : float or None
        The threshold of ``at_threshold``, if one was asked for.
    category_ids : ndarray of shape (K,), dtype int64
    at_threshold : tuple of OperatingPoint, length K, or None
    best_f1 : tuple of OperatingPoint, length K
        Each class at its own F1-optimal threshold.
    overall_at_threshold : OperatingPoint or None
        All classes pooled (micro-averaged) at ``score_threshold``.
    overall_best_f1 : OperatingPoint
        All classes pooled at the one threshold that maximises their pooled F1.
    """

    iou_threshold: float
    score_threshold: float | None
    category_ids: NDArray[np.int64]
    at_threshold: tuple[OperatingPoint, ...] | None
    best_f1: tuple[OperatingPoint, ...]
    overall_at_threshold: OperatingPoint | None
    overall_best_f1: OperatingPoint

    def to_dict(self) -> dict[str, Any]:
        per_class = []
        for k, cat_id in enumerate(self.category_ids.tolist()):
            row: dict[str, Any] = {"category_id": cat_id, "best_f1": self.best_f1[k].to_dict()}
            if self.at_threshold is not None:
                row["at_threshold"] = self.at_threshold[k].to_dict()
            if self.best_f1[k].n_positive == 0:
                row["undefined_reason"] = "no ground truth in this class: recall and F1 undefined"
            per_class.append(row)
        out: dict[str, Any] = {
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
            "overall_best_f1": self.overall_best_f1.to_dict(),
            "per_class": per_class,
        }
        if self.overall_at_threshold is not None:
            out["overall_at_threshold"] = self.overall_at_threshold.to_dict()
        if self.overall_best_f1.n_positive == 0:
            out["undefined_reason"] = "no ground truth: recall and F1 undefined"
        return out


def operating_points(
    matching: Matching,
    params: CocoParams,
    category_ids: NDArray[np.int64],
    iou_threshold: float | None = None,
    score_threshold: float | None = None,
) -> OperatingPoints:
    """P, R and F1 per class at ``score_threshold`` and at each class's best-F1 threshold.

    Parameters
    ----------
    matching : Matching
        From :func:`evaluator.metrics.matching.match_detections`.
    params : CocoParams
    category_ids : ndarray of shape (K,)
        Labels of the accumulation classes.
    iou_threshold : float, optional
        One of ``params.iou_thresholds``; by default 0.5, or the first threshold when 0.5
        is not evaluated.
    score_threshold : float, optional
        Also give the points at this score (detections scoring at least this are kept).

    Returns
    -------
    OperatingPoints

    Raises
    ------
    ValueError
        ``score_threshold`` is not a finite number, or ``iou_threshold`` is not evaluated.
    """
    if score_threshold is not None and not np.isfinite(score_threshold):
        # A NaN or infinite threshold would also end up in the report, which must be JSON.
        raise ValueError(f"score_threshold: expected a finite number, got {score_threshold}")
    if iou_threshold is None:
        has_half = (params.iou_thresholds == 0.5).any()
        iou_threshold = 0.5 if has_half else float(params.iou_thresholds[0])
    hits = np.flatnonzero(np.isclose(params.iou_thresholds, iou_threshold, rtol=0, atol=1e-12))
    if hits.size == 0:
        raise ValueError(f"iou_threshold {iou_threshold} is not among {params.iou_thresholds}")
    t = int(hits[0])
    a = params.area_labels.index("all") if "all" in params.area_labels else 0
    tp_all = matching.true_positive[a, t]
    fp_all = ~tp_all & ~matching.ignored[a, t]
    n_classes = matching.n_positive.shape[0]
    bounds = np.searchsorted(matching.det_class, np.arange(n_classes + 1))
    at, best = [], []
    for k in range(n_classes):
        sl = slice(bounds[k], bounds[k + 1])
        args = (matching.det_score[sl], tp_all[sl], fp_all[sl], int(matching.n_positive[k, a]))
        best.append(_point(*args, threshold=None))
        if score_threshold is not None:
            at.append(_point(*args, threshold=score_threshold))
    pooled = pooled_order(matching)
    pooled_args = (
        matching.det_score[pooled],
        tp_all[pooled],
        fp_all[pooled],
        int(matching.n_positive[:, a].sum()),
    )
    return OperatingPoints(
        iou_threshold=float(params.iou_thresholds[t]),
        score_threshold=score_threshold,
        category_ids=category_ids,
        at_threshold=tuple(at) if score_threshold is not None else None,
        best_f1=tuple(best),
        overall_at_threshold=(
            _point(*pooled_args, threshold=score_threshold) if score_threshold is not None else None
        ),
        overall_best_f1=_point(*pooled_args, threshold=None),
    )
