"""``evaluate_coco(..., iou_type="segm")`` against pycocotools: exactly equal.

Generated segm cases (tests/segm_cases.py): ground truth as polygons (several per
object, self-intersecting, on the border, partly or wholly outside the image), as
compressed and uncompressed RLE, crowds as RLE; results as compressed RLE of jittered
ground truth, random blobs and empty masks, with and without ``bbox`` (``loadRes`` then
takes every result's area from the bbox's w*h, else from the mask); every trap of the
bbox suite too. Every comparison is exact (0.0 difference) on the 12 stats and the whole
precision, recall and scores arrays, laid out as pycocotools' ``COCOeval.eval``, under
the default parameters and the bbox suite's variants. :func:`segm_cases.traps_in` checks
that the cases really exercise each trap, with and without result boxes.

Also by hand: loadRes' area rule (first result's bbox, an empty bbox, boxes on later
results only), ground truth without boxes, integral float image sizes, crowd IoU as
intersection over the result's area, empty results, use_cats=False, mode="corrected" on
quirk-free ground truth, threads and chunks, inputs left alone.
"""

from __future__ import annotations

import copy
import functools
import json
import warnings
from typing import Any

import numpy as np
import pytest
from coco_cases import PARAM_VARIANTS
from cocoeval_reference import assert_same
from segm_cases import (
    SEGM_TRAPS,
    Doc,
    compressed,
    random_segm_case,
    run_pycocotools_segm,
    traps_in,
    uncompressed,
)

from evaluator import DataWarning, evaluate_coco

# pycocotools' decode builds its array with a pre-NumPy-2 __array__
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# Knob profiles the random cases cycle through, each stressing some traps harder.
PROFILES: tuple[dict[str, Any], ...] = (
    {},
    {"result_bbox": True},
    {"crowded_dets": 110, "n_images": 3, "max_gt_per_image": 2},
    {"crowd_rate": 0.4, "dets_per_gt": (1, 2, 3), "result_bbox": True},
    {"id_zero": True, "duplicate_ids": 2},
    {"score_decimals": 1, "boundary_area_rate": 0.3, "result_bbox": True},
    {"thin_image_rate": 0.5, "empty_mask_rate": 0.2, "rle_rate": 0.6},
    {"score_decimals": None, "shuffle": False, "box_area_rate": 0.4},
    {"crowded_dets": 105, "n_images": 2, "result_bbox": True, "id_zero": True},
    {"multi_polygon_rate": 0.8, "self_intersect_rate": 0.6, "outside_rate": 0.5},
    {"category_ids": (3,), "fp_only_category": None, "gt_only_category": None},
    {"n_images": 10, "iou_tie_rate": 0.8, "result_bbox": True, "duplicate_ids": 1},
)

N_CASES = 120

VARIANTS: dict[str, Any] = {v.name: v.options for v in PARAM_VARIANTS} | {
    "recall-coarse": {"recall_thresholds": np.linspace(0.0, 1.0, 11)},
}
"""The bbox suite's parameter variants, and a coarse recall grid."""


@functools.cache
def case(index: int) -> tuple[Doc, list[Doc]]:
    return random_segm_case(index, **PROFILES[index % len(PROFILES)])


def case_variant_ids() -> list[tuple[int, str]]:
    """Every case with the defaults; each other variant on a third of the cases."""
    pairs = []
    for v_index, variant in enumerate(VARIANTS):
        for index in range(N_CASES):
            if v_index == 0 or index % 3 == v_index % 3:
                pairs.append((index, variant))
    return pairs


