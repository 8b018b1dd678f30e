"""Every COCO pair from other projects' test suites and issue threads, against pycocotools.

``shared/reference-data/peer-fixtures/<source>/<case>/`` holds ``gt.json`` and
``dets.json`` (``SOURCES.md`` there says where each came from). :data:`EXPECTED` says
what each must give, one line per case:

* :class:`Same`: pycocotools 2.0.11 scores it, and ``evaluate_coco`` and
  ``deteval evaluate --json`` equal it with a difference of 0.0 (the 12 stats; the library
  also the whole precision, recall and scores arrays), warning exactly as listed;
* :class:`Crashes`: pycocotools raises (the test checks that it does). Then ours either
  scores it with the listed warnings, equal to pycocotools on the input repaired the way
  the warning says (``repaired``), or refuses it with a located error (exit 2), as the
  README promises.

A new fixture is one more line in :data:`EXPECTED`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import Scores, run_pycocotools
from test_cli import run, strict_json
from test_reference_data import REFERENCE_DIR

from evaluator import DataWarning, InputError, evaluate_coco

PEER_DIR = REFERENCE_DIR / "peer-fixtures"
if not PEER_DIR.is_dir():
    pytest.skip(f"peer fixtures not found at {PEER_DIR}", allow_module_level=True)

Doc = dict[str, Any]
Pair = tuple[Doc, list[Doc]]


@dataclass(frozen=True)
class Same:
    """pycocotools scores the pair; ours gives the same numbers and these warnings.

    ``warns`` holds one fragment per expected ``DataWarning``, each found in exactly one.
    """

    warns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Crashes:
    """pycocotools raises ``exception``; ours warns and scores the ``repaired`` pair as
    pycocotools does, or (``error`` set) refuses with an error at that location."""

    exception: type[BaseException]
    warns: tuple[str, ...] = ()
    repaired: Callable[[Doc, list[Doc]], Pair] | None = None
    error: str | None = None


def _fill(field: str, value: Callable[[Doc], Any]) -> Callable[[Doc, list[Doc]], Pair]:
    """The repair a warning announces: every annotation without ``field`` gets one."""

    def repaired(gt: Doc, dets: list[Doc]) -> Pair:
        gt = copy.deepcopy(gt)
        for ann in gt["annotations"]:
            ann.setdefault(field, value(ann))
        return gt, dets

    return repaired


def _as_is(gt: Doc, dets: list[Doc]) -> Pair:
    return gt, dets  # run_pycocotools scores an empty result list as what it means


ID0 = "annotation id 0 found"
IGNORE = "the 'ignore' field is present"
NO_GT = "ground_truth.annotations: no annotation to evaluate"

# fmt: off
EXPECTED: dict[str, Same | Crashes] = {
    "cocoapi_issues/issue-572-id0-ignore-field": Same((IGNORE, ID0)),
    "cocoapi_issues/issue-638-gt-as-dets-id0": Same((ID0,)),
    "cocoapi_issues/issue-672-perfect-overlap-id0": Same((ID0,)),
    "detectron2/fast-eval-empty-dt": Crashes(IndexError, ("predictions: no results",), _as_is),
    "detectron2/fast-eval-empty-gt": Same((NO_GT,)),
    "detectron2/fast-eval-full": Same(),
    "detectron2/fast-eval-omit-dt-segmentation": Same(),
    "detectron2/fast-eval-omit-gt-area": Crashes(
        KeyError, ("2 annotations have no 'area'",),
        _fill("area", lambda ann: ann["bbox"][2] * ann["bbox"][3])),
    "detectron2/fast-eval-omit-gt-iscrowd": Crashes(
        KeyError, ("2 annotations have no 'iscrowd' (first: ground_truth.annotations[0])",),
        _fill("iscrowd", lambda ann: 0)),
    "detectron2/fast-eval-omit-gt-segmentation": Same(),
    "faster_coco_eval/cocoapi-val2014-fakebbox100": Same(),
    "faster_coco_eval/dataset-basic": Same(),
    "faster_coco_eval/dataset-ignore": Crashes(AssertionError, error="predictions[0].image_id"),
    "faster_coco_eval/keypoints-dataset-bbox": Same(),
    "faster_coco_eval/test-coco-metric-dummy": Same(),
    "hotcoco/builder-1x1-image": Same(),
    "hotcoco/builder-all-crowd": Same(),
    "hotcoco/builder-area-boundary": Same(),
    "hotcoco/builder-bbox-outside-image": Same(),
    "hotcoco/builder-cat-no-gt": Same(),
    "hotcoco/builder-crowd-polygon-seg": Same(),
    "hotcoco/builder-disjoint-image-sets": Same(),
    "hotcoco/builder-dt-unknown-cat": Same(("predictions: 1 results have categories not in",)),
    "hotcoco/builder-iou-at-threshold": Same(),
    "hotcoco/builder-iscrowd-mixed": Same(),
    "hotcoco/builder-max-det-boundary": Same(),
    "hotcoco/builder-no-dt-for-image": Same(),
    "hotcoco/builder-no-gt-for-category": Same(),
    "hotcoco/builder-overlapping-gts": Same(),
    "hotcoco/builder-single-gt-101-dts-tied": Same(),
    "hotcoco/builder-tied-scores": Same(),
    "hotcoco/builder-zero-area-bbox": Same(),
    "hotcoco/fixtures-basic": Same(),
    "hotcoco/fixtures-edge": Same(),
    "hotcoco/fixtures-healthcheck-bad-x-dt-image1": Same((
        "duplicate image ids (1)", "duplicate annotation ids (1)",
        "refer to images not in 'images' (first: ground_truth.annotations[2].image_id = 999)",
        "not in 'categories' (first: ground_truth.annotations[3].category_id = 999)")),
    "hotcoco/fixtures-healthcheck-quality-x-dt-image1": Same((
        "predictions: 1 results have categories not in",)),
    "hotcoco/fixtures-zero-ids": Same((ID0,)),
    "hotcoco/parity-all-crowd": Same(),
    "hotcoco/parity-area-at-boundaries": Same(),
    "hotcoco/parity-empty-gt": Same((NO_GT,)),
    "hotcoco/parity-identical-boxes": Same(),
    "hotcoco/parity-many-detections-few-gt": Same(),
    "hotcoco/parity-single-image-single-cat": Same(),
    "hotcoco/parity-zero-area-boxes": Same(),
    "padilla/val2014-bboxarea-cocoapi-results": Same(),
    "padilla/val2014-bboxarea-dictdets": Same(),
    "podm/sample-3": Same(),
    "podm/sample-cartucho": Same(),
    "supervision/map-mixed-classes-missing": Same(),
    "supervision/map-scenario-1-imperfect-medium": Same(),
    "supervision/map-scenario-3-false-positive": Same(),
    "torchmetrics/test-map-inputs-coco-subset": Same(),
    "torchmetrics/test-map-inputs2-issue943": Same(),
    "torchmetrics/test-map-inputs3-issue981": Same(),
    "torchmetrics/test-missing-gt": Same(),
    "torchmetrics/test-missing-pred": Same(),
}
# fmt: on

SAME = [case for case, outcome in EXPECTED.items() if isinstance(outcome, Same)]
CRASHES = [case for case, outcome in EXPECTED.items() if isinstance(outcome, Crashes)]


def _paths(case: str) -> tuple[Path, Path]:
    return PEER_DIR / case / "gt.json", PEER_DIR / case / "dets.json"


@functools.cache
def _pair(case: str) -> Pair:
    gt_path, dets_path = _paths(case)
    dets = json.loads(dets_path.read_text())
    return json.loads(gt_path.read_text()), dets["annotations"] if isinstance(dets, dict) else dets


def _pycocotools_as_is(case: str) -> tuple[Scores, np.ndarray]:
    """pycocotools on the files as they are: ``COCO``, ``loadRes``, ``COCOeval``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, dets = copy.deepcopy(_pair(case))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    scores = Scores(
        precision=evaluation.eval["precision"],
        recall=evaluation.eval["recall"],
        stats=np.asarray(evaluation.stats, dtype=np.float64),
    )
    return scores, evaluation.eval["scores"]


