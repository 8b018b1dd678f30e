"""Real segm data against pycocotools: exactly equal, and equal to the published numbers.

- cocoapi's fake-segm set (``shared/reference-data/cocoapi-val2014-fake100``: 100 val2014
  images, 839 GT with 9 crowd RLE, 734 RLE results without ``bbox``), from the file
  paths and from the parsed JSON: the 12 stats and the whole precision, recall and scores
  arrays equal live pycocotools 2.0.11; the stats equal those recorded in
  ``expected-pycocotools.json`` (``extra_segm_stats``, full precision) and, rounded to
  3 decimals, those cocoapi prints in ``val2014_fake_eval_res.txt``.
- faster_coco_eval's polygon pair (tests/reference-data/segm/, see SOURCES.md there): as
  it is (polygon results with a ``bbox``, which pycocotools scores) and as faster_coco_eval's
  test turns it (one RLE per result, no ``bbox``), against pycocotools and its published
  stats.
- detectron2's ``test_fast_eval`` pairs (``shared/reference-data/peer-fixtures``): the ones
  pycocotools scores are equal; where pycocotools fails, ours warns or refuses with a
  location, as each test says.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import PARAM_VARIANTS
from cocoeval_reference import FullScores, assert_same
from pycocotools import mask as mask_utils
from segm_cases import Doc, run_pycocotools_segm

from evaluator import DataWarning, InputError, evaluate_coco

# pycocotools' decode builds its array with a pre-NumPy-2 __array__
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _shared_dir() -> Path:
    configured = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"


REFERENCE_DIR = _shared_dir() / "reference-data"
COCOAPI_DIR = REFERENCE_DIR / "cocoapi-val2014-fake100"
GT_FILE = COCOAPI_DIR / "instances_val2014_100.json"
SEGM_FILE = COCOAPI_DIR / "instances_val2014_fakesegm100_results.json"
DETECTRON2_DIR = REFERENCE_DIR / "peer-fixtures" / "detectron2"
SEGM_DIR = Path(__file__).parent / "reference-data" / "segm"
FASTER = SEGM_DIR / "MiXaiLL76-faster_coco_eval"

needs_shared = pytest.mark.skipif(
    not SEGM_FILE.is_file(),
    reason=f"reference data not found: {SEGM_FILE} (put shared/ beside the repository "
    "or set DETEVAL_SHARED_DIR)",
)

# faster_coco_eval tests/test_basic.py::test_coco_eval, its 12 stats (see SOURCES.md).
FASTER_COCO_EVAL_PUBLISHED = [
    0.6947194719471946,
    0.6947194719471946,
    0.6947194719471946,
    -1.0,
    0.7367986798679867,
    0.0,
    0.6666666666666666,
    0.75,
    0.75,
    -1.0,
    0.7916666666666666,
    0.0,
]

AS_FILES = pytest.mark.parametrize("as_files", [True, False], ids=["files", "parsed"])


def evaluate_ours(gt: Any, results: Any, **options: Any) -> tuple[Any, list[str]]:
    """``evaluate_coco`` for segm, and the messages of the data warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_coco(gt, results, iou_type="segm", **options)
    return report, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


# cocoapi's fake-segm set --------------------------------------------------------------


@functools.cache
def cocoapi_pycocotools(variant: str = "default") -> FullScores:
    options = {v.name: v.options for v in PARAM_VARIANTS}[variant]
    return run_pycocotools_segm(load(GT_FILE), load(SEGM_FILE), **options)


def cocoapi_source(as_files: bool) -> tuple[Any, Any]:
    return (GT_FILE, SEGM_FILE) if as_files else (load(GT_FILE), load(SEGM_FILE))


def printed_segm_stats() -> list[float]:
    """The 12 numbers cocoapi prints under ``type=segm`` in val2014_fake_eval_res.txt."""
    text = (COCOAPI_DIR / "val2014_fake_eval_res.txt").read_text()
    block = text.split("type=segm", 1)[1].split("type=", 1)[0]
    return [float(v) for v in re.findall(r"\] = (-?\d\.\d{3})$", block, re.M)]


@needs_shared
@AS_FILES
def test_cocoapi_fake_segm_equals_pycocotools(as_files: bool) -> None:
    report, warned = evaluate_ours(*cocoapi_source(as_files))
    assert warned == []
    assert_same(report, cocoapi_pycocotools())


@needs_shared
@AS_FILES
def test_cocoapi_fake_segm_equals_the_recorded_and_printed_stats(as_files: bool) -> None:
    report, _ = evaluate_ours(*cocoapi_source(as_files))
    recorded = load(REFERENCE_DIR / "expected-pycocotools.json")["cocoapi-val2014-fake100"]
    expected = np.array(recorded["extra_segm_stats"], dtype=np.float64)
    np.testing.assert_array_equal(report.stats, expected, strict=True)
    printed = printed_segm_stats()
    assert len(printed) == 12
    assert [round(float(s), 3) for s in report.stats] == printed


@needs_shared
@pytest.mark.parametrize("variant", ["iou-linspace", "area-custom", "class-agnostic"])
def test_cocoapi_fake_segm_equals_pycocotools_under_other_parameters(variant: str) -> None:
    options = {v.name: v.options for v in PARAM_VARIANTS}[variant]
    report, _ = evaluate_ours(GT_FILE, SEGM_FILE, **options)
    assert_same(report, cocoapi_pycocotools(variant))


