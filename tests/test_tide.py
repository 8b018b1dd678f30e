"""TIDE error breakdown: each error type isolated, fixes checked against pycocotools.

The independent reference for a fix is the fix applied to the *data*: the detection's
class or box is edited, or the detection or the ground truth deleted, and pycocotools
scores the edited set. Its AP50 must equal :func:`evaluator.analyses.tide.fixed_ap50` exactly.
Error types are checked against a plain-loop oracle of TIDE's rules on random cases.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case, run_pycocotools
from coco_oracle import bbox_iou

from evaluator import DataWarning, evaluate_coco, load_ground_truth, load_predictions
from evaluator.analyses.tide import (
    ERROR_TYPES,
    TideErrors,
    classify_errors,
    error_section,
    fixed_ap50,
    unavailable_reason,
)
from evaluator.metrics.matching import match_detections
from evaluator.metrics.params import CocoParams

CAT, DOG = 1, 2
IMAGE, EMPTY_IMAGE = 1, 2
A = [0.0, 0.0, 100.0, 100.0]  # the cat every case finds
B = [300.0, 0.0, 100.0, 100.0]
C = [600.0, 0.0, 100.0, 100.0]
FAR = [0.0, 300.0, 50.0, 50.0]  # overlaps nothing


def _shifted(box: list[float], dx: float) -> list[float]:
    """``box`` moved right by ``dx``: IoU with ``box`` is (100 - dx) / (100 + dx)."""
    return [box[0] + dx, box[1], box[2], box[3]]


LOW_IOU = 50.0  # shift giving IoU 1/3: between t_b = 0.1 and t_f = 0.5
HIGH_IOU = 10.0  # shift giving IoU 9/11 >= 0.5


def _dataset(gts: list[tuple[int, list[float]]]) -> dict[str, Any]:
    """Ground truth on IMAGE (EMPTY_IMAGE has none): (category, box) rows."""
    return {
        "images": [{"id": IMAGE}, {"id": EMPTY_IMAGE}],
        "categories": [{"id": CAT, "name": "cat"}, {"id": DOG, "name": "dog"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": IMAGE,
                "category_id": cat,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
            for i, (cat, box) in enumerate(gts)
        ],
    }


def _det(category: int, box: list[float], score: float, image: int = IMAGE) -> dict[str, Any]:
    return {"image_id": image, "category_id": category, "bbox": box, "score": score}


def _breakdown(gt: dict[str, Any], dets: list[dict[str, Any]]) -> TideErrors:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ground = load_ground_truth(copy.deepcopy(gt))
        preds = load_predictions(copy.deepcopy(dets), ground)
    params = CocoParams()
    return classify_errors(match_detections(ground, preds, params), params, ground, preds)


def _error_of(errors: TideErrors) -> dict[int, str]:
    """Input position of each detection with an error -> its type."""
    m = errors.matching
    return {
        int(m.det_source[d]): ERROR_TYPES[errors.det_error[d]]
        for d in np.flatnonzero(errors.det_error >= 0)
    }


def _pycocotools_ap50(gt: dict[str, Any], dets: list[dict[str, Any]]) -> float:
    return float(run_pycocotools(gt, dets).stats[1])


# Each case: one clean true positive (the cat at A, scored 0.9) and exactly one error,
# mostly scored above it so that the error costs AP: (ground truth, detections, input
# position of the erring detection, the fix applied to the data).
def _edit_det(index: int, **changes: Any):
    def edit(gt, dets):
        dets[index].update(changes)
        return gt, dets

    return edit


def _delete_det(index: int):
    def edit(gt, dets):
        del dets[index]
        return gt, dets

    return edit


def _delete_gt(annotation_id: int):
    def edit(gt, dets):
        gt["annotations"] = [a for a in gt["annotations"] if a["id"] != annotation_id]
        return gt, dets

    return edit


ISOLATED = {
    # A cat box exactly on a free dog: right place, wrong class.
    "classification": (
        [(CAT, A), (DOG, B)],
        [_det(CAT, A, 0.9), _det(CAT, B, 0.95)],
        1,
        _edit_det(1, category_id=DOG),
    ),
    # IoU 1/3 with a free cat: right class, poor box; the fix puts it on that cat.
    "localization": (
        [(CAT, A), (CAT, B)],
        [_det(CAT, A, 0.9), _det(CAT, _shifted(B, LOW_IOU), 0.95)],
        1,
        _edit_det(1, bbox=B),
    ),
    # IoU 1/3 with a dog that a dog detection already found.
    "both": (
        [(CAT, A), (DOG, B)],
        [_det(CAT, A, 0.9), _det(DOG, B, 0.9), _det(CAT, _shifted(B, LOW_IOU), 0.95)],
        2,
        _delete_det(2),
    ),
    # A second cat box on A, scored between the two true positives.
    "duplicate": (
        [(CAT, A), (CAT, C)],
        [_det(CAT, A, 0.9), _det(CAT, _shifted(A, HIGH_IOU), 0.85), _det(CAT, C, 0.8)],
        1,
        _delete_det(1),
    ),
    "background": (
        [(CAT, A)],
        [_det(CAT, A, 0.9), _det(CAT, FAR, 0.95)],
        1,
        _delete_det(1),
    ),
    "missed": (
        [(CAT, A), (CAT, C)],
        [_det(CAT, A, 0.9)],
        None,
        _delete_gt(2),
    ),
}


@pytest.mark.parametrize("error_type", ERROR_TYPES)
def test_isolated_error_is_classified_and_fixed_as_pycocotools_scores_the_fixed_data(
    error_type: str,
) -> None:
    gts, dets, position, edit = ISOLATED[error_type]
    gt = _dataset(gts)
    errors = _breakdown(gt, dets)

    if position is None:
        assert _error_of(errors) == {}
        missed = errors.matching.gt.source[errors.gt_missed] + 1  # annotation ids
        assert missed.tolist() == [2]
    else:
        assert _error_of(errors) == {position: error_type}
        assert not errors.gt_missed.any()

    base, _ = fixed_ap50(errors)
    assert base == evaluate_coco(gt, dets).stats[1] == _pycocotools_ap50(gt, dets)
    fixed, _ = fixed_ap50(errors, (error_type,))
    assert fixed == _pycocotools_ap50(*edit(copy.deepcopy(gt), copy.deepcopy(dets)))
    assert fixed > base
    for other in set(ERROR_TYPES) - {error_type}:
        assert fixed_ap50(errors, (other,))[0] == base  # nothing else to fix


def test_background_on_an_image_without_ground_truth() -> None:
    gt = _dataset([(CAT, A)])
    dets = [_det(CAT, A, 0.9), _det(CAT, A, 0.95, image=EMPTY_IMAGE)]
    errors = _breakdown(gt, dets)
    assert _error_of(errors) == {1: "background"}
    assert fixed_ap50(errors, ("background",))[0] == _pycocotools_ap50(gt, dets[:1])


def test_localization_of_a_taken_ground_truth_is_removed_not_turned() -> None:
    gt = _dataset([(CAT, A)])
    dets = [_det(CAT, A, 0.9), _det(CAT, _shifted(A, LOW_IOU), 0.95)]
    errors = _breakdown(gt, dets)
    assert _error_of(errors) == {1: "localization"}
    assert not errors.det_fixed_tp.any()
    assert fixed_ap50(errors, ("localization",))[0] == _pycocotools_ap50(gt, dets[:1])


def test_localization_is_tested_before_classification() -> None:
    # IoU 1/3 with a cat and 9/11 with a dog: TIDE's reference order says localization.
    gt = _dataset([(CAT, A), (DOG, _shifted(A, LOW_IOU - HIGH_IOU))])
    dets = [_det(CAT, _shifted(A, LOW_IOU), 0.9)]
    assert _error_of(_breakdown(gt, dets)) == {0: "localization"}


def test_errors_sharing_a_free_ground_truth_fix_only_the_best_scored() -> None:
    # A cat box on the dog (classification, 0.95) and a dog box at IoU 1/3 with it
    # (localization, 0.93): one ground truth, so one fix turns a detection into a TP.
    gt = _dataset([(CAT, A), (DOG, B)])
    dets = [_det(CAT, A, 0.9), _det(CAT, B, 0.95), _det(DOG, _shifted(B, LOW_IOU), 0.93)]
    errors = _breakdown(gt, dets)
    assert _error_of(errors) == {1: "classification", 2: "localization"}
    assert not errors.gt_missed.any()
    as_dog = copy.deepcopy(dets)
    as_dog[1]["category_id"] = DOG
    assert fixed_ap50(errors, ("classification",))[0] == _pycocotools_ap50(gt, as_dog)
    # The localization error is not the best for its ground truth: its fix removes it.
    assert fixed_ap50(errors, ("localization",))[0] == _pycocotools_ap50(gt, dets[:2])
    both_fixed = copy.deepcopy(as_dog[:2])
    assert fixed_ap50(errors, ("classification", "localization"))[0] == _pycocotools_ap50(
        gt, both_fixed
    )


def test_unknown_error_type_is_refused() -> None:
    gts, dets, _, _ = ISOLATED["background"]
    errors = _breakdown(_dataset(gts), dets)
    with pytest.raises(ValueError, match="unknown error types"):
        fixed_ap50(errors, ("localisation",))


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"use_cats": False}, "class-agnostic"),
        ({"iou_thresholds": [0.6, 0.7]}, "0.5 is not among"),
        ({"area_ranges": {"small": (0, 32**2), "all": (0, 1e10)}}, "first area range"),
    ],
)
def test_parameters_without_a_breakdown_give_a_reason(options: dict, reason: str) -> None:
    gt, dets = _dataset(ISOLATED["background"][0]), ISOLATED["background"][1]
    params = CocoParams.build(**options)
    ground = load_ground_truth(gt)
    preds = load_predictions(dets, ground)
    matching = match_detections(ground, preds, params)
    assert reason in str(unavailable_reason(params))
    section = error_section(matching, params, ground, preds, [CAT, DOG], ["cat", "dog"])
    assert reason in section["undefined_reason"]
    assert section["overall"] is None and section["AP50"] is None
    with pytest.raises(ValueError, match=reason):
        classify_errors(matching, params, ground, preds)


# --- random cases: the vectorised rules against a plain loop, every fix against pycocotools


def _oracle_types(
    gt: dict[str, Any], dets: list[dict[str, Any]], errors: TideErrors
) -> tuple[dict[int, str], set[int]]:
    """TIDE's rules, one detection at a time, given the COCO matching's TP/FP flags.

    Returns the error type by detection input position and the missed annotation ids.
    """
    m = errors.matching
    annotations = gt["annotations"]
    ann_of = m.gt.source  # evaluated ground truth -> annotation index
    # pycocotools: `ignore` is iscrowd; area 'all' is [0, 1e10].
    positive = [
        not a["iscrowd"]
        and 0 <= a["area"] <= 1e10
        and a["category_id"] in {c["id"] for c in gt["categories"]}
        for a in annotations
    ]
    taken = {int(ann_of[g]) for g in m.matched_gt[0] if g >= 0}
    found = {int(ann_of[g]) for g, tp in zip(m.matched_gt[0], m.true_positive[0, 0]) if tp}
    types: dict[int, str] = {}
    targets: dict[int, list[tuple[float, int]]] = {}
    for d in range(m.det_source.shape[0]):
        if m.true_positive[0, 0, d] or m.ignored[0, 0, d]:
            continue
        det = dets[int(m.det_source[d])]
        same, other, used_same, any_iou = -1.0, -1.0, -1.0, -1.0
        same_gt = other_gt = -1
        for j, a in enumerate(annotations):
            if a["image_id"] != det["image_id"] or not positive[j]:
                continue
            iou = bbox_iou(det["bbox"], a["bbox"], False)
            any_iou = max(any_iou, iou)
            if a["category_id"] == det["category_id"]:
                if iou > same:
                    same, same_gt = iou, j
                if j in taken:
                    used_same = max(used_same, iou)
            elif iou > other:
                other, other_gt = iou, j
        if any_iou < 0:
            kind = "background"
        elif 0.1 <= same < 0.5:
            kind = "localization"
            targets.setdefault(same_gt, []).append((-det["score"], int(m.det_source[d])))
        elif other >= 0.5:
            kind = "classification"
            targets.setdefault(other_gt, []).append((-det["score"], int(m.det_source[d])))
        elif used_same >= 0.5:
            kind = "duplicate"
        elif any_iou < 0.1:
            kind = "background"
        else:
            kind = "both"
        types[int(m.det_source[d])] = kind
    findable = {j for j in targets if j not in taken}
    missed = {
        annotations[j]["id"]
        for j in range(len(annotations))
        if positive[j] and j not in found and j not in findable
    }
    return types, missed


def _fixed_data(
    gt: dict[str, Any], dets: list[dict[str, Any]], errors: TideErrors, error_type: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """TIDE's oracle fix of every ``error_type`` error, applied to copies of the data."""
    gt, dets = copy.deepcopy(gt), copy.deepcopy(dets)
    m = errors.matching
    if error_type == "missed":
        missed_ids = {gt["annotations"][int(i)]["id"] for i in m.gt.source[errors.gt_missed]}
        gt["annotations"] = [a for a in gt["annotations"] if a["id"] not in missed_ids]
        return gt, dets
    code = ERROR_TYPES.index(error_type)
    delete = set()
    for d in np.flatnonzero(errors.det_error == code):
        index = int(m.det_source[d])
        if errors.det_fixed_tp[d]:
            target = gt["annotations"][int(m.gt.source[errors.det_target[d]])]
            if error_type == "classification":  # the box already overlaps enough
                dets[index]["category_id"] = target["category_id"]
            else:
                dets[index]["bbox"] = list(target["bbox"])
        else:
            delete.add(index)
    return gt, [det for i, det in enumerate(dets) if i not in delete]


