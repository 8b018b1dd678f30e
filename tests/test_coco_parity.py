"""``evaluator.evaluate_coco`` against pycocotools and the slow oracle: exactly equal.

Same cases and parameter variants as tests/test_coco_oracle.py. Every comparison is
exact (0.0 difference) on the 12 stats and the full precision (T, R, K, A, M) and recall
(T, K, A, M) arrays, laid out as pycocotools' ``COCOeval.eval``.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest
from coco_cases import (
    all_cases,
    case_variant_ids,
    expected_without_detections,
    oracle_result,
    pycocotools_result,
    run_pycocotools,
    variant_options,
)

evaluator = pytest.importorskip("evaluator")
if not hasattr(evaluator, "evaluate_coco"):
    pytest.skip("evaluator.evaluate_coco does not exist yet (issue 2)", allow_module_level=True)


def _evaluate(case_name: str, **options: Any) -> Any:
    """``evaluate_coco`` on copies of a case, its data warnings silenced."""
    case = all_cases()[case_name]
    gt, predictions = copy.deepcopy(case.gt), copy.deepcopy(case.predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", evaluator.DataWarning)
        return evaluator.evaluate_coco(gt, predictions, **options)


@pytest.mark.parametrize(
    ("case_name", "variant_name"),
    [pytest.param(c, v, id=f"{c}-{v}") for c, v in case_variant_ids()],
)
def test_evaluate_coco_equals_pycocotools_and_oracle(case_name: str, variant_name: str) -> None:
    report = _evaluate(case_name, **variant_options(variant_name))
    for reference in (
        pycocotools_result(case_name, variant_name),
        oracle_result(case_name, variant_name),
    ):
        np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
        np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
        np.testing.assert_array_equal(report.recall, reference.recall, strict=True)


@pytest.mark.parametrize("use_cats", [True, False])
def test_empty_predictions_by_reasoning(use_cats: bool) -> None:
    report = _evaluate("empty-predictions", use_cats=use_cats)
    precision, recall, stats = expected_without_detections(
        all_cases()["empty-predictions"].gt, use_cats=use_cats
    )
    np.testing.assert_array_equal(report.precision, precision, strict=True)
    np.testing.assert_array_equal(report.recall, recall, strict=True)
    np.testing.assert_array_equal(report.stats, stats, strict=True)


def test_evaluate_coco_leaves_its_inputs_alone() -> None:
    # pycocotools' loadRes writes id/area/iscrowd into the caller's results; we must not.
    case = all_cases()["random-4"]
    gt, predictions = copy.deepcopy(case.gt), copy.deepcopy(case.predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", evaluator.DataWarning)
        evaluator.evaluate_coco(gt, predictions)
    assert gt == case.gt
    assert predictions == case.predictions


@pytest.mark.parametrize("case_name", ["random-3", "more-than-100-dets"])
def test_pair_chunks_do_not_change_the_matching(
    case_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _evaluate(case_name)
    # Many chunks of groups, detections and classes, on several threads.
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 1)
    monkeypatch.setenv("DETEVAL_THREADS", "4")
    chunked = _evaluate(case_name)
    np.testing.assert_array_equal(chunked.precision, whole.precision, strict=True)
    np.testing.assert_array_equal(chunked.recall, whole.recall, strict=True)


def test_an_overflowing_iou_is_taken_as_pycocotools_takes_it() -> None:
    # Finite boxes so large that x + w overflows: the IoU is inf / inf = NaN, and
    # pycocotools, which skips a candidate only when iou < best, takes it (and then every
    # later free one). Its answer here is AP 0.9999999999999998, recall 1.
    huge = [1e308, 1e308, 1e308, 1e308]
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": huge, "area": 1.0, "iscrowd": 0},
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 2, 2],
                "area": 4.0,
                "iscrowd": 0,
            },
        ],
    }
    predictions = [
        {"image_id": 1, "category_id": 1, "bbox": huge, "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.8},
    ]
    reference = run_pycocotools(gt, predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", evaluator.DataWarning)
        report = evaluator.evaluate_coco(copy.deepcopy(gt), copy.deepcopy(predictions))
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.recall, reference.recall, strict=True)
