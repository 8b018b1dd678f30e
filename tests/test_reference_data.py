"""Every COCO set in shared/reference-data against pycocotools' recorded stats, exactly.

``expected-pycocotools.json`` holds the 12 stats pycocotools 2.0.11 gave on each set
(see the README beside it). Both ``evaluator.evaluate_coco`` (from the file paths, as a
user would call it) and the slow oracle must reproduce them with 0.0 difference, and
agree with each other on the full precision and recall arrays.

The data lives outside the repository, in ``shared/`` beside it (``<X>/main`` and
``<X>/shared``); ``DETEVAL_SHARED_DIR`` overrides that location.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_oracle import OracleResult, evaluate_coco_oracle


def _shared_dir() -> Path:
    configured = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"


REFERENCE_DIR = _shared_dir() / "reference-data"
EXPECTED_FILE = REFERENCE_DIR / "expected-pycocotools.json"

if not EXPECTED_FILE.is_file():
    pytest.skip(
        f"reference data not found: {EXPECTED_FILE} is missing "
        "(put shared/ beside the repository or set DETEVAL_SHARED_DIR)",
        allow_module_level=True,
    )

# (set, ground-truth file, detections file). A detections file may be a dict holding
# its list under "annotations"; padilla-val2014-bboxarea100 has one file of each form.
COCO_SETS: tuple[tuple[str, str, str], ...] = (
    ("cocoapi-val2014-fake100", "instances_val2014_100.json",
     "instances_val2014_fakebbox100_results.json"),
    ("padilla-val2014-bboxarea100", "sampled_gts_bbox_area.json", "cocoapi_results.json"),
    ("padilla-val2014-bboxarea100", "sampled_gts_bbox_area.json", "sampled_bbox_results.json"),
    ("padilla-toyexample-cat", "toy_example_coco.JSON", "coco_dets.json"),
    ("podm-sample3-coco", "groundtruths_coco.json", "detections_coco.json"),
    ("podm-cartucho-sample-coco", "groundtruths_coco.json", "detections_coco.json"),
)  # fmt: skip

PARAMS = [pytest.param(*entry, id=f"{entry[0]}/{entry[2]}") for entry in COCO_SETS]


def _expected_stats(set_name: str) -> np.ndarray:
    expected = json.loads(EXPECTED_FILE.read_text())
    return np.array(expected[set_name]["stats"], dtype=np.float64)


def _paths(set_name: str, gt_file: str, dets_file: str) -> tuple[Path, Path]:
    return REFERENCE_DIR / set_name / gt_file, REFERENCE_DIR / set_name / dets_file


@functools.cache
def _oracle(set_name: str, gt_file: str, dets_file: str) -> OracleResult:
    gt_path, dets_path = _paths(set_name, gt_file, dets_file)
    detections: Any = json.loads(dets_path.read_text())
    if isinstance(detections, dict):
        detections = detections["annotations"]
    return evaluate_coco_oracle(json.loads(gt_path.read_text()), detections)


def _evaluate_coco(set_name: str, gt_file: str, dets_file: str) -> Any:
    evaluator = pytest.importorskip("evaluator")
    if not hasattr(evaluator, "evaluate_coco"):
        pytest.skip("evaluator.evaluate_coco does not exist yet (issue 2)")
    gt_path, dets_path = _paths(set_name, gt_file, dets_file)
    with warnings.catch_warnings():
        # padilla-toyexample-cat has annotation id 0, which evaluate_coco warns about.
        warnings.simplefilter("ignore", evaluator.DataWarning)
        return evaluator.evaluate_coco(gt_path, dets_path)


def test_every_coco_set_of_the_expected_file_is_tested() -> None:
    expected = json.loads(EXPECTED_FILE.read_text())
    tested = {set_name for set_name, _, _ in COCO_SETS}
    assert tested == set(expected) - {"_meta"}


@pytest.mark.parametrize(("set_name", "gt_file", "dets_file"), PARAMS)
def test_oracle_reproduces_pycocotools_stats(set_name: str, gt_file: str, dets_file: str) -> None:
    stats = _oracle(set_name, gt_file, dets_file).stats
    np.testing.assert_array_equal(stats, _expected_stats(set_name), strict=True)


@pytest.mark.parametrize(("set_name", "gt_file", "dets_file"), PARAMS)
def test_evaluate_coco_reproduces_pycocotools_stats(
    set_name: str, gt_file: str, dets_file: str
) -> None:
    report = _evaluate_coco(set_name, gt_file, dets_file)
    np.testing.assert_array_equal(report.stats, _expected_stats(set_name), strict=True)


@pytest.mark.parametrize(("set_name", "gt_file", "dets_file"), PARAMS)
def test_evaluate_coco_arrays_equal_oracle(set_name: str, gt_file: str, dets_file: str) -> None:
    report = _evaluate_coco(set_name, gt_file, dets_file)
    oracle = _oracle(set_name, gt_file, dets_file)
    np.testing.assert_array_equal(report.precision, oracle.precision, strict=True)
    np.testing.assert_array_equal(report.recall, oracle.recall, strict=True)
