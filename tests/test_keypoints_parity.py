"""``evaluate_coco(..., iou_type="keypoints")`` against pycocotools: exactly equal.

Generated keypoint cases (tests/keypoint_cases.py) on four skeletons (COCO's 17-keypoint
person with the default sigmas, CrowdPose's 14, a 5-keypoint face, a single keypoint),
under pycocotools' keypoint defaults and other parameters. Every comparison is exact
(0.0 difference) on the 10 stats and the whole precision, recall and scores arrays, laid
out as pycocotools' ``COCOeval.eval``. :func:`traps_in` checks that every skeleton's
cases really exercise each trap.

Also: ``mode="corrected"`` equals pycocotools on the ground truth renumbered and freed of
``ignore`` fields; empty results; computeOks' grown-box branch by hand; and the odd inputs
pycocotools scores: useCats=0 (computeOks ignores it: nothing matches), an empty bbox on
the first result, num_keypoints written as a float or null, keypoint extents that
overflow a double.
"""

from __future__ import annotations

import copy
import functools
import json
import warnings
from typing import Any

import numpy as np
import pytest
from cocoeval_reference import assert_same
from keypoint_cases import (
    CROWDPOSE_SIGMAS,
    FACE_SIGMAS,
    ONE_SIGMA,
    VARIANTS,
    Doc,
    random_keypoint_case,
    run_pycocotools_keypoints,
)

from evaluator import DataWarning, evaluate_coco

# Knob profiles the random cases cycle through, each stressing some traps harder.
PROFILES: tuple[dict[str, Any], ...] = (
    {},
    {"integer_coords": True},
    {"result_bbox": True},
    {"crowded_dets": 45, "n_images": 3, "max_gt_per_image": 2},
    {"crowd_rate": 0.4, "dets_per_gt": (1, 2, 3)},
    {"id_zero": True, "duplicate_ids": 2},
    {"score_decimals": 1, "boundary_area_rate": 0.3},
    {"score_decimals": None, "shuffle": False, "result_bbox": True, "integer_coords": True},
    {"zero_count_rate": 0.4, "unlabelled_count_rate": 0.2, "stale_count_rate": 0.2},
    {"category_ids": (1, 2), "plain_category": None, "n_images": 10},
)

# Skeleton name -> OKS sigmas (None: pycocotools' default COCO person sigmas).
SKELETONS: dict[str, np.ndarray | None] = {
    "coco17": None,
    "crowdpose14": CROWDPOSE_SIGMAS,
    "face5": FACE_SIGMAS,
    "one1": ONE_SIGMA,
}

N_CASES = 80


