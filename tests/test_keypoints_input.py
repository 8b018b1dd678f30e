"""Bad keypoint input is refused with a located message, the same for every input form.

Each row of :data:`BAD` edits a valid keypoint case and names the location and a
fragment of the problem ``evaluate_coco(..., iou_type="keypoints")`` must report; every
row is run with the ground truth and results given as parsed JSON, as bytes and as files.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from keypoint_cases import Doc, random_keypoint_case

from evaluator import InputError, evaluate_coco


def _base() -> tuple[Doc, list[Doc]]:
    """A valid 17-keypoint case in file order: one result per ground truth."""
    return random_keypoint_case(
        1,
        n_images=3,
        plain_category=None,
        fp_only_category=None,
        crowd_rate=0,
        ignore_field_rate=0,
        empty_image_rate=0,
        dets_per_gt=(1,),
        background_dets=0,
        shuffle=False,
    )


@dataclass(frozen=True)
class Bad:
    """An edit of the base case, and the error it must give."""

    name: str
    edit: Callable[[Doc, list[Doc]], None]
    location: str
    problem: str


def _set(path: tuple[Any, ...], value: Any, *, in_gt: bool) -> Callable[[Doc, list[Doc]], None]:
    """An edit setting ``doc[path...] = value`` in the ground truth or the results."""

    def edit(gt: Doc, results: list[Doc]) -> None:
        node: Any = gt if in_gt else results
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _gt_keypoints(index: int, change: Callable[[list[Any]], None]) -> Callable[..., None]:
    def edit(gt: Doc, results: list[Doc]) -> None:
        change(gt["annotations"][index]["keypoints"])

    return edit


def _result_keypoints(index: int, change: Callable[[list[Any]], None]) -> Callable[..., None]:
    def edit(gt: Doc, results: list[Doc]) -> None:
        change(results[index]["keypoints"])

    return edit


def _bbox_on_all_but(index: int) -> Callable[[Doc, list[Doc]], None]:
    def edit(gt: Doc, results: list[Doc]) -> None:
        for result in results:
            result["bbox"] = [1.0, 2.0, 30.0, 40.0]
        del results[index]["bbox"]

    return edit


def _drop_result_keypoints(gt: Doc, results: list[Doc]) -> None:
    del results[2]["keypoints"]


GT = "ground_truth.annotations"
LENGTH = "expected 51 numbers (x, y, v for each of 17 keypoints"
BAD: tuple[Bad, ...] = (
    Bad("gt keypoints too short", _gt_keypoints(1, list.pop), f"{GT}[1].keypoints", LENGTH),
    Bad(
        "result keypoints too long",
        _result_keypoints(2, lambda k: k.extend([1, 2, 3])),
        "predictions[2].keypoints",
        "got 54",
    ),
    Bad(
        "gt keypoints empty",
        _set(("annotations", 3, "keypoints"), [], in_gt=True),
        f"{GT}[3].keypoints",
        "got 0",
    ),
    Bad(
        "visibility 3",
        _gt_keypoints(1, lambda k: k.__setitem__(5, 3)),
        f"{GT}[1].keypoints[5]",
        "a visibility flag must be 0, 1 or 2, got 3",
    ),
    Bad(
        "visibility -1",
        _gt_keypoints(2, lambda k: k.__setitem__(50, -1)),
        f"{GT}[2].keypoints[50]",
        "must be 0, 1 or 2, got -1",
    ),
    Bad(
        "visibility 1.5",
        _gt_keypoints(0, lambda k: k.__setitem__(2, 1.5)),
        f"{GT}[0].keypoints[2]",
        "must be 0, 1 or 2, got 1.5",
    ),
    Bad(
        "gt coordinate NaN",
        _gt_keypoints(1, lambda k: k.__setitem__(3, float("nan"))),
        f"{GT}[1].keypoints",
        "must be finite numbers",
    ),
    Bad(
        "result coordinate NaN",
        _result_keypoints(2, lambda k: k.__setitem__(4, float("nan"))),
        "predictions[2].keypoints",
        "must be finite numbers",
    ),
    Bad(
        "result coordinate infinite",
        _result_keypoints(0, lambda k: k.__setitem__(0, float("-inf"))),
        "predictions[0].keypoints",
        "must be finite numbers",
    ),
    Bad(
        "result coordinate a string",
        _result_keypoints(2, lambda k: k.__setitem__(4, "7")),
        "predictions[2].keypoints[4]",
        "expected a number",
    ),
    Bad(
        "bbox on the first result, not on a later one",
        _bbox_on_all_but(2),
        "predictions[2].bbox",
        "missing; the first result has a 'bbox'",
    ),
    Bad(
        "bbox on the first result only",
        _set((0, "bbox"), [1.0, 2.0, 30.0, 40.0], in_gt=False),
        "predictions[1].bbox",
        "missing",
    ),
    Bad("result without keypoints", _drop_result_keypoints, "predictions[2].keypoints", "missing"),
    Bad(
        "gt keypoints not an array",
        _set(("annotations", 1, "keypoints"), 5, in_gt=True),
        f"{GT}[1].keypoints",
        "expected an array",
    ),
    Bad(
        "num_keypoints a string",
        _set(("annotations", 1, "num_keypoints"), "3", in_gt=True),
        f"{GT}[1].num_keypoints",
        "expected a number",
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


def test_the_base_case_is_valid() -> None:
    gt, results = _base()
    report = evaluate_coco(gt, results, iou_type="keypoints")
    assert 0 < report.stats[0] <= 1


@pytest.mark.parametrize("form", ["parsed", "bytes", "file"])
@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_keypoint_input_names_location_and_problem(bad: Bad, form: str, tmp_path: Path) -> None:
    gt, results = copy.deepcopy(_base())
    bad.edit(gt, results)
    with pytest.raises(InputError) as raised:
        evaluate_coco(*_given(gt, results, form, tmp_path), iou_type="keypoints")
    assert raised.value.location == bad.location
    assert bad.problem in raised.value.problem


def test_sigmas_for_another_skeleton_name_the_first_mismatch() -> None:
    gt, results = _base()
    with pytest.raises(InputError) as raised:
        evaluate_coco(gt, results, iou_type="keypoints", oks_sigmas=[0.05] * 5)
    assert raised.value.location == f"{GT}[0].keypoints"
    assert "expected 15 numbers" in raised.value.problem
    assert "oks_sigmas" in raised.value.problem


def test_keypoint_results_cannot_come_as_an_array() -> None:
    gt, _ = _base()
    with pytest.raises(InputError) as raised:
        evaluate_coco(gt, np.zeros((2, 7)), iou_type="keypoints")
    assert raised.value.location == "predictions"


@pytest.mark.parametrize("seed", range(6))
def test_keypoints_scanned_from_the_file_equal_those_walked_from_the_dict(seed: int) -> None:
    # Files take the compiled scanners (ground truth and results), dicts the general path.
    from evaluator.input.loading import load_ground_truth, load_predictions

    gt, results = random_keypoint_case(seed, integer_coords=seed % 2 == 0)
    gt["annotations"][0]["keypoints"] = None  # null: none labelled, as when absent
    kind: dict[str, Any] = {"iou_type": "keypoints"}
    walked = load_ground_truth(copy.deepcopy(gt), **kind)
    scanned = load_ground_truth(json.dumps(gt).encode(), **kind)
    for field in ("keypoints", "num_keypoints", "boxes", "areas"):
        assert getattr(scanned, field).tobytes() == getattr(walked, field).tobytes()
    assert scanned.warnings == walked.warnings
    listed = load_predictions(results, walked, **kind)
    read = load_predictions(json.dumps(results).encode(), scanned, **kind)
    for field in ("image_ids", "category_ids", "boxes", "scores", "keypoints", "areas"):
        assert getattr(read, field).tobytes() == getattr(listed, field).tobytes()


@pytest.mark.parametrize("string_ids", [False, True])
def test_results_scanned_beside_the_ground_truth_equal_those_loaded_after(
    string_ids: bool, tmp_path: Path
) -> None:
    # load_evaluation_inputs scans a results file while the ground truth loads; with
    # string image ids the scan is set aside and the general loader maps the ids.
    from evaluator.input.loading import load_evaluation_inputs, load_ground_truth, load_predictions

    gt, results = random_keypoint_case(3)
    if string_ids:
        for doc in gt["images"]:
            doc["id"] = f"img-{doc['id']}"
        for doc in gt["annotations"] + results:
            doc["image_id"] = f"img-{doc['image_id']}"
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(results))
    kind: dict[str, Any] = {"iou_type": "keypoints"}
    for src in (tmp_path / "results.json", json.dumps(results).encode()):
        got_gt, got = load_evaluation_inputs(tmp_path / "gt.json", src, **kind)
        want_gt = load_ground_truth(gt, **kind)
        want = load_predictions(results, want_gt, **kind)
        assert got_gt.image_names == want_gt.image_names
        for field in ("image_ids", "category_ids", "boxes", "scores", "keypoints", "areas"):
            assert getattr(got, field).tobytes() == getattr(want, field).tobytes()


def test_a_bad_ground_truth_is_reported_before_missing_keypoint_results(tmp_path: Path) -> None:
    from evaluator.input.loading import load_evaluation_inputs

    (tmp_path / "gt.json").write_text("{")
    with pytest.raises(InputError) as raised:
        load_evaluation_inputs(tmp_path / "gt.json", tmp_path / "none.json", iou_type="keypoints")
    assert raised.value.location == "ground_truth"
    gt, _ = _base()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(InputError, match="file not found"):
        load_evaluation_inputs(tmp_path / "gt.json", tmp_path / "none.json", iou_type="keypoints")
