"""Precision, recall and F1 at a score threshold, and the F1-optimal threshold.

The reference is a plain loop over labelled detections, written here from the
definitions: a detection is a true positive, a false positive, or ignored (matched to
a crowd region: neither); at threshold ``t`` the detections scoring ``>= t`` count;
P = TP / (TP + FP), R = TP / positives, F1 = 2PR / (P + R); the best threshold is
the distinct score with the highest F1 (the highest such score on ties, compared as
exact fractions). Labels come from hand-built cases (worked out in the comments) and,
on random datasets, from the slow oracle's matching in ``tests/coco_oracle.py``.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case
from coco_oracle import evaluate_groups, load_detections, load_ground_truth, make_params

from evaluator import DataWarning, evaluate_coco

Labelled = list[tuple[float, str]]  # (score, "tp" | "fp" | "ignored")


def reference_point(entries: Labelled, n_positive: int, threshold: float | None) -> dict:
    """The point at ``threshold`` (None: the best-F1 one), as the report writes it."""
    if threshold is None:
        best: tuple[Fraction, float] | None = None
        for candidate in sorted({score for score, _ in entries}, reverse=True):
            tp = sum(1 for s, o in entries if s >= candidate and o == "tp")
            fp = sum(1 for s, o in entries if s >= candidate and o == "fp")
            if n_positive == 0:
                continue
            f1 = Fraction(2 * tp, 2 * tp + fp + (n_positive - tp))
            if best is None or f1 > best[0]:
                best = (f1, candidate)
        if best is None:
            return _counts(None, 0, 0, n_positive)
        threshold = best[1]
    tp = sum(1 for s, o in entries if s >= threshold and o == "tp")
    fp = sum(1 for s, o in entries if s >= threshold and o == "fp")
    return _counts(threshold, tp, fp, n_positive)


def _counts(threshold: float | None, tp: int, fp: int, n_positive: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / n_positive if n_positive else None
    if recall is None:
        f1 = None
    elif precision is None or precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {
        "threshold": threshold,
        "tp": tp,
        "fp": fp,
        "fn": n_positive - tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def assert_point(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if value is None or isinstance(value, int):
            assert got[key] == value, (key, got, expected)
        else:
            assert got[key] == pytest.approx(value, rel=1e-12, abs=0), (key, got, expected)


def _points(gt: dict, predictions: list, **options: Any) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(gt, predictions, **options).to_dict()["operating_points"]


# --- a hand-built case ----------------------------------------------------------------------

HAND_GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 0, 10, 10], "area": 100},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
        {
            "id": 4,
            "image_id": 2,
            "category_id": 1,
            "bbox": [50, 50, 40, 40],
            "area": 1600,
            "iscrowd": 1,
        },
        {"id": 5, "image_id": 2, "category_id": 3, "bbox": [30, 30, 10, 10], "area": 100},
    ],
}


def _det(image_id: int, category_id: int, bbox: list, score: float) -> dict:
    return {"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": score}


HAND_PREDICTIONS = [
    _det(1, 1, [0, 0, 10, 10], 0.9),  # takes GT 1: TP
    _det(1, 1, [0, 0, 10, 10], 0.8),  # GT 1 already taken: FP
    _det(2, 1, [0, 0, 10, 10], 0.7),  # GT 3: TP
    _det(2, 1, [55, 55, 10, 10], 0.6),  # inside the crowd region: ignored
    _det(2, 1, [60, 60, 10, 10], 0.6),  # the crowd region absorbs it too: ignored
    _det(1, 1, [100, 100, 5, 5], 0.5),  # on nothing: FP
    _det(1, 1, [20, 0, 10, 10], 0.3),  # GT 2: TP
    _det(1, 2, [0, 0, 5, 5], 0.4),  # class b has no GT: FP
]
# Class a: 3 positives (the crowd region is not one). Counting by threshold:
#   0.9: 1 TP 0 FP, F1 1/2;  0.8: 1/1, 2/5;  0.7 and 0.6: 2/1, 2/3;  0.5: 2/2, 4/7;
#   0.3: 3 TP 2 FP, F1 3/4 -> the best. At 0.65: 2 TP 1 FP.
HAND_LABELS: dict[int, Labelled] = {
    1: [(0.9, "tp"), (0.8, "fp"), (0.7, "tp"), (0.6, "ignored"), (0.6, "ignored")]
    + [(0.5, "fp"), (0.3, "tp")],
    2: [(0.4, "fp")],
    3: [],
}
HAND_POSITIVES = {1: 3, 2: 0, 3: 1}


def test_hand_labels_give_the_worked_out_numbers() -> None:
    # The reference itself, against the values worked out by hand above.
    best = reference_point(HAND_LABELS[1], 3, None)
    assert (best["threshold"], best["tp"], best["fp"]) == (0.3, 3, 2)
    assert best["f1"] == pytest.approx(0.75, rel=1e-15)
    at = reference_point(HAND_LABELS[1], 3, 0.65)
    assert (at["tp"], at["fp"], at["precision"]) == (2, 1, 2 / 3)
    pooled = reference_point(HAND_LABELS[1] + HAND_LABELS[2], 4, None)
    assert (pooled["threshold"], pooled["tp"], pooled["fp"]) == (0.3, 3, 3)
    assert pooled["f1"] == pytest.approx(0.6, rel=1e-15)


@pytest.mark.parametrize("threshold", [None, 0.65, 0.3, 0.95])
def test_hand_case_per_class(threshold: float | None) -> None:
    options = {} if threshold is None else {"score_threshold": threshold}
    points = _points(HAND_GT, HAND_PREDICTIONS, **options)
    assert points["iou_threshold"] == 0.5
    assert points["score_threshold"] == threshold
    assert [row["category_id"] for row in points["per_class"]] == [1, 2, 3]
    for row in points["per_class"]:
        k = row["category_id"]
        assert_point(row["best_f1"], reference_point(HAND_LABELS[k], HAND_POSITIVES[k], None))
        if threshold is None:
            assert "at_threshold" not in row
        else:
            expected = reference_point(HAND_LABELS[k], HAND_POSITIVES[k], threshold)
            assert_point(row["at_threshold"], expected)


@pytest.mark.parametrize("threshold", [None, 0.65])
def test_hand_case_pooled(threshold: float | None) -> None:
    options = {} if threshold is None else {"score_threshold": threshold}
    points = _points(HAND_GT, HAND_PREDICTIONS, **options)
    everything = [entry for labels in HAND_LABELS.values() for entry in labels]
    n_positive = sum(HAND_POSITIVES.values())
    assert_point(points["overall_best_f1"], reference_point(everything, n_positive, None))
    if threshold is None:
        assert "overall_at_threshold" not in points
    else:
        expected = reference_point(everything, n_positive, threshold)
        assert_point(points["overall_at_threshold"], expected)


def test_class_without_ground_truth_is_null_with_a_reason() -> None:
    points = _points(HAND_GT, HAND_PREDICTIONS, score_threshold=0.1)
    row_b = points["per_class"][1]
    assert row_b["category_id"] == 2
    for point in (row_b["best_f1"], row_b["at_threshold"]):
        assert point["recall"] is None and point["f1"] is None
    assert row_b["at_threshold"]["fp"] == 1 and row_b["at_threshold"]["precision"] == 0.0
    assert "no ground truth" in row_b["undefined_reason"]
    # Classes with ground truth carry no reason.
    assert "undefined_reason" not in points["per_class"][0]
    assert "undefined_reason" not in points["per_class"][2]


def test_class_with_ground_truth_but_no_detections_has_recall_zero() -> None:
    row_c = _points(HAND_GT, HAND_PREDICTIONS)["per_class"][2]
    assert_point(row_c["best_f1"], _counts(None, 0, 0, 1))
    assert row_c["best_f1"]["recall"] == 0.0 and row_c["best_f1"]["f1"] == 0.0


def test_class_agnostic_pools_into_one_row() -> None:
    # Here no detection changes outcome when classes are ignored (class b's box overlaps
    # GT 1 with IoU 0.25 only), so the single row is the pooled point of the hand case.
    points = _points(HAND_GT, HAND_PREDICTIONS, use_cats=False)
    (row,) = points["per_class"]
    assert row["category_id"] == -1
    everything = [entry for labels in HAND_LABELS.values() for entry in labels]
    assert_point(row["best_f1"], reference_point(everything, 4, None))
    assert_point(points["overall_best_f1"], row["best_f1"])


def test_the_iou_threshold_matters() -> None:
    # IoU of the detection with the GT is 80/120 = 2/3: a TP at 0.5, a FP at 0.75.
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    predictions = [_det(1, 1, [2, 0, 10, 10], 0.9)]
    at_half = _points(gt, predictions)
    at_75 = _points(gt, predictions, iou_thresholds=[0.75, 0.9])
    assert at_75["iou_threshold"] == 0.75
    assert_point(at_half["overall_best_f1"], _counts(0.9, 1, 0, 1))
    assert_point(at_75["overall_best_f1"], _counts(0.9, 0, 1, 1))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_score_threshold_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="score_threshold: expected a finite number"):
        _points(HAND_GT, HAND_PREDICTIONS, score_threshold=bad)


# --- random datasets, labels from the slow oracle ------------------------------------------


def _oracle_labels(gt: dict, predictions: list, t_value: float) -> tuple[dict, dict]:
    """Per category id: labelled detections and positives, at IoU ``t_value``, area all."""
    params = make_params()
    image_ids, category_ids, gt_groups = load_ground_truth(gt, use_cats=True)
    dt_groups = load_detections(predictions, image_ids)
    evals = evaluate_groups(gt_groups, dt_groups, image_ids, category_ids, params)
    t = int(np.flatnonzero(params.iou_thresholds == t_value)[0])
    labels: dict[int, Labelled] = {c: [] for c in category_ids}
    positives = dict.fromkeys(category_ids, 0)
    for (k, a, _), group in evals.items():
        if params.area_labels[a] != "all":
            continue
        category = category_ids[k]
        positives[category] += sum(not flag for flag in group.gt_ignored)
        for d, score in enumerate(group.scores):
            if group.dt_ignored[t][d]:
                labels[category].append((score, "ignored"))
            else:
                labels[category].append((score, "tp" if group.matched_gt_ids[t][d] else "fp"))
    return labels, positives


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_cases_against_the_oracle_labels(seed: int) -> None:
    gt, predictions = random_case(seed, n_images=8, crowded_dets=3 if seed % 2 else 0)
    threshold = float(np.median([p["score"] for p in predictions]))
    points = _points(gt, predictions, score_threshold=threshold)
    labels, positives = _oracle_labels(gt, predictions, 0.5)
    assert [row["category_id"] for row in points["per_class"]] == list(labels)
    for row in points["per_class"]:
        k = row["category_id"]
        assert_point(row["best_f1"], reference_point(labels[k], positives[k], None))
        assert_point(row["at_threshold"], reference_point(labels[k], positives[k], threshold))
    everything = [entry for per_class in labels.values() for entry in per_class]
    n_positive = sum(positives.values())
    assert_point(points["overall_best_f1"], reference_point(everything, n_positive, None))
    expected = reference_point(everything, n_positive, threshold)
    assert_point(points["overall_at_threshold"], expected)