@functools.cache
def _reference(case: str) -> tuple[Scores, np.ndarray | None]:
    """pycocotools' numbers for a case (a crashing one: on its repaired input)."""
    outcome = EXPECTED[case]
    if isinstance(outcome, Same):
        return _pycocotools_as_is(case)
    assert outcome.repaired is not None
    return run_pycocotools(*outcome.repaired(*_pair(case))), None


def _check_warnings(messages: list[str], fragments: tuple[str, ...]) -> None:
    assert len(messages) == len(fragments), messages
    for fragment in fragments:
        assert sum(fragment in m for m in messages) == 1, (fragment, messages)


def test_every_fixture_has_one_line() -> None:
    found = {f"{p.parent.parent.name}/{p.parent.name}" for p in PEER_DIR.glob("*/*/gt.json")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("case", CRASHES)
def test_pycocotools_crashes_where_the_table_says(case: str) -> None:
    outcome = EXPECTED[case]
    assert isinstance(outcome, Crashes)
    with pytest.raises(outcome.exception):
        _pycocotools_as_is(case)


@pytest.mark.parametrize("case", list(EXPECTED))
def test_library(case: str) -> None:
    outcome = EXPECTED[case]
    if isinstance(outcome, Crashes) and outcome.error is not None:
        with pytest.raises(InputError) as info:
            evaluate_coco(*_paths(case))
        assert info.value.location == outcome.error
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_coco(*_paths(case))
    assert all(issubclass(w.category, DataWarning) for w in caught)
    _check_warnings([str(w.message) for w in caught], outcome.warns)
    reference, scores = _reference(case)
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.recall, reference.recall, strict=True)
    if scores is not None:
        np.testing.assert_array_equal(report.scores, scores, strict=True)


@pytest.mark.parametrize("case", list(EXPECTED))
def test_cli_evaluate_json(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Default sections: also VOC, the confusion matrix and the TIDE breakdown.
    outcome = EXPECTED[case]
    code, out, err = run(capsys, "evaluate", *_paths(case), "--json")
    assert "Traceback" not in err
    if isinstance(outcome, Crashes) and outcome.error is not None:
        assert code == 2
        assert out == ""
        assert err.startswith(f"error: {outcome.error}: ")
        return
    assert code == 0, err
    stats = [-1.0 if v is None else v for v in strict_json(out)["stats"]]
    assert stats == _reference(case)[0].stats.tolist()
    for fragment in outcome.warns:
        assert fragment in err
