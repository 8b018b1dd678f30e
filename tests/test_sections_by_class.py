"""The operating points and F1 curves of every class at once equal them class by class.

The sections count all classes in one pass, thin every curve at once and pool the
classes from their counts; the reference here is the plain computation they replaced,
one class (or the pooled detections, sorted) at a time. Compared through JSON, which
keeps every float's digits, with curves long enough to be thinned, classes without
ground truth or without detections, crowd-ignored detections and tied scores.
"""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import numpy as np
import pytest
from coco_cases import matched_random_case
from numpy.typing import NDArray

from evaluator.analyses.f1_curves import f1_curve, f1_curves_section
from evaluator.analyses.operating_points import (
    counts_by_threshold,
    operating_points,
    pooled_counts,
    section_counts,
)
from evaluator.metrics.matching import Matching
from evaluator.metrics.params import CocoParams

Arrays = tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], int]


def _counts(scores: NDArray, tp: NDArray, fp: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    if scores.size == 0:
        return scores, np.zeros(0, np.int64), np.zeros(0, np.int64)
    last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    return scores[last], np.cumsum(tp, dtype=np.int64)[last], np.cumsum(fp, dtype=np.int64)[last]


def _rates(tp: NDArray, fp: NDArray, n: int) -> tuple[NDArray, NDArray, NDArray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        recall = tp / n if n else np.full(tp.shape, np.nan)
        f1 = 2 * tp / (2 * tp + fp + (n - tp)) if n else np.full(tp.shape, np.nan)
    return precision, recall, f1


def _best(tp: NDArray, fp: NDArray, n: int) -> int:
    f1 = tp * 2.0
    f1 /= tp + fp + n
    return int(np.argmax(f1))


def _listed(values: NDArray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


def _reference_curve(arrays: Arrays, max_points: int) -> dict[str, Any]:
    scores, tp, fp, n = arrays
    thresholds, tp_count, fp_count = _counts(scores, tp, fp)
    reason = None
    if n == 0:
        reason = "no ground truth: recall and F1 undefined"
    elif thresholds.size == 0:
        reason = "no detections"
    best = 0 if reason else _best(tp_count, fp_count, n)
    size = thresholds.shape[0]
    shown = np.arange(size)
    if size > max_points:
        spread = np.round(np.linspace(0, size - 1, max_points - 1)).astype(np.int64)
        shown = np.union1d(spread, [best])
    precision, recall, f1 = _rates(tp_count[shown], fp_count[shown], n)
    at = int(np.searchsorted(shown, best))
    out: dict[str, Any] = {
        "thresholds": thresholds[shown].tolist(),
        "precision": _listed(precision),
        "recall": None if n == 0 else _listed(recall),
        "f1": None if n == 0 else _listed(f1),
        "n_thresholds": size,
        "best": None,
        "undefined_reason": reason,
    }
    if reason is None:
        out["best"] = {
            "threshold": float(thresholds[best]),
            "precision": _listed(precision[at : at + 1])[0],
            "recall": float(recall[at]),
            "f1": float(f1[at]),
        }
    return out


def _reference_point(arrays: Arrays, threshold: float | None) -> dict[str, Any]:
    scores, tp, fp, n = arrays
    if threshold is None:
        thresholds, tp_count, fp_count = _counts(scores, tp, fp)
        undefined = thresholds.size == 0 or n == 0
        threshold = float("nan") if undefined else float(thresholds[_best(tp_count, fp_count, n)])
    kept = scores >= threshold
    tp_n, fp_n = int(tp[kept].sum()), int(fp[kept].sum())
    rates = [float(v[0]) for v in _rates(np.array([tp_n]), np.array([fp_n]), n)]
    out: dict[str, Any] = {"tp": tp_n, "fp": fp_n, "fn": n - tp_n}
    for name, value in zip(("threshold", "precision", "recall", "f1"), [threshold, *rates]):
        out[name] = None if np.isnan(value) else value
    return out


def _case(seed: int, decimals: int | None) -> tuple[Matching, CocoParams, NDArray[np.int64]]:
    return matched_random_case(
        seed, n_images=12, dets_per_gt=(1, 2, 3), crowd_rate=0.2, score_decimals=decimals
    )


def _by_class(matching: Matching) -> tuple[list[Arrays], Arrays]:
    """Each class's detections, and all of them pooled (sorted by descending score)."""
    tp = matching.true_positive[0, 0]
    fp = ~tp & ~matching.ignored[0, 0]
    n_positive = matching.n_positive[:, 0]
    bounds = np.searchsorted(matching.det_class, np.arange(n_positive.shape[0] + 1))
    classes: list[Arrays] = []
    for k in range(n_positive.shape[0]):
        sl = slice(bounds[k], bounds[k + 1])
        classes.append((matching.det_score[sl], tp[sl], fp[sl], int(n_positive[k])))
    order = np.argsort(-matching.det_score, kind="stable")
    pooled = (matching.det_score[order], tp[order], fp[order], int(n_positive.sum()))
    return classes, pooled


CASES = [(seed, decimals) for seed in range(3) for decimals in (1, None)]


@pytest.mark.parametrize(("seed", "decimals"), CASES)
@pytest.mark.parametrize("max_points", [2, 3, 7, 200])
def test_curves_equal_class_by_class(seed: int, decimals: int | None, max_points: int) -> None:
    matching, params, category_ids = _case(seed, decimals)
    section = f1_curves_section(matching, params, category_ids.tolist(), max_points)
    classes, pooled = _by_class(matching)
    for cat_id, arrays, curve in zip(category_ids.tolist(), classes, section["per_class"]):
        expected = _reference_curve(arrays, max_points)
        assert json.dumps(curve) == json.dumps({"category_id": cat_id, **expected}), cat_id
        assert json.dumps(f1_curve(*arrays, max_points)) == json.dumps(expected)
    assert json.dumps(section["overall"]) == json.dumps(_reference_curve(pooled, max_points))


@pytest.mark.parametrize(("seed", "decimals"), CASES)
@pytest.mark.parametrize("threshold", [None, 0.0, 0.5, 0.55, 2.0])
def test_points_equal_class_by_class(seed: int, decimals: int | None, threshold: Any) -> None:
    matching, params, category_ids = _case(seed, decimals)
    points = operating_points(matching, params, category_ids, score_threshold=threshold)
    out = points.to_dict()
    classes, pooled = _by_class(matching)
    for arrays, row in zip(classes, out["per_class"]):
        assert json.dumps(row["best_f1"]) == json.dumps(_reference_point(arrays, None))
        if threshold is not None:
            assert json.dumps(row["at_threshold"]) == json.dumps(
                _reference_point(arrays, threshold)
            )
    assert json.dumps(out["overall_best_f1"]) == json.dumps(_reference_point(pooled, None))
    if threshold is not None:
        expected = _reference_point(pooled, threshold)
        assert json.dumps(out["overall_at_threshold"]) == json.dumps(expected)


def test_the_cases_have_each_kind_of_curve() -> None:
    # Guards the tests above against cases that miss a branch of the per-class code.
    kinds = set()
    for seed, decimals in CASES:
        matching, params, category_ids = _case(seed, decimals)
        section = f1_curves_section(matching, params, category_ids.tolist(), 7)
        for curve in section["per_class"]:
            kinds.add(curve["undefined_reason"])
            kinds.add("thinned" if curve["n_thresholds"] > 7 else "whole")
            kinds.add("precision undefined" if None in curve["precision"] else "")
    assert {None, "no detections", "no ground truth: recall and F1 undefined"} <= kinds
    assert {"thinned", "whole", "precision undefined"} <= kinds


def test_a_score_shared_across_runs_counts_in_each() -> None:
    # Run 0 ends on the score run 2 starts with; run 1 is empty.
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.2])
    tp = np.array([True, True, False, True, False])
    bounds = np.array([0, 3, 3, 5])
    counts = counts_by_threshold(scores, tp, ~tp, bounds)
    assert counts.thresholds.tolist() == [0.9, 0.5, 0.5, 0.2]
    assert counts.tp.tolist() == [1, 2, 1, 1]
    assert counts.fp.tolist() == [0, 1, 0, 1]
    assert counts.start.tolist() == [0, 2, 2, 4]
    pooled = pooled_counts(counts)
    assert pooled.thresholds.tolist() == [0.9, 0.5, 0.2]
    assert pooled.tp.tolist() == [1, 3, 3]
    assert pooled.fp.tolist() == [0, 1, 2]


def test_counts_are_kept_while_the_matching_lives() -> None:
    matching, _, _ = _case(0, 1)
    counts = section_counts(matching, 0, 0)
    assert section_counts(matching, 0, 0) is counts  # the F1 curves reuse the points' counts
    assert section_counts(matching, 1, 0) is not counts
    alive = weakref.ref(matching)
    del matching
    gc.collect()
    assert alive() is None
