"""``evaluate_coco(..., iou_type="keypoints")`` against pycocotools: exactly equal.

Generated keypoint cases (tests/keypoint_cases.py) on four skeletons (COCO's 17-keypoint
person with the default sigmas, CrowdPose's 14, a 5-keypoint face, a single keypoint),
under pycocotools' keypoint defaults and other parameters. Every comparison is exact
(0.0 difference) on the 10 stats and the whole precision, recall and scores arrays, laid
out as pycocotools' ``COCOeval.eval``.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from keypoint_cases import (
    CROWDPOSE_SIGMAS,
    FACE_SIGMAS,
    ONE_SIGMA,
    Doc,
    KeypointScores,
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

# Parameter variants (``evaluate_coco`` keywords), pycocotools-mode only.
VARIANTS: dict[str, Mapping[str, Any]] = {
    "default": {},
    # 1.0 exercises the 1 - 1e-10 cap; 0.5 and 0.75 present so those stats are defined.
    "oks-custom": {"iou_thresholds": np.array([0.1, 0.5, 0.75, 0.9, 1.0])},
    # Holds 0.5 but not 0.75 (as pycocotools' double): stats[2] and [7] are -1.
    "oks-linspace": {"iou_thresholds": np.linspace(0.3, 0.9, 7)},
    "maxdets-three": {"max_dets": [1, 5, 20]},
    # No 20 among maxDets: every stat is -1 (summarize reads maxDets == 20).
    "maxdets-no-20": {"max_dets": [2, 50]},
    "area-custom": {
        "area_ranges": {"all": (0, 1e10), "medium": (500, 5000), "large": (5000, 1e10)}
    },
    # Labels summarize() does not read, and one on a range bound (32**2).
    "area-labels": {"area_ranges": {"all": (0, 1e12), "small": (0, 32**2), "tiny": (0, 64)}},
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


def assert_same(report: Any, reference: KeypointScores) -> None:
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.recall, reference.recall, strict=True)
    np.testing.assert_array_equal(report.scores, reference.scores, strict=True)


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
        "integer coordinates": all(
            isinstance(v, int) for r in results for v in r["keypoints"][0::3]
        ),
        "float coordinates": any(isinstance(v, float) for r in results for v in r["keypoints"]),
        "annotation id 0": 0 in ids,
        "duplicate annotation ids": len(set(ids)) < len(ids),
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