RANDOM_KNOBS = {
    "score_decimals": None,  # no score ties: the accumulation order is then unique
    "iou_tie_rate": 0.0,
    "wrong_class_rate": 0.3,
    "dets_per_gt": (0, 1, 1, 2, 3),
    "n_images": 8,
}


@pytest.mark.parametrize("seed", range(8))
def test_random_case_matches_loop_oracle_and_pycocotools_fixes(seed: int) -> None:
    gt, dets = random_case(seed, **RANDOM_KNOBS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        errors = _breakdown(gt, dets)
        types, missed = _oracle_types(gt, dets, errors)
        assert _error_of(errors) == types
        missed_ids = {
            gt["annotations"][int(i)]["id"] for i in errors.matching.gt.source[errors.gt_missed]
        }
        assert missed_ids == missed
        base, _ = fixed_ap50(errors)
        reference = run_pycocotools(gt, dets)
        assert base == reference.stats[1]
        for error_type in ERROR_TYPES:
            fixed_gt, fixed_dets = _fixed_data(gt, dets, errors, error_type)
            assert (
                fixed_ap50(errors, (error_type,))[0]
                == run_pycocotools(fixed_gt, fixed_dets).stats[1]
            ), error_type


@pytest.mark.parametrize("seed", range(8, 14))
def test_fixing_every_error_type_gives_perfect_ap50(seed: int) -> None:
    # TIDE's types cover every false positive and every false negative: with all of them
    # fixed, each class left with ground truth has AP50 = 1 (so the mean is 1), up to the
    # eps pycocotools adds to the denominator of precision (1 / (1 + eps) < 1).
    gt, dets = random_case(seed, **RANDOM_KNOBS)
    errors = _breakdown(gt, dets)
    overall, per_class = fixed_ap50(errors, ERROR_TYPES)
    assert overall == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(per_class[~np.isnan(per_class)], 1.0, rtol=0, atol=1e-12)
    # TIDE's special errors: without false positives precision is 1 wherever recall is
    # reached; without false negatives too, recall reaches 1.
    base, _ = fixed_ap50(errors)
    no_fp, _ = fixed_ap50(errors, remove_false_positives=True)
    no_fp_or_fn, _ = fixed_ap50(errors, remove_false_positives=True, remove_false_negatives=True)
    assert no_fp_or_fn == pytest.approx(1.0, abs=1e-12)
    assert base < no_fp < no_fp_or_fn


# --- the report section on every COCO reference set


def _shared_dir() -> Path:
    configured = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"


REFERENCE = _shared_dir() / "reference-data"
REFERENCE_SETS = (
    ("cocoapi-val2014-fake100", "instances_val2014_100.json",
     "instances_val2014_fakebbox100_results.json"),
    ("padilla-val2014-bboxarea100", "sampled_gts_bbox_area.json", "sampled_bbox_results.json"),
    ("padilla-toyexample-cat", "toy_example_coco.JSON", "coco_dets.json"),
    ("podm-sample3-coco", "groundtruths_coco.json", "detections_coco.json"),
    ("podm-cartucho-sample-coco", "groundtruths_coco.json", "detections_coco.json"),
)  # fmt: skip


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")
@pytest.mark.parametrize(("folder", "gt_file", "det_file"), REFERENCE_SETS, ids=lambda v: v)
def test_error_section_on_reference_set(folder: str, gt_file: str, det_file: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ground = load_ground_truth(REFERENCE / folder / gt_file)
        preds = load_predictions(REFERENCE / folder / det_file, ground)
        report = evaluate_coco(ground, preds)
    params = CocoParams()
    matching = match_detections(ground, preds, params)
    section = error_section(
        matching, params, ground, preds, ground.category_ids.tolist(), ground.category_names
    )
    json.dumps(section, allow_nan=False)
    assert section["AP50"] == report.stats[1]
    assert [row["AP50"] for row in section["per_class"]] == [
        row["AP50"] for row in report.to_dict()["per_class"]
    ]
    # Every false positive has exactly one type; fixing them all leaves precision 1.
    errors = classify_errors(matching, params, ground, preds)
    n_fp = int((~errors.matching.true_positive[0, 0] & ~errors.matching.ignored[0, 0]).sum())
    fp_types = [name for name in ERROR_TYPES if name != "missed"]
    assert sum(section["overall"][name]["count"] for name in fp_types) == n_fp
    assert section["special"]["false_positives"]["count"] == n_fp
    assert fixed_ap50(errors, ERROR_TYPES)[0] == pytest.approx(1.0, abs=1e-12)
    for name in ERROR_TYPES:
        assert section["overall"][name]["dAP"] >= 0.0


def test_pair_chunks_do_not_change_the_result(monkeypatch) -> None:
    gt, dets = random_case(2, **RANDOM_KNOBS)
    whole = _breakdown(gt, dets)
    # Many chunks on several threads, some of one detection.
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 1)
    monkeypatch.setenv("DETEVAL_THREADS", "4")
    chunked = _breakdown(gt, dets)
    for name in ("det_error", "det_target", "det_fixed_tp", "gt_missed"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name), err_msg=name)


