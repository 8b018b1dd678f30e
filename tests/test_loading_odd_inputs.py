"""Inputs pycocotools scores though they are odd: accepted, scored as pycocotools scores
them, with a located warning where the input is odd.

Integral float ids (``"image_id": 139.0``, what dumping NumPy values gives), string image
ids used on both sides, a category ``"name": null`` and an ``ignore`` other than 0/1.
Each is fed as parsed objects (the walking path) and as JSON bytes (the msgspec decoders);
both must give the same columns, warnings and numbers.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case, run_pycocotools

from evaluator import DataWarning, InputError, evaluate_coco, load_ground_truth, load_predictions

FORMS = ["object", "bytes"]


def _as(form: str, doc: Any) -> Any:
    return copy.deepcopy(doc) if form == "object" else json.dumps(doc).encode()


def _evaluate(gt: Any, predictions: Any, **options: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        report = evaluate_coco(gt, predictions, **options)
    return report, [str(w.message) for w in caught]


def _assert_same_numbers(report: Any, reference: Any) -> None:
    np.testing.assert_array_equal(report.stats, reference.stats, strict=True)
    np.testing.assert_array_equal(report.precision, reference.precision, strict=True)
    np.testing.assert_array_equal(report.recall, reference.recall, strict=True)


def _with_float_ids(gt: dict[str, Any], predictions: list[dict[str, Any]]) -> tuple[Any, Any]:
    gt, predictions = copy.deepcopy(gt), copy.deepcopy(predictions)
    for image in gt["images"]:
        image["id"] = float(image["id"])
    for category in gt["categories"]:
        category["id"] = float(category["id"])
    for ann in gt["annotations"]:
        for key in ("id", "image_id", "category_id"):
            ann[key] = float(ann[key])
    for det in predictions:
        det["image_id"], det["category_id"] = float(det["image_id"]), float(det["category_id"])
    return gt, predictions


# --- integral float ids ------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_integral_float_ids_score_as_integers(form: str) -> None:
    gt, predictions = random_case(seed=3)
    float_gt, float_predictions = _with_float_ids(gt, predictions)
    report, messages = _evaluate(_as(form, float_gt), _as(form, float_predictions))
    reference = run_pycocotools(float_gt, float_predictions)
    _assert_same_numbers(report, reference)
    _assert_same_numbers(report, run_pycocotools(gt, predictions))
    first_image = float_gt["images"][0]["id"]
    n_gt_ids = len(gt["images"]) + len(gt["categories"]) + 3 * len(gt["annotations"])
    assert (
        f"ground_truth: {n_gt_ids} ids are written as floats "
        f"(first: ground_truth.images[0].id = {first_image!r}); read as the integers they equal"
    ) in messages
    first_det = float_predictions[0]["image_id"]
    assert (
        f"predictions: {2 * len(predictions)} ids are written as floats "
        f"(first: predictions[0].image_id = {first_det!r})"
    ) in "\n".join(messages)


@pytest.mark.parametrize("form", FORMS)
def test_one_float_id_is_located(form: str) -> None:
    gt, predictions = random_case(seed=4)
    predictions = copy.deepcopy(predictions)
    predictions[5]["category_id"] = float(predictions[5]["category_id"])
    loaded = load_ground_truth(gt)
    preds = load_predictions(_as(form, predictions), loaded)
    assert preds.warnings[0].startswith(
        f"predictions: 1 ids are written as floats (first: predictions[5].category_id = "
        f"{predictions[5]['category_id']!r})"
    )
    np.testing.assert_array_equal(
        preds.category_ids, [p["category_id"] for p in predictions], strict=False
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("target", "path", "value", "location"),
    [
        ("gt", ("images", 0, "id"), 1.5, "ground_truth.images[0].id"),
        ("gt", ("annotations", 0, "id"), 1e300, None),  # integral but beyond int64
        ("gt", ("annotations", 0, "image_id"), 1.5, "ground_truth.annotations[0].image_id"),
        ("predictions", (0, "image_id"), 1.5, "predictions[0].image_id"),
        ("predictions", (0, "category_id"), -0.5, "predictions[0].category_id"),
    ],
)
def test_non_integral_float_ids_stay_errors(
    form: str, target: str, path: tuple[Any, ...], value: float, location: str | None
) -> None:
    gt, predictions = random_case(seed=5)
    doc = copy.deepcopy(gt if target == "gt" else predictions)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError) as info:
        if target == "gt":
            load_ground_truth(_as(form, doc))
        else:
            load_predictions(_as(form, doc), load_ground_truth(gt))
    if location is None:
        assert info.value.location == "ground_truth.annotations[0].id"
        assert "must fit in 64 bits" in info.value.problem
    else:
        assert info.value.location == location
        assert f"got a number ({value!r})" in info.value.problem


# --- string image ids --------------------------------------------------------------------------


def _with_string_image_ids(
    gt: dict[str, Any], predictions: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    # "img10" sorts before "img9": the string order, not the numeric one, must be kept.
    gt, predictions = copy.deepcopy(gt), copy.deepcopy(predictions)
    for image in gt["images"]:
        image["id"] = f"img{image['id']}"
    for item in gt["annotations"] + predictions:
        item["image_id"] = f"img{item['image_id']}"
    return gt, predictions


@pytest.mark.parametrize("form", [*FORMS, "file"])
@pytest.mark.parametrize("seed", [0, 6])
def test_string_image_ids_equal_pycocotools(form: str, seed: int, tmp_path: Path) -> None:
    gt, predictions = _with_string_image_ids(*random_case(seed=seed, n_images=12))
    reference = run_pycocotools(gt, predictions)
    if form == "file":
        gt_src, pred_src = tmp_path / "gt.json", tmp_path / "dets.json"
        gt_src.write_text(json.dumps(gt))
        pred_src.write_text(json.dumps(predictions))
    else:
        gt_src, pred_src = _as(form, gt), _as(form, predictions)
    report, messages = _evaluate(gt_src, pred_src, extras=True)
    _assert_same_numbers(report, reference)
    assert not [m for m in messages if "image" in m], messages


def test_string_image_ids_keep_their_sorted_order() -> None:
    gt = load_ground_truth(
        {"images": [{"id": "b"}, {"id": "a10"}, {"id": "a9"}], "categories": [], "annotations": []}
    )
    assert gt.image_names == ("a10", "a9", "b")
    np.testing.assert_array_equal(gt.image_ids, [0, 1, 2])


@pytest.mark.parametrize("form", FORMS)
def test_results_on_another_string_id_are_unknown_images(form: str) -> None:
    gt, predictions = _with_string_image_ids(*random_case(seed=0))
    predictions[2]["image_id"] = "not-an-image"
    with pytest.raises(InputError) as info:
        load_predictions(_as(form, predictions), load_ground_truth(gt))
    assert info.value.location == "predictions[2].image_id"
    assert info.value.problem == (
        "unknown image id 'not-an-image' (not in the ground truth's images; 1 results in all)"
    )


@pytest.mark.parametrize("form", FORMS)
def test_integer_results_on_string_ids_say_why_they_are_unknown(form: str) -> None:
    # faster_coco_eval's gt_ignore_test.json: image "2299" in the GT, 2299 in the results.
    gt = {"images": [{"id": "2299"}], "categories": [{"id": 1, "name": "person"}],
          "annotations": []}  # fmt: skip
    predictions = [{"image_id": 2299, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]
    with pytest.raises(InputError) as info:
        load_predictions(_as(form, predictions), load_ground_truth(_as(form, gt)))
    assert info.value.location == "predictions[0].image_id"
    assert info.value.problem == (
        "unknown image id 2299 (not in the ground truth's images; the ground truth's image ids "
        "are strings ('2299'); 1 results in all)"
    )


def test_evaluate_coco_maps_integer_results_on_string_ids_the_same_way() -> None:
    # evaluate_coco scans the results before the ground truth is there; the scan's
    # integer ids must not bypass the general loader's mapping of string ids.
    gt = {"images": [{"id": "2299"}], "categories": [{"id": 1, "name": "person"}],
          "annotations": []}  # fmt: skip
    predictions = [{"image_id": 2299, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]
    with pytest.raises(InputError) as info:
        evaluate_coco(json.dumps(gt).encode(), json.dumps(predictions).encode())
    assert info.value.location == "predictions[0].image_id"
    assert "the ground truth's image ids are strings ('2299')" in info.value.problem


def test_an_array_cannot_hold_string_image_ids() -> None:
    gt = load_ground_truth({"images": [{"id": "a"}], "categories": [{"id": 1}]})
    with pytest.raises(InputError, match="the ground truth's image ids are strings"):
        load_predictions(np.array([[0, 0, 0, 1, 1, 0.5, 1]]), gt)


@pytest.mark.parametrize("form", FORMS)
def test_a_mix_of_string_and_integer_image_ids_is_refused(form: str) -> None:
    gt = {"images": [{"id": "a"}, {"id": "b"}, {"id": 3}], "categories": []}
    with pytest.raises(InputError) as info:
        load_ground_truth(_as(form, gt))
    assert info.value.location == "ground_truth.images[2].id"
    assert info.value.problem.startswith("expected a string, got a number (3): image ids must")


@pytest.mark.parametrize("form", FORMS)
def test_string_ids_in_warnings_are_the_strings(form: str) -> None:
    gt, _ = _with_string_image_ids(*random_case(seed=0))
    gt["images"].append(copy.deepcopy(gt["images"][0]))
    gt["annotations"][1]["image_id"] = "nowhere"
    loaded = load_ground_truth(_as(form, gt))
    first = gt["images"][0]["id"]
    assert f"ground_truth.images: duplicate image ids ({first!r}); kept once" in loaded.warnings
    assert (
        "ground_truth.annotations: 1 annotations refer to images not in 'images' "
        "(first: ground_truth.annotations[1].image_id = 'nowhere'); they are not evaluated"
    ) in loaded.warnings


# --- category name null, ignore other than 0/1 ---------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_category_name_null_is_no_name(form: str) -> None:
    gt, predictions = random_case(seed=1)
    gt = copy.deepcopy(gt)
    gt["categories"][0]["name"] = None
    report, _ = _evaluate(_as(form, gt), predictions)
    names = dict(zip(report.category_ids.tolist(), report.category_names, strict=True))
    assert names[gt["categories"][0]["id"]] == ""
    assert sum(name == "" for name in names.values()) == 1
    _assert_same_numbers(report, run_pycocotools(gt, predictions))


ODD_IGNORE = [2, -1, 0.5, "yes", "", [1], None]


@pytest.mark.parametrize("form", FORMS)
def test_ignore_other_than_0_1_scores_as_pycocotools(form: str) -> None:
    gt, predictions = random_case(seed=2, ignore_field_rate=0.0)
    gt = copy.deepcopy(gt)
    for ann, value in zip(gt["annotations"], ODD_IGNORE, strict=False):
        ann["ignore"] = value
    report, messages = _evaluate(_as(form, gt), predictions)
    _assert_same_numbers(report, run_pycocotools(gt, predictions))
    assert (
        "ground_truth.annotations: 6 annotations have an 'ignore' other than 0, 1, true or false "
        "(first: ground_truth.annotations[0].ignore = 2); mode='corrected' reads any non-zero, "
        "non-empty value as ignored"
    ) in messages


@pytest.mark.parametrize("form", FORMS)
def test_corrected_mode_reads_ignore_as_a_truth_test(form: str) -> None:
    gt, _ = random_case(seed=2, ignore_field_rate=0.0)
    gt = copy.deepcopy(gt)
    for ann, value in zip(gt["annotations"], ODD_IGNORE, strict=False):
        ann["ignore"] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        loaded = load_ground_truth(_as(form, gt))
    expected = [bool(v) for v in ODD_IGNORE]
    np.testing.assert_array_equal(loaded.ignore[: len(ODD_IGNORE)], expected)
    assert not loaded.ignore[len(ODD_IGNORE) :].any()
