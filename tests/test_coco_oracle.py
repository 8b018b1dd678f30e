"""The slow oracle (tests/coco_oracle.py) against pycocotools: exactly equal, always.

Every comparison is exact (0.0 difference): the 12 stats and the full precision
(T, R, K, A, M) and recall (T, K, A, M) arrays, over seeded random datasets and hand
cases, under default and non-default parameters, with and without categories.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from coco_cases import (
    ALL_TRAPS,
    PARAM_VARIANTS,
    all_cases,
    case_variant_ids,
    expected_without_detections,
    oracle_result,
    pycocotools_result,
    random_cases,
)
from coco_oracle import bbox_iou, default_iou_thresholds, evaluate_coco_oracle, recall_thresholds
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import Params


def test_thresholds_are_pycocotools_doubles() -> None:
    params = Params(iouType="bbox")
    np.testing.assert_array_equal(default_iou_thresholds(), params.iouThrs, strict=True)
    np.testing.assert_array_equal(recall_thresholds(), params.recThrs, strict=True)


def _random_box(rng: random.Random) -> list[float]:
    scale = rng.choice((0.01, 1.0, 10.0, 1000.0, 1e5))
    width = rng.choice((0.0, rng.uniform(0, 3) * scale))
    return [rng.uniform(0, 3) * scale, rng.uniform(0, 3) * scale, width, rng.uniform(0, 3) * scale]


def test_bbox_iou_is_bit_identical_to_mask_iou() -> None:
    rng = random.Random(20261127)
    for _ in range(300):
        detections = [_random_box(rng) for _ in range(rng.randint(1, 5))]
        gts = [_random_box(rng) for _ in range(rng.randint(1, 5))]
        # A detection equal to a GT, so that IoU 1 and crowd coverage 1 occur.
        detections.append(list(rng.choice(gts)))
        crowd = [rng.randint(0, 1) for _ in gts]
        expected = mask_utils.iou(detections, gts, crowd)
        ours = [
            [bbox_iou(d, g, bool(c)) for g, c in zip(gts, crowd, strict=True)] for d in detections
        ]
        np.testing.assert_array_equal(np.array(ours), expected, strict=True)


@pytest.mark.parametrize(
    ("case_name", "variant_name"),
    [pytest.param(c, v, id=f"{c}-{v}") for c, v in case_variant_ids()],
)
def test_oracle_equals_pycocotools(case_name: str, variant_name: str) -> None:
    expected = pycocotools_result(case_name, variant_name)
    ours = oracle_result(case_name, variant_name)
    np.testing.assert_array_equal(ours.stats, expected.stats, strict=True)
    np.testing.assert_array_equal(ours.precision, expected.precision, strict=True)
    np.testing.assert_array_equal(ours.recall, expected.recall, strict=True)


def test_unsorted_max_dets_are_sorted_like_pycocotools() -> None:
    # pycocotools sorts maxDets; the M axis follows the sorted order.
    case = all_cases()["random-2"]
    ours = evaluate_coco_oracle(case.gt, case.predictions, max_dets=[100, 1, 10])
    expected = pycocotools_result("random-2", "default")
    np.testing.assert_array_equal(ours.precision, expected.precision, strict=True)
    np.testing.assert_array_equal(ours.stats, expected.stats, strict=True)


def test_random_suite_exercises_every_trap() -> None:
    found = {trap for case in random_cases() for trap in case.traps}
    assert sorted(set(ALL_TRAPS) - found) == []


def test_every_variant_runs_on_random_and_hand_cases() -> None:
    pairs = case_variant_ids()
    for variant in PARAM_VARIANTS:
        names = [name for name, v in pairs if v == variant.name]
        assert any(name.startswith("random-") for name in names), variant.name
        assert "empty-predictions" in names, variant.name


@pytest.mark.parametrize("use_cats", [True, False])
def test_empty_predictions_by_reasoning(use_cats: bool) -> None:
    case = all_cases()["empty-predictions"]
    ours = evaluate_coco_oracle(case.gt, [], use_cats=use_cats)
    precision, recall, stats = expected_without_detections(case.gt, use_cats=use_cats)
    np.testing.assert_array_equal(ours.precision, precision, strict=True)
    np.testing.assert_array_equal(ours.recall, recall, strict=True)
    np.testing.assert_array_equal(ours.stats, stats, strict=True)
    assert (stats == 0.0).all()  # this case has GT in every area range


def test_perfect_detector_by_reasoning() -> None:
    stats = oracle_result("perfect-detector", "default").stats
    # Precision is tp / (tp + fp + np.spacing(1)): one ulp under 1 for tp == 1.
    np.testing.assert_allclose(stats[:6], 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(stats[6:], np.ones(6))


def test_all_misses_by_reasoning() -> None:
    np.testing.assert_array_equal(oracle_result("all-misses", "default").stats, np.zeros(12))


def test_empty_gt_by_reasoning() -> None:
    result = oracle_result("empty-gt-annotations", "default")
    np.testing.assert_array_equal(result.stats, -np.ones(12))
    assert (result.precision == -1).all()
    assert (result.recall == -1).all()


def test_fp_only_class_is_left_out() -> None:
    result = oracle_result("fp-only-class", "default")
    assert (result.precision[:, :, 1] == -1).all()  # class 2: detections, no GT
    assert (result.precision[:, :, 0, 0] >= 0).all()  # class 1 is defined in "all"


def test_annotation_id_zero_is_never_matched() -> None:
    # With ids shifted by one, the detection on GT 0 becomes a true positive.
    case = all_cases()["annotation-id-0"]
    shifted = dict(case.gt, annotations=[dict(a, id=a["id"] + 1) for a in case.gt["annotations"]])
    quirk = oracle_result("annotation-id-0", "default").stats
    fixed = evaluate_coco_oracle(shifted, case.predictions).stats
    assert quirk[1] < fixed[1] == 1.0