@pytest.mark.parametrize("seed", range(10))
def test_moved_order_is_a_stable_sort(seed: int) -> None:
    """Detections moved to another class are placed as a stable sort by (class,
    descending score) of all the kept ones places them, ties included."""
    from evaluator.analyses.tide import _moved_order

    rng = np.random.default_rng(seed)
    n, n_classes = int(rng.integers(1, 400)), int(rng.integers(2, 6))
    det_class = rng.integers(0, n_classes, n)
    det_score = rng.choice(np.array([0.9, 0.5, 0.5, 0.0, -0.0, 0.25]), n)
    previous = np.lexsort((-det_score, det_class))  # an accumulation order
    det_class, det_score = det_class[previous], det_score[previous]
    moved = np.flatnonzero(rng.random(n) < 0.2)
    shift = rng.integers(1, n_classes, moved.shape[0])  # to another class
    new_class = (det_class[moved] + shift) % n_classes
    keep = rng.random(n) < 0.9
    keep[moved] = True
    is_moved = np.zeros(n, dtype=bool)
    is_moved[moved] = True
    stay = np.flatnonzero(keep & ~is_moved)
    got, got_classes = _moved_order(det_class, det_score, stay, moved, new_class)
    classes = det_class.copy()
    classes[moved] = new_class
    kept = np.flatnonzero(keep)
    want = kept[np.lexsort((-det_score[kept], classes[kept]))]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_classes, classes[want])