@functools.cache
def case(index: int) -> tuple[Doc, list[Doc], np.ndarray | None]:
    """Case ``index``: its ground truth, results and sigmas (skeletons cycle too)."""
    skeleton = list(SKELETONS)[index // len(PROFILES) % len(SKELETONS)]
    sigmas = SKELETONS[skeleton]
    n_keypoints = 17 if sigmas is None else len(sigmas)
    profile = PROFILES[index % len(PROFILES)]
    gt, results = random_keypoint_case(index, n_keypoints=n_keypoints, **profile)
    return gt, results, sigmas


def case_variant_ids() -> list[tuple[int, str]]:
    """Every case with the defaults; each other variant on a third of the cases."""
    pairs = []
    for v_index, variant in enumerate(VARIANTS):
        for index in range(N_CASES):
            if v_index == 0 or index % 3 == v_index % 3:
                pairs.append((index, variant))
    return pairs


def evaluate_ours(gt: Doc, results: list[Doc], **options: Any) -> Any:
    """``evaluate_coco`` for keypoints on copies of a case, its data warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(
            copy.deepcopy(gt), copy.deepcopy(results), iou_type="keypoints", **options
        )


def sigma_options(sigmas: np.ndarray | None) -> dict[str, Any]:
    return {} if sigmas is None else {"oks_sigmas": sigmas}


@pytest.mark.parametrize(
    ("index", "variant"),
    [pytest.param(i, v, id=f"random-{i}-{v}") for i, v in case_variant_ids()],
)
def test_keypoints_equal_pycocotools(index: int, variant: str) -> None:
    gt, results, sigmas = case(index)
    options = {**VARIANTS[variant], **sigma_options(sigmas)}
    assert_same(
        evaluate_ours(gt, results, **options), run_pycocotools_keypoints(gt, results, **options)
    )


ALL_TRAPS: tuple[str, ...] = (
    "num_keypoints 0 (ignored)",
    "crowd",
    "no labelled keypoint, counted (box branch)",
    "labelled keypoints, num_keypoints 0",
    "ignore field",
    "area on a range bound",
    "ground truth area 0",
    "duplicate results",
    "results with stray id, area, iscrowd",
    "integer coordinates",
    "float coordinates",
    "annotation id 0",
    "duplicate annotation ids",
    "results with bbox",
    "results without bbox",
    "tied scores",
    "more than 20 results in an image-category",
    "results on an image without ground truth",
    "results in a category without keypoints",
)
"""Every trap :func:`traps_in` can report."""


def traps_in(gt: Doc, results: list[Doc]) -> set[str]:
    """The pycocotools keypoint traps a case exercises, read from its data."""
    annotations = gt["annotations"]
    result_cells = {(r["image_id"], r["category_id"]) for r in results}
    gt_images = {a["image_id"] for a in annotations}
    keypoint_categories = {a["category_id"] for a in annotations if a["num_keypoints"] > 0}
    per_cell: dict[tuple[int, int], list[float]] = {}
    for r in results:
        per_cell.setdefault((r["image_id"], r["category_id"]), []).append(r["score"])
    ids = [a["id"] for a in annotations]

    def labelled(a: Doc) -> int:
        return sum(v > 0 for v in a["keypoints"][2::3])

    def scored(a: Doc) -> bool:
        return (a["image_id"], a["category_id"]) in result_cells

    found = {
        "num_keypoints 0 (ignored)": any(
            a["num_keypoints"] == 0 and scored(a) for a in annotations
        ),
        "crowd": any(a["iscrowd"] and scored(a) for a in annotations),
        "no labelled keypoint, counted (box branch)": any(
            labelled(a) == 0 and a["num_keypoints"] > 0 and scored(a) for a in annotations
        ),
        "labelled keypoints, num_keypoints 0": any(
            labelled(a) > 0 and a["num_keypoints"] == 0 and scored(a) for a in annotations
        ),
        "ignore field": any("ignore" in a for a in annotations),
        "area on a range bound": any(a["area"] in (32**2, 96**2) for a in annotations),
        "ground truth area 0": any(a["area"] == 0 and scored(a) for a in annotations),
        "duplicate results": len({json.dumps(r, sort_keys=True) for r in results}) < len(results),
        "results with stray id, area, iscrowd": any("area" in r for r in results),
        "integer coordinates": all(
            isinstance(v, int) for r in results for v in r["keypoints"][0::3]
        ),
        "float coordinates": any(isinstance(v, float) for r in results for v in r["keypoints"]),
        "annotation id 0": any(
            a["id"] == 0 and a["num_keypoints"] > 0 and not a["iscrowd"] and scored(a)
            for a in annotations
        ),
        "duplicate annotation ids": any(ids.count(a["id"]) > 1 and scored(a) for a in annotations),
        "results with bbox": any("bbox" in r for r in results),
        "results without bbox": any("bbox" not in r for r in results),
        "tied scores": any(len(set(s)) < len(s) for s in per_cell.values()),
        "more than 20 results in an image-category": any(len(s) > 20 for s in per_cell.values()),
        "results on an image without ground truth": any(
            r["image_id"] not in gt_images for r in results
        ),
        "results in a category without keypoints": any(
            r["category_id"] not in keypoint_categories for r in results
        ),
    }
    assert set(found) == set(ALL_TRAPS)
    return {name for name, present in found.items() if present}


@pytest.mark.parametrize("skeleton", list(SKELETONS))
def test_the_cases_exercise_every_trap_on_every_skeleton(skeleton: str) -> None:
    seen: set[str] = set()
    for index in range(N_CASES):
        if list(SKELETONS)[index // len(PROFILES) % len(SKELETONS)] == skeleton:
            seen |= traps_in(*case(index)[:2])
    assert set(ALL_TRAPS) - seen == set()


def corrected_as_pycocotools_input(gt: Doc) -> Doc:
    """The ground truth on which pycocotools computes what ``mode="corrected"`` does.

    Annotation ids renumbered 1..N (no id 0, no duplicates); an ``ignore`` field turned
    into ``num_keypoints`` 0, which pycocotools ignores without changing the OKS.
    """
    gt = copy.deepcopy(gt)
    for new_id, annotation in enumerate(gt["annotations"], start=1):
        annotation["id"] = new_id
        if annotation.pop("ignore", 0):
            annotation["num_keypoints"] = 0
    return gt


@pytest.mark.parametrize("index", range(0, N_CASES, 2))
def test_corrected_mode_is_pycocotools_without_its_id_and_ignore_quirks(index: int) -> None:
    gt, results, sigmas = case(index)
    report = evaluate_ours(gt, results, mode="corrected", **sigma_options(sigmas))
    reference = run_pycocotools_keypoints(
        corrected_as_pycocotools_input(gt), results, **sigma_options(sigmas)
    )
    assert_same(report, reference)


@pytest.mark.parametrize("skeleton", list(SKELETONS))
def test_empty_results(skeleton: str) -> None:
    sigmas = SKELETONS[skeleton]
    gt, _, _ = case(list(SKELETONS).index(skeleton) * len(PROFILES))
    report = evaluate_ours(gt, [], **sigma_options(sigmas))
    assert_same(report, run_pycocotools_keypoints(gt, [], **sigma_options(sigmas)))
    assert set(report.stats) <= {0.0, -1.0}


def test_a_ground_truth_with_no_labelled_keypoint_is_measured_from_its_grown_box() -> None:
    # computeOks' other branch: every visibility 0, so each result keypoint's distance is
    # how far it lies outside the box grown by its own size on every side (here x in
    # [0, 30], y in [0, 60]); num_keypoints 2 keeps the ground truth counted.
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": image_id,
                "category_id": 1,
                "bbox": [10, 20, 10, 20],
                "area": 150.0,
                "iscrowd": 0,
                "keypoints": [0, 0, 0, 0, 0, 0],
                "num_keypoints": 2,
            }
            for image_id in (1, 2)
        ],
    }
    gt["annotations"][1]["id"] = 2
    results = [
        {"image_id": 1, "category_id": 1, "keypoints": [5, 5, 1, 29.5, 59, 1], "score": 0.9},
        {"image_id": 1, "category_id": 1, "keypoints": [-2, 5, 1, 31, 61, 1], "score": 0.8},
        {"image_id": 2, "category_id": 1, "keypoints": [-3, -4, 1, 33, 64, 1], "score": 0.7},
        {"image_id": 2, "category_id": 1, "keypoints": [300, 5, 1, 5, 5, 1], "score": 0.6},
    ]
    options = {"oks_sigmas": [0.5, 0.5], "iou_thresholds": np.linspace(0.05, 0.95, 19)}
    report = evaluate_ours(gt, results, **options)
    assert_same(report, run_pycocotools_keypoints(gt, results, **options))
    assert 0 < report.stats[0] < 1


# pycocotools' computeOks reads self._gts[imgId, catId] whatever useCats is; with
# useCats=0 evaluate() passes catId -1, so it finds no ground truth, every OKS block is
# empty, nothing matches and every AP is 0. Ours does the same in pycocotools mode.


def test_use_cats_false_minimal_case() -> None:
    keypoints = [10, 10, 2, 20, 20, 2, 30, 30, 2]
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 20, 20],
                "area": 400.0,
                "iscrowd": 0,
                "keypoints": keypoints,
                "num_keypoints": 3,
            }
        ],
    }
    results = [{"image_id": 1, "category_id": 1, "keypoints": keypoints, "score": 0.9}]
    options = {"oks_sigmas": [0.05] * 3, "use_cats": False}
    reference = run_pycocotools_keypoints(gt, results, **options)
    assert reference.stats[0] == 0.0  # pycocotools: no match at all
    assert_same(evaluate_ours(gt, results, **options), reference)


@pytest.mark.parametrize("index", [0, 3, 9])
def test_use_cats_false_generated(index: int) -> None:
    gt, results, sigmas = case(index)
    options = {"use_cats": False, **sigma_options(sigmas)}
    assert_same(
        evaluate_ours(gt, results, **options), run_pycocotools_keypoints(gt, results, **options)
    )


def test_an_empty_bbox_on_the_first_result_reads_as_none() -> None:
    gt, results, _ = case(0)
    results = copy.deepcopy(results)
    results[0]["bbox"] = []
    assert_same(evaluate_ours(gt, results), run_pycocotools_keypoints(gt, results))


def _with_counts(gt: Doc, value: Any) -> Doc:
    """``gt`` with every ``num_keypoints`` 0 replaced by ``value``."""
    gt = copy.deepcopy(gt)
    for annotation in gt["annotations"]:
        if annotation["num_keypoints"] == 0:
            annotation["num_keypoints"] = value
    return gt


def test_a_float_num_keypoints_reads_as_pycocotools_reads_it() -> None:
    gt, results, sigmas = case(8)
    gt = _with_counts(gt, 0.0)
    gt["annotations"][0]["num_keypoints"] = float(gt["annotations"][0]["num_keypoints"] or 2)
    options = sigma_options(sigmas)
    assert_same(
        evaluate_ours(gt, results, **options), run_pycocotools_keypoints(gt, results, **options)
    )


def test_a_null_num_keypoints_reads_as_pycocotools_reads_it() -> None:
    gt, results, sigmas = case(8)
    gt = _with_counts(gt, None)
    options = sigma_options(sigmas)
    assert_same(
        evaluate_ours(gt, results, **options), run_pycocotools_keypoints(gt, results, **options)
    )


def test_a_keypoint_extent_that_overflows_is_scored_as_pycocotools_scores_it() -> None:
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 10, 10],
                "area": 100.0,
                "iscrowd": 0,
                "keypoints": [10, 10, 2, 20, 20, 2],
                "num_keypoints": 2,
            }
        ],
    }
    results = [
        {"image_id": 1, "category_id": 1, "keypoints": [10, -1e308, 1, 10, 1e308, 1], "score": 0.9}
    ]
    options = {"oks_sigmas": [0.1, 0.1]}
    with np.errstate(over="ignore", invalid="ignore"):  # pycocotools overflows on the way
        reference = run_pycocotools_keypoints(gt, results, **options)
    assert_same(evaluate_ours(gt, results, **options), reference)


@pytest.mark.parametrize("index", [0, 5])
def test_threads_and_chunks_do_not_change_the_result(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt, results, sigmas = case(index)
    options = sigma_options(sigmas)
    whole = evaluate_ours(gt, results, **options)
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 1)
    monkeypatch.setenv("DETEVAL_THREADS", "4")
    assert_same(
        evaluate_ours(gt, results, **options), run_pycocotools_keypoints(gt, results, **options)
    )
    np.testing.assert_array_equal(evaluate_ours(gt, results, **options).precision, whole.precision)
