"""Precision, recall and F1 at a score threshold, and the F1-optimal threshold.

Built on COCO's matching (one IoU threshold, area "all", the largest max_dets), with its
ignore semantics: a detection matched to a crowd region (or otherwise ignored) is
neither a true nor a false positive, and ignored ground truths are not positives.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.matching import Matching
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
            out[name] = None if math.isnan(value) else value
        return out


def rates(
    tp: NDArray[np.int64], fp: NDArray[np.int64], n_positive: int | NDArray[np.int64]
) -> tuple[NDArray, ...]:
    """Precision, recall and F1 for arrays of counts (NaN where undefined).

    Parameters
    ----------
    tp, fp : ndarray of shape (n,), dtype int64
    n_positive : int, or ndarray of shape (n,), dtype int64
        The positives: of every count, or of each.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        recall = np.where(n_positive > 0, tp / n_positive, np.nan)
        f1 = np.where(n_positive > 0, 2 * tp / (2 * tp + fp + (n_positive - tp)), np.nan)
    return precision, recall, f1


@dataclass(frozen=True, eq=False)
class ThresholdCounts:
    """Counts at each distinct score of runs of detections (classes, or all pooled).

    Attributes
    ----------
    thresholds : ndarray of shape (U,), dtype float64
        Each run's distinct scores, descending, run after run.
    tp, fp : ndarray of shape (U,), dtype int64
        The run's detections scoring at least the threshold: true and false positives.
    start : ndarray of shape (C + 1,), dtype int64
        The points of run ``c`` are ``start[c]:start[c + 1]``.
    """

    thresholds: NDArray[np.float64]
    tp: NDArray[np.int64]
    fp: NDArray[np.int64]
    start: NDArray[np.int64]

    @property
    def run(self) -> NDArray[np.int64]:
        """The run of each point, shape (U,)."""
        return np.repeat(np.arange(self.start.shape[0] - 1), np.diff(self.start))


def counts_by_threshold(
    scores: NDArray[np.float64],
    tp: NDArray[np.bool_] | NDArray[np.int64],
    fp: NDArray[np.bool_] | NDArray[np.int64],
    bounds: NDArray[np.int64],
) -> ThresholdCounts:
    """Counts at each distinct score of each run, keeping detections with ``score >= threshold``.

    Parameters
    ----------
    scores : ndarray of shape (n,), dtype float64
        Run after run, each by descending score.
    tp, fp : ndarray of shape (n,), dtype bool or int64
        How many true and false positives each item adds (an item: a detection, or a
        group of them).
    bounds : ndarray of shape (C + 1,), dtype int64
        Run ``c`` is ``bounds[c]:bounds[c + 1]``.

    Returns
    -------
    ThresholdCounts
    """
    last_of_score = np.ones(scores.shape[0], dtype=bool)
    last_of_score[:-1] = scores[1:] != scores[:-1]
    last_of_score[bounds[1:][np.diff(bounds) > 0] - 1] = True  # the last of each run
    last = np.flatnonzero(last_of_score)
    start = np.searchsorted(last, bounds).astype(np.int64)
    tp_count, fp_count = (_running_count(added, last, start) for added in (tp, fp))
    return ThresholdCounts(scores[last], tp_count, fp_count, start)


def _running_count(
    added: NDArray[np.bool_] | NDArray[np.int64], last: NDArray[np.int64], start: NDArray[np.int64]
) -> NDArray[np.int64]:
    """What ``added`` sums to from the start of each point's run down to its last item.

    Parameters
    ----------
    added : ndarray of shape (n,), dtype bool or int64
    last : ndarray of shape (U,), dtype int64
        The last item of each point, ascending, ``last[-1] == n - 1``.
    start : ndarray of shape (C + 1,), dtype int64
        Run ``c`` is points ``start[c]:start[c + 1]``.

    Returns
    -------
    ndarray of shape (U,), dtype int64
    """
    first_item = np.zeros_like(last)
    first_item[1:] = last[:-1] + 1
    total = np.zeros(last.shape[0] + 1, dtype=np.int64)  # total[j]: added before point j
    # Per point (a sum over its items, not a cumulative sum over every item), then per run.
    np.cumsum(np.add.reduceat(added, first_item, dtype=np.int64), out=total[1:])
    return total[1:] - np.repeat(total[start[:-1]], np.diff(start))


def pooled_counts(counts: ThresholdCounts) -> ThresholdCounts:
    """All the runs of ``counts`` as one: the pooled counts at each distinct threshold.

    The runs' points are sorted by descending threshold, ties in run order, each adding
    what it adds to its own run. (The sort finds the runs already sorted: NumPy's stable
    sort merges them, faster than a k-way merge of the runs.)

    Returns
    -------
    ThresholdCounts
        One run.
    """
    order = np.argsort(-counts.thresholds, kind="stable")
    firsts = counts.start[:-1][np.diff(counts.start) > 0]
    tp_added, fp_added = (_steps(running, firsts)[order] for running in (counts.tp, counts.fp))
    everything = np.array([0, order.shape[0]], dtype=np.int64)
    return counts_by_threshold(counts.thresholds[order], tp_added, fp_added, everything)


def _steps(running: NDArray[np.int64], firsts: NDArray[np.int64]) -> NDArray[np.int64]:
    """What each point adds to its run's running count; ``firsts``: each run's first point."""
    steps = running.copy()
    steps[1:] -= running[:-1]
    steps[firsts] = running[firsts]
    return steps