# faster_coco_eval's polygon pair --------------------------------------------------------


def merged_without_bbox(gt: Doc, results: list[Doc]) -> list[Doc]:
    """The results as faster_coco_eval's test_coco_eval builds them: each result's
    polygons as one RLE (``merge(frPyObjects(...))``, counts bytes), no ``bbox``."""
    sizes = {image["id"]: (image["height"], image["width"]) for image in gt["images"]}
    return [
        {
            "image_id": r["image_id"],
            "category_id": r["category_id"],
            "iscrowd": r["iscrowd"],
            "id": r["id"],
            "score": r["score"],
            "segmentation": mask_utils.merge(
                mask_utils.frPyObjects(r["segmentation"], *sizes[r["image_id"]])
            ),
        }
        for r in results
    ]


@AS_FILES
def test_faster_coco_eval_polygon_results_with_bbox_equal_pycocotools(as_files: bool) -> None:
    # The first result has a bbox: loadRes' bbox branch (area w*h), and COCOeval
    # rasterises the polygon results. Ours does the same, with nothing to warn about.
    gt_path, dt_path = FASTER / "gt_dataset.json", FASTER / "dt_dataset.json"
    gt, results = load(gt_path), load(dt_path)
    report, warned = evaluate_ours(*((gt_path, dt_path) if as_files else (gt, results)))
    assert warned == []
    assert_same(report, run_pycocotools_segm(gt, results))
    assert report.stats[4] != FASTER_COCO_EVAL_PUBLISHED[4]  # box areas move AP medium


def test_faster_coco_eval_rle_results_equal_pycocotools_and_the_published_stats() -> None:
    gt = load(FASTER / "gt_dataset.json")
    results = merged_without_bbox(gt, load(FASTER / "dt_dataset.json"))
    report, warned = evaluate_ours(gt, copy.deepcopy(results))
    assert warned == []
    assert_same(report, run_pycocotools_segm(gt, results))
    assert report.stats.tolist() == FASTER_COCO_EVAL_PUBLISHED


def test_every_stored_file_is_used() -> None:
    stored = {p.relative_to(SEGM_DIR).as_posix() for p in SEGM_DIR.rglob("*.json")}
    assert stored == {
        "MiXaiLL76-faster_coco_eval/gt_dataset.json",
        "MiXaiLL76-faster_coco_eval/dt_dataset.json",
    }


def test_every_stored_file_has_the_sha256_its_sources_give() -> None:
    sources = (SEGM_DIR / "SOURCES.md").read_text()
    listed = dict(re.findall(r"^\| `([^`/]+\.json)` \|.*\| ([0-9a-f]{64}) \|$", sources, re.M))
    stored = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SEGM_DIR.rglob("*.json")}
    assert listed == stored


# detectron2's test_fast_eval pairs ----------------------------------------------------


def detectron2_pair(case: str) -> tuple[Doc, list[Doc]]:
    return load(DETECTRON2_DIR / case / "gt.json"), load(DETECTRON2_DIR / case / "dets.json")


@needs_shared
@pytest.mark.parametrize("case", ["fast-eval-full", "fast-eval-empty-gt"])
def test_detectron2_pairs_equal_pycocotools(case: str) -> None:
    gt, results = detectron2_pair(case)
    report, _ = evaluate_ours(gt, results)
    assert_same(report, run_pycocotools_segm(gt, results))


@needs_shared
@pytest.mark.parametrize(("case", "field"), [("fast-eval-omit-gt-area", "area"),
                                             ("fast-eval-omit-gt-iscrowd", "iscrowd")])  # fmt: skip
def test_detectron2_ground_truth_missing_a_field_equals_pycocotools_once_filled(
    case: str, field: str
) -> None:
    # pycocotools raises KeyError; ours warns and fills the field (area: the box's w*h,
    # iscrowd: 0), which is what pycocotools gives on that repair.
    gt, results = detectron2_pair(case)
    with pytest.raises(KeyError):
        run_pycocotools_segm(gt, results)
    report, warned = evaluate_ours(gt, results)
    assert any(f"no '{field}'" in message for message in warned)
    repaired = copy.deepcopy(gt)
    for annotation in repaired["annotations"]:
        annotation.setdefault("area", annotation["bbox"][2] * annotation["bbox"][3])
        annotation.setdefault("iscrowd", 0)
    assert_same(report, run_pycocotools_segm(repaired, results))


@needs_shared
def test_detectron2_ground_truth_without_segmentation_is_refused_with_its_location() -> None:
    gt, results = detectron2_pair("fast-eval-omit-gt-segmentation")
    with pytest.raises(KeyError):
        run_pycocotools_segm(gt, results)
    with pytest.raises(InputError) as raised:
        evaluate_ours(gt, results)
    assert raised.value.location == "ground_truth.annotations[0].segmentation"


@needs_shared
def test_detectron2_results_without_segmentation_are_scored_as_pycocotools_scores_them() -> None:
    gt, results = detectron2_pair("fast-eval-omit-dt-segmentation")
    report, _ = evaluate_ours(gt, results)
    assert_same(report, run_pycocotools_segm(gt, results))
