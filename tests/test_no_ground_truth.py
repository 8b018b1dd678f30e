"""Ground truth with nothing to evaluate, and at least one detection: pycocotools' -1s.

pycocotools scores such a pair (every stat -1); the library, every report section and
the CLI must cope too: ``null`` with an ``undefined_reason`` where a number is
undefined, a warning naming the ground truth's annotations, exit 0 and no traceback.
Cases from detectron2 (``test_fast_eval``, ``annotations = []``) and hotcoco
(``test_empty_gt``), and the other ways to have no evaluable annotation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import run_pycocotools
from test_cli import run, strict_json

from evaluator import DataWarning, evaluate_coco, read_report
from evaluator.report.html import render_html

DETS = [
    {"image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 100.0, 100.0], "score": 0.5},
    {"image_id": 2, "category_id": 1, "bbox": [0.0, 0.0, 20.0, 30.0], "score": 0.9},
]


def _gt(annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": annotations,
    }


def _ann(category_id: int, image_id: int = 1) -> dict[str, Any]:
    return {"id": 1, "image_id": image_id, "category_id": category_id,
            "bbox": [10.0, 10.0, 100.0, 100.0], "area": 10000.0, "iscrowd": 0}  # fmt: skip


CASES = {
    "empty-annotations": _gt([]),
    "all-in-undeclared-categories": _gt([_ann(category_id=7)]),
    "all-on-undeclared-images": _gt([_ann(category_id=1, image_id=9)]),
    "all-crowd": _gt([{**_ann(category_id=1), "iscrowd": 1}]),
}
# Detections that are errors; the rest falls in a crowd region and is ignored.
N_BACKGROUND = {"all-crowd": 1}


def _report(gt: dict[str, Any]) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(gt, DETS, extras=True).to_dict()


@pytest.mark.parametrize("case", CASES)
def test_every_stat_is_pycocotools_minus_one(case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        report = evaluate_coco(CASES[case], DETS, extras=True)
    reference = run_pycocotools(CASES[case], DETS)
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.stats, np.full(12, -1.0), strict=True)


@pytest.mark.parametrize("case", CASES)
def test_every_section_says_why_it_is_undefined(case: str) -> None:
    report = _report(CASES[case])
    read_report(report)  # the schema holds
    assert report["stats"] == [None] * 12
    assert all(row["undefined_reason"] for row in report["per_class"])
    for interpolation in ("all_point", "11_point"):
        assert report["voc"][interpolation]["mAP"] is None
        assert report["voc"][interpolation]["undefined_reason"]
    assert report["errors"]["AP50"] is None
    assert report["errors"]["undefined_reason"] == "no class has ground truth"
    n_background = N_BACKGROUND.get(case, len(DETS))
    assert report["errors"]["overall"]["background"]["count"] == n_background
    assert report["f1_curves"]["overall"]["best"] is None
    assert report["f1_curves"]["overall"]["undefined_reason"]
    assert report["operating_points"]["overall_best_f1"]["f1"] is None
    assert report["operating_points"]["undefined_reason"]
    confusion = report["confusion_matrix"]
    assert sum(confusion["counts"][-1]) == n_background  # every error is background
    assert sum(map(sum, confusion["counts"])) + confusion["n_ignored_predictions"] == len(DETS)


@pytest.mark.parametrize("case", CASES)
def test_the_html_page_is_drawn(case: str) -> None:
    page = render_html(_report(CASES[case]))
    assert "Pooled curve undefined: no ground truth" in page


@pytest.mark.parametrize("case", ["empty-annotations", "all-in-undeclared-categories"])
def test_the_warning_names_the_annotations(case: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        evaluate_coco(CASES[case], DETS)
    messages = [str(w.message) for w in caught]
    assert any(
        m.startswith("ground_truth.annotations: no annotation to evaluate") for m in messages
    )


def _write(tmp_path: Path, gt: dict[str, Any]) -> tuple[Path, Path]:
    gt_path, dets_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    dets_path.write_text(json.dumps(DETS))
    return gt_path, dets_path


@pytest.mark.parametrize("case", CASES)
def test_cli_evaluate_and_check(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt_path, dets_path = _write(tmp_path, CASES[case])
    code, out, _ = run(capsys, "evaluate", gt_path, dets_path, "--json")
    assert code == 0
    assert strict_json(out)["stats"] == [None] * 12
    code, out, _ = run(capsys, "evaluate", gt_path, dets_path)
    assert code == 0
    assert "Error breakdown (TIDE" in out
    code, out, _ = run(capsys, "check", gt_path, dets_path, "--min", "AP=0.1")
    assert code == 1  # an undefined metric does not pass a floor
    assert "AP = undefined" in out


def test_cli_process_exits_0_without_traceback(tmp_path: Path) -> None:
    gt_path, dets_path = _write(tmp_path, CASES["empty-annotations"])
    done = subprocess.run(
        [sys.executable, "-m", "deteval", "evaluate", str(gt_path), str(dets_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "ground_truth.annotations: no annotation to evaluate" in done.stderr