def best_f1_indices(counts: ThresholdCounts, n_positive: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index into ``counts`` of each run's highest F1 of :func:`rates` (the first on ties),
    -1 where F1 is undefined (no points, or no positives).

    Parameters
    ----------
    counts : ThresholdCounts
        C runs.
    n_positive : ndarray of shape (C,), dtype int64

    Returns
    -------
    ndarray of shape (C,), dtype int64
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # runs without positives
        f1 = counts.tp * 2.0  # the same numbers as rates(): 2 tp / (2 tp + fp + (n - tp)) ...
        f1 /= counts.tp + counts.fp + n_positive[counts.run]  # ... whose denominator is this
    best = np.full(n_positive.shape[0], -1, dtype=np.int64)
    defined = (np.diff(counts.start) > 0) & (n_positive > 0)
    for c in np.flatnonzero(defined).tolist():
        first, end = counts.start[c], counts.start[c + 1]
        best[c] = first + np.argmax(f1[first:end])
    return best


def last_at_least(counts: ThresholdCounts, threshold: float) -> NDArray[np.int64]:
    """Index into ``counts`` of each run's lowest threshold >= ``threshold``, -1 if none.

    Returns
    -------
    ndarray of shape (C,), dtype int64
    """
    above = np.zeros(counts.thresholds.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts.thresholds >= threshold, out=above[1:])
    n_above = above[counts.start[1:]] - above[counts.start[:-1]]
    return np.where(n_above > 0, counts.start[:-1] + n_above - 1, -1)


def _points(
    counts: ThresholdCounts,
    index: NDArray[np.int64],
    n_positive: NDArray[np.int64],
    thresholds: NDArray[np.float64],
) -> tuple[OperatingPoint, ...]:
    """Each run's point at ``index`` into ``counts``; index -1 keeps nothing (0 TP, 0 FP).

    Parameters
    ----------
    counts : ThresholdCounts
        C runs.
    index, n_positive : ndarray of shape (C,), dtype int64
    thresholds : ndarray of shape (C,), dtype float64
        The threshold each point reports.
    """
    tp = np.r_[0, counts.tp][index + 1]
    fp = np.r_[0, counts.fp][index + 1]
    columns = (thresholds, tp, fp, n_positive, *rates(tp, fp, n_positive))
    return tuple(OperatingPoint(*row) for row in zip(*(c.tolist() for c in columns)))


def best_f1_points(
    counts: ThresholdCounts, n_positive: NDArray[np.int64]
) -> tuple[OperatingPoint, ...]:
    """Each run at its threshold of best F1 (the highest on ties).

    Without a best threshold (no detections, or no positives so that F1 is undefined)
    the threshold is NaN and the point keeps nothing: 0 TP, 0 FP, recall 0 (NaN without
    positives).
    """
    best = best_f1_indices(counts, n_positive)
    return _points(counts, best, n_positive, np.r_[np.nan, counts.thresholds][best + 1])


def threshold_points(
    counts: ThresholdCounts, n_positive: NDArray[np.int64], threshold: float
) -> tuple[OperatingPoint, ...]:
    """Each run at ``threshold``: its detections scoring at least that."""
    index = last_at_least(counts, threshold)
    return _points(counts, index, n_positive, np.full(index.shape, float(threshold)))


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
    by_class, pooled = section_counts(matching, t, a)
    n_positive = matching.n_positive[:, a]
    n_pooled = n_positive.sum(keepdims=True)
    at, overall_at = None, None
    if score_threshold is not None:
        at = threshold_points(by_class, n_positive, score_threshold)
        (overall_at,) = threshold_points(pooled, n_pooled, score_threshold)
    return OperatingPoints(
        iou_threshold=float(params.iou_thresholds[t]),
        score_threshold=score_threshold,
        category_ids=category_ids,
        at_threshold=at,
        best_f1=best_f1_points(by_class, n_positive),
        overall_at_threshold=overall_at,
        overall_best_f1=best_f1_points(pooled, n_pooled)[0],
    )


def section_counts(matching: Matching, t: int, a: int) -> tuple[ThresholdCounts, ThresholdCounts]:
    """The counts of each class and of all pooled, with COCO's ignore rules.

    Parameters
    ----------
    matching : Matching
    t, a : int
        IoU threshold and area range of the matching read.

    Returns
    -------
    by_class : ThresholdCounts
        A run per class of ``matching.n_positive``.
    pooled : ThresholdCounts
        One run: every detection by descending score.

    Notes
    -----
    Kept while ``matching`` lives: a report's operating points and F1 curves read the
    same counts, and at COCO's scale counting takes milliseconds.
    """
    known = _SECTION_COUNTS.setdefault(matching, {})
    if (t, a) not in known:
        known[t, a] = _count_sections(matching, t, a)
    return known[t, a]


_SECTION_COUNTS: weakref.WeakKeyDictionary[
    Matching, dict[tuple[int, int], tuple[ThresholdCounts, ThresholdCounts]]
] = weakref.WeakKeyDictionary()


def _count_sections(matching: Matching, t: int, a: int) -> tuple[ThresholdCounts, ThresholdCounts]:
    """:func:`section_counts`, counted."""
    tp = matching.true_positive[a, t]
    fp = ~tp & ~matching.ignored[a, t]
    n_classes = matching.n_positive.shape[0]
    bounds = np.searchsorted(matching.det_class, np.arange(n_classes + 1)).astype(np.int64)
    by_class = counts_by_threshold(matching.det_score, tp, fp, bounds)
    return by_class, pooled_counts(by_class)
