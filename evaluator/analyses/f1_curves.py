"""Precision, recall and F1 against the score threshold, per class and pooled.

The curves of :mod:`evaluator.analyses.operating_points` at every distinct score, thinned to at
most ``max_points`` points for the report (the best-F1 point is always kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.analyses.operating_points import (
    ThresholdCounts,
    best_f1_indices,
    counts_by_threshold,
    rates,
    section_counts,
)
from evaluator.metrics.matching import Matching
from evaluator.metrics.params import CocoParams

MAX_POINTS = 200


def _shown(start: NDArray[np.int64], keep: NDArray[np.int64], max_points: int) -> NDArray[np.int64]:
    """The points each curve shows: all of a run of at most ``max_points``; of a longer one,
    ``max_points - 1`` evenly spread and ``keep``.

    Parameters
    ----------
    start : ndarray of shape (C + 1,), dtype int64
        Run ``c`` is points ``start[c]:start[c + 1]``.
    keep : ndarray of shape (C,), dtype int64
        A point of each non-empty run.

    Returns
    -------
    ndarray of shape (<= C * max_points,), dtype int64
        Sorted indices of the points.
    """
    sizes = np.diff(start)
    long = np.flatnonzero(sizes > max_points)
    # Row by row what np.linspace(0, n - 1, max_points - 1) gives for each n.
    spread = np.linspace(0, sizes[long] - 1, max_points - 1, axis=1)
    spread = np.round(spread).astype(np.int64) + start[long, None]
    every = np.flatnonzero(np.repeat(sizes <= max_points, sizes))
    extra = keep[long][~(spread == keep[long, None]).any(axis=1)]  # not already spread
    return np.sort(np.concatenate([every, spread.ravel(), extra]))


def _listed(values: NDArray[np.float64]) -> list[float | None]:
    """``values.tolist()`` with None for NaN."""
    out: list[float | None] = values.tolist()
    for i in np.flatnonzero(np.isnan(values)).tolist():
        out[i] = None
    return out


def _curves(
    counts: ThresholdCounts, n_positive: NDArray[np.int64], max_points: int
) -> list[dict[str, Any]]:
    """The curve of each run, as :func:`f1_curve` describes it.

    Parameters
    ----------
    counts : ThresholdCounts
        C runs.
    n_positive : ndarray of shape (C,), dtype int64
    max_points : int

    Raises
    ------
    ValueError
        ``max_points`` is below 2.
    """
    if max_points < 2:
        raise ValueError(f"max_points: expected at least 2, got {max_points}")
    best = best_f1_indices(counts, n_positive)
    keep = np.where(best >= 0, best, counts.start[:-1])  # the first point when undefined
    shown = _shown(counts.start, keep, max_points)
    precision, recall, f1 = rates(counts.tp[shown], counts.fp[shown], n_positive[counts.run[shown]])
    # One tolist per array: each curve's lists are slices of these.
    thresholds = counts.thresholds[shown].tolist()
    precision_list, recall_list, f1_list = _listed(precision), recall.tolist(), f1.tolist()
    first = np.searchsorted(shown, counts.start)
    at_best = (np.searchsorted(shown, keep) - first[:-1]).tolist()  # into each run's lists
    sizes = np.diff(counts.start).tolist()
    bounds = first.tolist()
    curves = []
    for c, n in enumerate(n_positive.tolist()):
        sl = slice(bounds[c], bounds[c + 1])
        points = (thresholds[sl], precision_list[sl], recall_list[sl], f1_list[sl])
        curves.append(_curve(*points, sizes[c], n, at_best[c]))
    return curves


def _curve(
    thresholds: list[float],
    precision: list[float | None],
    recall: list[float],
    f1: list[float],
    n_thresholds: int,
    n_positive: int,
    at_best: int,
) -> dict[str, Any]:
    """One curve from its points' lists; ``at_best`` (into the lists) is its best F1."""
    reason = None
    if n_positive == 0:
        reason = "no ground truth: recall and F1 undefined"
    elif n_thresholds == 0:
        reason = "no detections"
    out: dict[str, Any] = {
        "thresholds": thresholds,
        "precision": precision,
        "recall": None if n_positive == 0 else recall,
        "f1": None if n_positive == 0 else f1,
        "n_thresholds": n_thresholds,
        "best": None,
        "undefined_reason": reason,
    }
    if reason is None:
        out["best"] = {
            "threshold": thresholds[at_best],
            # None when every detection down to there is ignored (then F1 is 0).
            "precision": precision[at_best],
            "recall": recall[at_best],
            "f1": f1[at_best],
        }
    return out


def f1_curve(
    scores: NDArray[np.float64],
    tp: NDArray[np.bool_],
    fp: NDArray[np.bool_],
    n_positive: int,
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """One curve as a JSON-safe dict.

    Parameters
    ----------
    scores, tp, fp : ndarray of shape (n,)
        Detections sorted by descending score; ``tp`` and ``fp`` exclude ignored ones.
    n_positive : int
    max_points : int

    Returns
    -------
    dict
        ``thresholds`` (descending), ``precision``, ``recall``, ``f1`` (lists, ``null``
        where undefined), ``n_thresholds`` (distinct scores before thinning), ``best``
        (``threshold``, ``precision``, ``recall``, ``f1`` at the best F1, highest
        threshold on ties) and ``undefined_reason`` when there is no best point.

    Raises
    ------
    ValueError
        ``max_points`` is below 2.
    """
    counts = counts_by_threshold(scores, tp, fp, np.array([0, scores.shape[0]]))
    return _curves(counts, np.array([n_positive], dtype=np.int64), max_points)[0]


def f1_curves_section(
    matching: Matching,
    params: CocoParams,
    category_ids: Sequence[int],
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """The report's ``f1_curves`` section: the pooled curve and one per class.

    Uses the matching at IoU 0.5 (the first threshold when 0.5 is not evaluated) in the
    first area range, with COCO's ignore rules, as :func:`evaluator.analyses.operating_points.
    operating_points` does, so each ``best`` equals that section's ``best_f1``.

    Parameters
    ----------
    matching : Matching
    params : CocoParams
    category_ids : sequence of int, length C
        Labels of the accumulation classes.
    max_points : int
        Most points per curve.

    Returns
    -------
    dict
        ``iou_threshold``, ``area``, ``max_points``, ``overall`` (a curve of
        :func:`f1_curve`) and ``per_class`` (curves with ``category_id``).
    """
    hits = np.flatnonzero(params.iou_thresholds == 0.5)
    t = int(hits[0]) if hits.size else 0
    a = params.area_labels.index("all") if "all" in params.area_labels else 0
    by_class, pooled = section_counts(matching, t, a)
    n_positive = matching.n_positive[:, a]
    curves = _curves(by_class, n_positive, max_points)
    (overall,) = _curves(pooled, n_positive.sum(keepdims=True), max_points)
    return {
        "iou_threshold": float(params.iou_thresholds[t]),
        "area": params.area_labels[a],
        "max_points": max_points,
        "overall": overall,
        "per_class": [
            {"category_id": int(cat_id), **curve} for cat_id, curve in zip(category_ids, curves)
        ],
    }
