"""Bad segm input is refused with a located message, the same for every input form.

Each row of :data:`BAD` edits a valid segm case and names the location and a fragment of
the problem ``evaluate_coco(..., iou_type="segm")`` must report; every row is run with the
ground truth and results given as parsed JSON, as bytes and as files.

Also: polygon results (pycocotools' ``loadRes`` fails on them when the first result has
no ``bbox``) are rasterised with a warning and score what pycocotools scores on the same
masks given as RLE; segm results given to a bbox evaluation get a hint to pass
``--iou-type segm``.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cocoeval_reference import assert_same
from pycocotools import mask as mask_utils
from segm_cases import (
    Doc,
    compressed,
    mask_of,
    random_segm_case,
    run_pycocotools_segm,
    uncompressed,
)

from evaluator import DataWarning, InputError, evaluate_coco

# pycocotools' decode builds its array with a pre-NumPy-2 __array__
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

H, W = 30, 40


def _rect(x: int, y: int, w: int, h: int, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[y : y + h, x : x + w] = 1
    return mask


def _base() -> tuple[Doc, list[Doc]]:
    """Ground truth in every form (two polygons, compressed RLE, uncompressed crowd RLE,
    a polygon on a 1-pixel-high image) and three compressed-RLE results."""
    annotations = [
        ([[2, 2, 12, 2, 12, 12, 2, 12], [20, 2, 25, 2, 25, 6]], [2, 2, 23, 10], 0),
        (compressed(_rect(15, 15, 10, 10)), [15, 15, 10, 10], 0),
        (uncompressed(_rect(28, 0, 12, 30)), [28, 0, 12, 30], 1),
        ([[3, 0, 9, 0, 9, 1, 3, 1]], [3, 0, 6, 1], 0),
    ]
    gt = {
        "images": [{"id": 1, "height": H, "width": W}, {"id": 2, "height": 1, "width": 20}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 2 if i == 3 else 1,
                "category_id": 1,
                "segmentation": segmentation,
                "area": float(box[2] * box[3]),
                "bbox": box,
                "iscrowd": crowd,
            }
            for i, (segmentation, box, crowd) in enumerate(annotations)
        ],
    }
    results = [
        {"image_id": 1, "category_id": 1, "segmentation": compressed(mask), "score": score}
        for mask, score in ((_rect(2, 2, 10, 10), 0.9), (_rect(15, 16, 10, 10), 0.8))
    ]
    results.append(
        {
            "image_id": 2,
            "category_id": 1,
            "segmentation": compressed(_rect(3, 0, 6, 1, (1, 20))),
            "score": 0.7,
        }
    )
    return gt, results


Edit = Callable[[Doc, list[Doc]], None]


@dataclass(frozen=True)
class Bad:
    """An edit of the base case, and the error it must give
    when that differs."""

    name: str
    edit: Edit
    location: str
    problem: str


def _gt_segm(index: int, change: Callable[[Any], Any]) -> Edit:
    """Set annotation ``index``'s segmentation to ``change(segmentation)`` (or change it
    in place when ``change`` returns None)."""

    def edit(gt: Doc, results: list[Doc]) -> None:
        annotation = gt["annotations"][index]
        new = change(annotation["segmentation"])
        if new is not None:
            annotation["segmentation"] = new

    return edit


def _result_segm(index: int, change: Callable[[Any], Any]) -> Edit:
    def edit(gt: Doc, results: list[Doc]) -> None:
        new = change(results[index]["segmentation"])
        if new is not None:
            results[index]["segmentation"] = new

    return edit


def _setter(key: Any, value: Any) -> Callable[[Any], None]:
    return lambda node: node.__setitem__(key, value)


GT = "ground_truth.annotations"
NAN = float("nan")
ODD = "a polygon needs an even count of at least 6 numbers (3 points)"
# Refused by issue 14's rule although pycocotools scores a short or odd polygon that is
# not an object's first (frPoly rasterises its len // 2 points; a 4-number *first*
# polygon makes frPyObjects read the object as boxes, and it fails).
BAD: tuple[Bad, ...] = (
    Bad(
        "gt compressed string does not decode",
        _gt_segm(1, _setter("counts", "~~~")),
        f"{GT}[1].segmentation.counts",
        "a character outside '0' (48) to 'o' (111)",
    ),
    Bad(
        "result compressed string does not decode",
        _result_segm(1, _setter("counts", "ab{")),
        "predictions[1].segmentation.counts",
        "a character outside",
    ),
    Bad(
        "result compressed string cut short",
        _result_segm(1, lambda s: {**s, "counts": s["counts"][:-2]}),
        "predictions[1].segmentation.counts",
        "the counts do not sum to height * width",
    ),
    Bad(
        "gt compressed string of another size",
        _gt_segm(1, _setter("counts", compressed(_rect(0, 0, 5, 5, (10, 10)))["counts"])),
        f"{GT}[1].segmentation.counts",
        "the counts do not sum to height * width",
    ),
    Bad(
        "gt uncompressed counts sum past h*w",
        _gt_segm(2, lambda s: s["counts"].append(3)),
        f"{GT}[2].segmentation.counts",
        "the counts sum to 1203, not height * width 1200",
    ),
    Bad(
        "result uncompressed count negative",
        _result_segm(0, lambda s: {"size": [H, W], "counts": [1300, -100]}),
        "predictions[0].segmentation.counts",
        "a count outside 0 to 2**32 - 1",
    ),
    Bad(
        "gt uncompressed size not the image's",
        _gt_segm(2, _setter("size", [W, H])),
        f"{GT}[2].segmentation.size",
        "[40, 30] differs from the image's [30, 40]",
    ),
    Bad(
        "gt compressed size not the image's",
        _gt_segm(1, _setter("size", [H, W + 1])),
        f"{GT}[1].segmentation.size",
        "[30, 41] differs from the image's [30, 40]",
    ),
    Bad(
        "result size not the image's (1-pixel-high image)",
        _result_segm(2, _setter("size", [20, 1])),
        "predictions[2].segmentation.size",
        "[20, 1] differs from the image's [1, 20]",
    ),
    Bad(
        "gt polygon of 4 numbers",
        _gt_segm(0, _setter(1, [1, 2, 3, 4])),
        f"{GT}[0].segmentation[1]",
        f"{ODD}, got 4",
    ),
    Bad(
        "gt polygon of an odd count",
        _gt_segm(3, lambda s: s[0].append(5)),
        f"{GT}[3].segmentation[0]",
        f"{ODD}, got 9",
    ),
    Bad(
        "result polygon of 4 numbers",
        _result_segm(1, lambda s: [[1, 2, 3, 4]]),
        "predictions[1].segmentation[0]",
        f"{ODD}, got 4",
    ),
    Bad(
        "gt polygon coordinate NaN",
        _gt_segm(0, lambda s: s[1].__setitem__(3, NAN)),
        f"{GT}[0].segmentation[1]",
        "coordinate 3 is NaN",
    ),
    Bad(
        "result polygon coordinate NaN",
        _result_segm(0, lambda s: [[1, 2, 3, 4, 5, NAN]]),
        "predictions[0].segmentation[0]",
        "coordinate 5 is NaN",
    ),
    Bad(
        "gt RLE without counts",
        _gt_segm(1, lambda s: s.pop("counts") and None),
        f"{GT}[1].segmentation",
        "an RLE object needs 'size' and 'counts'",
    ),
    Bad(
        "gt segmentation an empty list",
        _gt_segm(1, lambda s: []),
        f"{GT}[1].segmentation",
        "expected an RLE object, an RLE string or a non-empty list of polygons",
    ),
    Bad(
        "gt segmentation missing",
        lambda gt, results: gt["annotations"][2].pop("segmentation") and None,
        f"{GT}[2].segmentation",
        "missing; a segm evaluation needs each annotation's mask",
    ),
    Bad(
        "result segmentation missing",
        lambda gt, results: results[2].pop("segmentation") and None,
        "predictions[2].segmentation",
        "missing",
    ),
    Bad(
        "image without height",
        lambda gt, results: gt["images"][1].pop("height") and None,
        "ground_truth.images[1].height",
        "missing; a segm evaluation reads each image's height and width",
    ),
    Bad(
        "bbox on the first result only",
        lambda gt, results: results[0].__setitem__("bbox", [2.0, 2.0, 10.0, 10.0]),
        "predictions[1].bbox",
        "missing; the first result has a 'bbox'",
    ),
)


def _given(gt: Doc, results: list[Doc], form: str, tmp_path: Path) -> tuple[Any, Any]:
    if form == "parsed":
        return gt, results
    gt_bytes, results_bytes = json.dumps(gt).encode(), json.dumps(results).encode()
    if form == "bytes":
        return gt_bytes, results_bytes
    (tmp_path / "gt.json").write_bytes(gt_bytes)
    (tmp_path / "results.json").write_bytes(results_bytes)
    return tmp_path / "gt.json", tmp_path / "results.json"


def _refusal(bad: Bad, form: str, tmp_path: Path) -> InputError:
    gt, results = copy.deepcopy(_base())
    bad.edit(gt, results)
    with pytest.raises(InputError) as raised:
        evaluate_coco(*_given(gt, results, form, tmp_path), iou_type="segm")
    return raised.value


def test_the_base_case_is_valid_and_equals_pycocotools() -> None:
    gt, results = _base()
    report = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(results), iou_type="segm")
    assert_same(report, run_pycocotools_segm(gt, results))
    assert 0 < report.stats[0] <= 1


@pytest.mark.parametrize("form", ["parsed", "bytes", "file"])
@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_segm_input_names_location_and_problem(bad: Bad, form: str, tmp_path: Path) -> None:
    error = _refusal(bad, form, tmp_path)
    assert bad.problem in error.problem
    assert error.location == bad.location


# Polygon results ----------------------------------------------------------------------


def _as_polygons(results: list[Doc]) -> list[Doc]:
    """Each result's mask replaced by one polygon: its mask's box as 4 points."""
    polygons = []
    for result in results:
        x, y, w, h = (float(v) for v in mask_utils.toBbox(result["segmentation"]))
        polygons.append({**result, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return polygons


def _rasterised(gt: Doc, results: list[Doc]) -> list[Doc]:
    """The polygon results as compressed RLE at their image's size, as pycocotools'
    ``annToRLE`` rasterises a polygon (``frPyObjects`` then ``merge``)."""
    sizes = {image["id"]: (image["height"], image["width"]) for image in gt["images"]}
    return [
        {**r, "segmentation": compressed(mask_of(r["segmentation"], *sizes[r["image_id"]]))}
        for r in results
    ]


@pytest.mark.parametrize("seed", [0, 4, 7])
def test_polygon_results_are_rasterised_with_a_warning_as_pycocotools_rasterises_them(
    seed: int,
) -> None:
    gt, results = random_segm_case(seed, empty_mask_rate=0.0)
    polygons = _as_polygons(results)
    with pytest.raises(TypeError):  # loadRes: maskUtils.area on a polygon list
        run_pycocotools_segm(gt, polygons)
    with pytest.warns(DataWarning) as caught:
        report = evaluate_coco(gt, copy.deepcopy(polygons), iou_type="segm")
    messages = [str(w.message) for w in caught]
    expected = (
        f"predictions: {len(polygons)} results have polygon segmentations (first: "
        "predictions[0].segmentation); read at their image's size as ground truth is"
    )
    assert any(m.startswith(expected) for m in messages), messages
    assert_same(report, run_pycocotools_segm(gt, _rasterised(gt, polygons)))


@pytest.mark.parametrize("seed", [1, 5])
def test_polygon_results_with_a_bbox_equal_pycocotools_which_scores_them_as_they_are(
    seed: int,
) -> None:
    # With a bbox on the first result loadRes takes its bbox branch (area w*h) and never
    # reads the polygons; COCOeval then rasterises them as ground truth.
    gt, results = random_segm_case(
        seed,
        result_bbox=True,
        empty_mask_rate=0.0,
        ignore_field_rate=0.0,
        undeclared_class_rate=0.0,
    )
    polygons = [{**p, "bbox": r["bbox"]} for p, r in zip(_as_polygons(results), results)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing odd: pycocotools scores them
        report = evaluate_coco(gt, copy.deepcopy(polygons), iou_type="segm")
    assert_same(report, run_pycocotools_segm(gt, polygons))


def test_uncompressed_rle_results_score_as_their_compressed_form() -> None:
    # pycocotools' loadRes fails on them (area() wants a string); ours reads them.
    gt, results = random_segm_case(2, ignore_field_rate=0.0)
    plain = [
        {**r, "segmentation": uncompressed(mask_utils.decode(r["segmentation"]))} for r in results
    ]
    with pytest.raises(TypeError):
        run_pycocotools_segm(gt, plain)
    with pytest.warns(DataWarning, match="results have uncompressed RLE segmentations"):
        report = evaluate_coco(gt, plain, iou_type="segm")
    assert_same(report, run_pycocotools_segm(gt, results))


# Segm results given to a bbox evaluation ----------------------------------------------


@pytest.mark.parametrize("form", ["parsed", "bytes", "file"])
def test_segm_results_in_a_bbox_evaluation_get_a_hint(form: str, tmp_path: Path) -> None:
    gt, results = _base()
    with pytest.raises(InputError) as raised:
        evaluate_coco(*_given(gt, results, form, tmp_path))
    assert raised.value.location == "predictions[0].bbox"
    assert raised.value.problem == (
        "missing; these are segmentation results: evaluate them with --iou-type segm"
    )