def evaluate_ours(gt: Doc, results: list[Doc], **options: Any) -> Any:
    """``evaluate_coco`` for segm on copies of a case, its data warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(copy.deepcopy(gt), copy.deepcopy(results), iou_type="segm", **options)


def check(gt: Doc, results: list[Doc], **options: Any) -> Any:
    """Ours equals pycocotools on a case; returns our report."""
    report = evaluate_ours(gt, results, **options)
    assert_same(report, run_pycocotools_segm(gt, results, **options))
    return report


@pytest.mark.parametrize(
    ("index", "variant"),
    [pytest.param(i, v, id=f"random-{i}-{v}") for i, v in case_variant_ids()],
)
def test_segm_equals_pycocotools(index: int, variant: str) -> None:
    check(*case(index), **VARIANTS[variant])


@pytest.mark.parametrize("with_bbox", [True, False], ids=["results-with-bbox", "without-bbox"])
def test_the_cases_exercise_every_trap(with_bbox: bool) -> None:
    # Each half (results with a bbox, results without) exercises every trap on its own,
    # so the area rule of loadRes meets every other trap.
    seen: set[str] = set()
    for index in range(N_CASES):
        gt, results = case(index)
        if bool(results) and ("bbox" in results[0]) == with_bbox:
            seen |= traps_in(gt, results)
    expected = set(SEGM_TRAPS) - (
        {"results without bbox"}
        if with_bbox
        else {
            "results with bbox",
            "result bbox area differs from the mask's",
            "result bbox of area 0",
        }
    )
    assert expected - seen == set()


# Hand cases -------------------------------------------------------------------------


def square(h: int, w: int, x: int, y: int, side_x: int, side_y: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[y : y + side_y, x : x + side_x] = 1
    return mask


def dataset(annotations: list[Doc], n_images: int = 1, h: int = 60, w: int = 80) -> Doc:
    return {
        "images": [{"id": i, "height": h, "width": w} for i in range(1, n_images + 1)],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": annotations,
    }


def gt_of(annotation_id: int, mask: np.ndarray, image_id: int = 1, **extra: Any) -> Doc:
    ys, xs = np.nonzero(mask)
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": 1,
        "segmentation": compressed(mask),
        "area": float(mask.sum()),
        "bbox": [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)],
        "iscrowd": 0,
        **extra,
    }


def result_of(mask: np.ndarray, score: float, image_id: int = 1, **extra: Any) -> Doc:
    return {
        "image_id": image_id,
        "category_id": 1,
        "segmentation": compressed(mask),
        "score": score,
        **extra,
    }


def test_the_first_results_bbox_sets_every_results_area() -> None:
    # A 20 x 20 result mask (area 400, small) with a 40 x 40 bbox (area 1600, medium):
    # loadRes judges the unmatched result in the medium range, not the small one.
    gt = dataset([gt_of(1, square(60, 80, 0, 0, 40, 40))])
    miss = square(60, 80, 50, 30, 20, 20)
    hit = square(60, 80, 0, 0, 40, 40)
    boxed = [
        result_of(miss, 0.9, bbox=[50.0, 30.0, 40.0, 40.0]),
        result_of(hit, 0.8, bbox=[0.0, 0.0, 40.0, 40.0]),
    ]
    with_bbox = check(gt, boxed)
    without = check(gt, [{k: v for k, v in r.items() if k != "bbox"} for r in boxed])
    assert with_bbox.stats[4] < 0.6 < 0.99 < without.stats[4]  # AP medium: the miss counts


def test_an_empty_bbox_on_the_first_result_reads_as_none() -> None:
    gt, results = case(1)
    results = copy.deepcopy(results)
    results[0]["bbox"] = []
    check(gt, results)


def test_boxes_on_later_results_only_are_not_read() -> None:
    # loadRes looks at the first result only: without a bbox there, areas are the masks'.
    gt, results = case(1)
    results = copy.deepcopy(results)
    del results[0]["bbox"]
    check(gt, results)


def test_a_crowd_absorbs_every_result_inside_it() -> None:
    # Crowd IoU is intersection over the result's area: each small result inside the
    # crowd has IoU 1 with it and is ignored, not a false positive.
    crowd = gt_of(1, square(60, 80, 0, 0, 50, 50), iscrowd=1)
    crowd["segmentation"] = uncompressed(square(60, 80, 0, 0, 50, 50))  # as COCO writes it
    person = gt_of(2, square(60, 80, 60, 10, 15, 30))
    results = [result_of(square(60, 80, 5 * i, 3 * i, 8, 8), 0.9 - 0.05 * i) for i in range(6)]
    results.append(result_of(square(60, 80, 60, 10, 15, 29), 0.3))
    report = check(dataset([crowd, person]), results)
    assert report.stats[1] > 0.99  # AP50: the one true positive and no false positive


def test_annotation_id_0_and_duplicate_ids() -> None:
    gt = dataset(
        [
            gt_of(0, square(60, 80, 0, 0, 20, 20)),
            gt_of(7, square(60, 80, 30, 0, 20, 20)),
            gt_of(7, square(60, 80, 0, 30, 20, 20)),
        ]
    )
    results = [
        result_of(square(60, 80, 0, 0, 20, 20), 0.9),
        result_of(square(60, 80, 30, 0, 20, 20), 0.8),
        result_of(square(60, 80, 0, 30, 20, 20), 0.7),
    ]
    check(gt, results)


def test_a_one_pixel_high_image() -> None:
    row = np.zeros((1, 30), dtype=np.uint8)
    row[0, 5:15] = 1
    polygon_gt = gt_of(1, row)
    polygon_gt["segmentation"] = [[5.0, 0.0, 15.0, 0.0, 15.0, 1.0, 5.0, 1.0]]
    gt = dataset([polygon_gt, gt_of(2, np.roll(row, 12))], h=1, w=30)
    results = [result_of(row, 0.9), result_of(np.roll(row, 13), 0.8), result_of(row * 0, 0.7)]
    check(gt, results)


@pytest.mark.parametrize("index", [0, 1, 6])
def test_empty_results(index: int) -> None:
    gt, _ = case(index)
    report = check(gt, [])
    assert set(report.stats) <= {0.0, -1.0}


@pytest.mark.parametrize("index", [0, 3, 5, 9])
def test_use_cats_false(index: int) -> None:
    check(*case(index), use_cats=False)


def corrected_as_pycocotools_input(gt: Doc) -> Doc:
    """The ground truth renumbered 1..N and without ``ignore`` fields: there
    ``mode="corrected"`` and pycocotools agree."""
    gt = copy.deepcopy(gt)
    for new_id, annotation in enumerate(gt["annotations"], start=1):
        annotation["id"] = new_id
        annotation.pop("ignore", None)
    return gt


@pytest.mark.parametrize("index", range(0, N_CASES, 4))
def test_corrected_mode_is_pycocotools_without_its_id_and_ignore_quirks(index: int) -> None:
    gt, results = case(index)
    gt = corrected_as_pycocotools_input(gt)
    assert_same(evaluate_ours(gt, results, mode="corrected"), run_pycocotools_segm(gt, results))


@pytest.mark.parametrize("index", [2, 8])
def test_threads_and_chunks_do_not_change_the_result(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = evaluate_ours(*case(index))
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 1)
    monkeypatch.setenv("DETEVAL_THREADS", "4")
    assert_same(evaluate_ours(*case(index)), whole)


def test_evaluate_coco_leaves_its_inputs_alone() -> None:
    # pycocotools' loadRes writes id, area, iscrowd (and bbox) into the caller's results.
    gt, results = case(3)
    gt_copy, results_copy = copy.deepcopy(gt), copy.deepcopy(results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        evaluate_coco(gt_copy, results_copy, iou_type="segm")
    assert (gt_copy, results_copy) == (gt, results)


@pytest.mark.filterwarnings("ignore:.*the 'ignore' field is present")
def test_ground_truth_without_bbox_is_scored_as_pycocotools_scores_it() -> None:
    gt, results = case(0)
    gt = copy.deepcopy(gt)
    for annotation in gt["annotations"]:
        del annotation["bbox"]
    reference = run_pycocotools_segm(gt, results)
    for given in (copy.deepcopy(gt), json.dumps(gt).encode()):
        with pytest.warns(DataWarning, match=r"annotations have no 'bbox' \(first: .*boxes"):
            report = evaluate_coco(given, copy.deepcopy(results), iou_type="segm")
        assert_same(report, reference)


def test_an_integral_float_image_size_is_read_as_pycocotools_reads_it() -> None:
    gt, results = random_segm_case(0, multi_polygon_rate=0.0, outside_rate=0.0)
    gt = copy.deepcopy(gt)
    assert gt["images"][0]["height"] == 53
    gt["images"][0]["height"] = 53.0
    check(gt, results)
