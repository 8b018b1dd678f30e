"""The report object and its JSON: JSON-safe, null for undefined, per-class rows, PR curves.

Numbers are checked against pycocotools' own ``COCOeval.eval["precision"]`` and
``stats`` (via ``tests/coco_cases.run_pycocotools``), and counts against loops over the
input documents.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case, run_pycocotools

from evaluator import CocoReport, DataWarning, evaluate_coco

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
STAT_NAMES += ["AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
ROW_KEYS = {"category_id", "name", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"}
ROW_KEYS |= {"n_gt", "n_pred"}


def _evaluate(gt: Any, predictions: Any, **options: Any) -> CocoReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(gt, predictions, **options)


def _json_round_trip(report: CocoReport) -> dict[str, Any]:
    """to_dict() through strict JSON (no NaN, no Infinity) and back."""
    return json.loads(json.dumps(report.to_dict(), allow_nan=False))


@pytest.fixture(scope="module")
def case() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return random_case(11, n_images=10)


@pytest.fixture(scope="module")
def report(case: tuple[dict[str, Any], list[dict[str, Any]]]) -> CocoReport:
    return _evaluate(*case)


@pytest.fixture(scope="module")
def reference(case: tuple[dict[str, Any], list[dict[str, Any]]]) -> Any:
    return run_pycocotools(*case)


OPTION_SETS = [
    pytest.param({}, id="default"),
    pytest.param({"use_cats": False}, id="class-agnostic"),
    pytest.param({"extras": True, "score_threshold": 0.5}, id="extras-and-threshold"),
    pytest.param({"max_dets": [1]}, id="one-max-det"),
    pytest.param({"iou_thresholds": [0.3, 0.6]}, id="no-iou-50-or-75"),
    pytest.param({"area_ranges": {"tiny": (0, 64)}}, id="no-all-area"),
    pytest.param({"mode": "corrected"}, id="corrected"),
]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("empty", [False, True], ids=["predictions", "no-predictions"])
def test_to_dict_is_strict_json(case: Any, options: dict[str, Any], empty: bool) -> None:
    gt, predictions = case
    report = _evaluate(gt, [] if empty else predictions, **options)
    out = _json_round_trip(report)
    assert list(out)[:3] == ["stats", "metrics", "per_class"]
    assert out == report.to_dict()  # nothing was lost or changed on the way


def test_undefined_is_null(case: Any) -> None:
    gt, predictions = case
    report = _evaluate(gt, predictions, max_dets=[1, 10])  # no third max_dets: 7 stats -1
    out = _json_round_trip(report)
    undefined = report.stats == -1
    assert undefined.sum() >= 7
    assert [v is None for v in out["stats"]] == undefined.tolist()
    assert [out["metrics"][name] is None for name in STAT_NAMES] == undefined.tolist()
    defined = [v for v in out["stats"] if v is not None]
    assert defined == report.stats[~undefined].tolist()


def test_stats_and_metrics_equal_pycocotools(report: CocoReport, reference: Any) -> None:
    assert report.stats.shape == (12,) and report.stats.dtype == np.float64
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    out = _json_round_trip(report)
    assert out["stats"] == reference.stats.tolist()
    assert list(out["metrics"]) == STAT_NAMES
    assert list(out["metrics"].values()) == reference.stats.tolist()


def test_per_class_rows(case: Any, report: CocoReport, reference: Any) -> None:
    gt, predictions = case
    rows = _json_round_trip(report)["per_class"]
    declared = sorted(gt["categories"], key=lambda c: c["id"])
    assert [r["category_id"] for r in rows] == [c["id"] for c in declared]
    assert [r["name"] for r in rows] == [c.get("name", "") for c in declared]
    n_pred = Counter(p["category_id"] for p in predictions)
    for k, row in enumerate(rows):
        assert set(row) >= ROW_KEYS
        cat = row["category_id"]
        # Non-crowd GT inside the "all" area range [0, 1e10] are the positives.
        n_gt = sum(
            1
            for a in gt["annotations"]
            if a["category_id"] == cat and not a["iscrowd"] and 0 <= a["area"] <= 1e10
        )
        assert row["n_gt"] == n_gt
        assert row["n_pred"] == n_pred[cat]  # no image holds > 100 detections of a class
        # AP, AP50, AP75 of the class from pycocotools' precision (area all, maxDets 100).
        for name, t_slice in (("AP", slice(None)), ("AP50", 0), ("AP75", 5)):
            cell = reference.precision[t_slice, :, k, 0, -1]
            expected = float(np.mean(cell[cell > -1])) if (cell > -1).any() else None
            assert row[name] == expected, (cat, name)
        if n_gt == 0:
            assert row["AP"] is None and row["AR100"] is None
            assert row["undefined_reason"] == "no ground truth in this class"
        else:
            assert "undefined_reason" not in row


def test_the_case_has_classes_with_and_without_ground_truth(report: CocoReport) -> None:
    # Guards the per-class test above against a case that covers only one branch.
    assert (report.n_gt == 0).any() and (report.n_gt > 0).any()


def test_pr_curves(report: CocoReport, reference: Any) -> None:
    curves = _json_round_trip(report)["pr_curves"]
    assert curves["recall_thresholds"] == np.linspace(0, 1, 101).tolist()
    assert (curves["area"], curves["max_dets"]) == ("all", 100)
    assert [c["category_id"] for c in curves["per_class"]] == report.category_ids.tolist()
    for k, entry in enumerate(curves["per_class"]):
        assert set(entry["precision"]) == {"0.50", "0.75"}
        for key, t in (("0.50", 0), ("0.75", 5)):
            expected = reference.precision[t, :, k, 0, -1]
            if (expected == -1).all():
                assert entry["precision"][key] is None
            else:
                assert len(entry["precision"][key]) == 101
                assert entry["precision"][key] == expected.tolist()


def test_params_section(report: CocoReport) -> None:
    params = _json_round_trip(report)["params"]
    assert params["iou_thresholds"] == np.linspace(0.5, 0.95, 10).tolist()
    assert params["max_dets"] == [1, 10, 100]
    assert params["area_ranges"] == {
        "all": [0, 1e10],
        "small": [0, 1024],
        "medium": [1024, 9216],
        "large": [9216, 1e10],
    }
    assert (params["use_cats"], params["mode"]) == (True, "pycocotools")


def test_warnings_are_in_the_report() -> None:
    gt, predictions = random_case(12, id_zero=True)
    out = _json_round_trip(_evaluate(gt, predictions))
    assert any("annotation id 0" in w for w in out["warnings"])


def test_report_is_frozen(report: CocoReport) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.stats = np.zeros(12)  # type: ignore[misc]


def test_n_pred_counts_every_prediction_of_the_class() -> None:
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    predictions = [
        {"image_id": 1, "category_id": 1, "bbox": [i, 0, 10, 10], "score": 1 - i / 1000}
        for i in range(150)
    ]
    assert _evaluate(gt, predictions).to_dict()["per_class"][0]["n_pred"] == 150
