"""Precision, recall and F1 against the score threshold, per class and pooled.

The curves of :mod:`evaluator.analyses.operating_points` at every distinct score, thinned to at
most ``max_points`` points for the report (the best-F1 point is always kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.analyses.operating_points import best_f1_index, counts_by_threshold, rates
from evaluator.metrics.matching import Matching, pooled_order
from evaluator.metrics.params import CocoParams

MAX_POINTS = 200


def _thin(n: int, keep: int, max_points: int) -> NDArray[np.int64]:
    """At most ``max_points`` sorted indices into ``n`` points, evenly spread, with ``keep``.

    Returns
    -------
    ndarray of shape (<= max_points,), dtype int64
    """
    if n <= max_points:
        return np.arange(n)
    spread = np.round(np.linspace(0, n - 1, max_points - 1)).astype(np.int64)
    return np.union1d(spread, [keep])


def _listed(values: NDArray[np.float64]) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


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
    if max_points < 2:
        raise ValueError(f"max_points: expected at least 2, got {max_points}")
    thresholds, tp_count, fp_count = counts_by_threshold(scores, tp, fp)
    reason = None
    if n_positive == 0:
        reason = "no ground truth: recall and F1 undefined"
    elif thresholds.size == 0:
        reason = "no detections"
    best_index = 0 if reason else best_f1_index(tp_count, fp_count, n_positive)
    shown = _thin(thresholds.shape[0], best_index, max_points)  # sorted, holds best_index
    # The rates at the points shown only: a pooled curve has a point per distinct score,
    # hundreds of thousands of them.
    precision, recall, f1 = rates(tp_count[shown], fp_count[shown], n_positive)
    at_best = int(np.searchsorted(shown, best_index))
    out: dict[str, Any] = {
        "thresholds": thresholds[shown].tolist(),
        "precision": _listed(precision),
        "recall": None if n_positive == 0 else _listed(recall),
        "f1": None if n_positive == 0 else _listed(f1),
        "n_thresholds": int(thresholds.shape[0]),
        "best": None,
        "undefined_reason": reason,
    }
    if reason is None:
        out["best"] = {
            "threshold": float(thresholds[best_index]),
            # NaN when every detection down to there is ignored (then F1 is 0).
            "precision": _listed(precision[at_best : at_best + 1])[0],
            "recall": float(recall[at_best]),
            "f1": float(f1[at_best]),
        }
    return out


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
    tp = matching.true_positive[a, t]
    fp = ~tp & ~matching.ignored[a, t]
    bounds = np.searchsorted(matching.det_class, np.arange(len(category_ids) + 1))
    per_class = []
    for k, cat_id in enumerate(category_ids):
        sl = slice(bounds[k], bounds[k + 1])
        curve = f1_curve(
            matching.det_score[sl], tp[sl], fp[sl], int(matching.n_positive[k, a]), max_points
        )
        per_class.append({"category_id": int(cat_id), **curve})
    pooled = pooled_order(matching)
    overall = f1_curve(
        matching.det_score[pooled],
        tp[pooled],
        fp[pooled],
        int(matching.n_positive[:, a].sum()),
        max_points,
    )
    return {
        "iou_threshold": float(params.iou_thresholds[t]),
        "area": params.area_labels[a],
        "max_points": max_points,
        "overall": overall,
        "per_class": per_class,
    }
