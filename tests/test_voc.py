"""PASCAL VOC AP: published reference values, a plain-loop oracle and toy cases."""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from evaluator.errors import DataWarning, InputError
from evaluator.input.coco_json import load_ground_truth, load_predictions
from evaluator.input.columns import DetectionArrays, GroundTruthArrays
from evaluator.input.voc_text import load_voc_text
from evaluator.metrics.voc import evaluate_voc, evaluate_voc_coco


def _reference_dir() -> Path:
    shared = os.environ.get("DETEVAL_SHARED_DIR")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return root / "reference-data"


REFERENCE = _reference_dir()
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"reference data not found at {REFERENCE} (set DETEVAL_SHARED_DIR)",
)


def _agrees(value: float, published: float, decimals: int) -> bool:
    """True when ``published`` is ``value`` rounded *or* truncated to ``decimals`` places."""
    return abs(value - published) < 10.0**-decimals


def _quiet_coco(gt, predictions, **kwargs):
    # The loaders warn about pycocotools traps (annotation id 0, an `ignore` field) that
    # do not affect VOC AP.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_voc_coco(gt, predictions, **kwargs)


# --------------------------------------------------------------------------- published values

ODM = REFERENCE / "padilla-odm-sample-voctext"
ODM_LAYOUTS = [("groundtruths", "detections"), ("test_case_1/gts", "test_case_1/dets")]
# review_object_detection_metrics tests/test_eval_pascal.py, 10 decimals (truncated).
ODM_PUBLISHED = {
    "11_point": {0.1: 0.3333333333, 0.3: 0.2683982683, 0.5: 0.0303030303, 0.75: 0.0},
    "all_point": {0.1: 0.3371980676, 0.3: 0.2456866804, 0.5: 0.0222222222, 0.75: 0.0},
}


@needs_reference
@pytest.mark.parametrize("layout", ODM_LAYOUTS, ids=["odm", "review"])
@pytest.mark.parametrize("interpolation", ["11_point", "all_point"])
@pytest.mark.parametrize("iou", [0.1, 0.3, 0.5, 0.75])
def test_odm_sample_published_ap(layout, interpolation, iou):
    data = load_voc_text(ODM / layout[0], ODM / layout[1])
    assert len(data.ground_truth) == 15 and len(data.detections) == 24
    result = evaluate_voc(
        data.ground_truth,
        data.detections,
        iou_threshold=iou,
        interpolation=interpolation,
        pixel_offset=1,
        category_names=data.category_names,
    )
    (only,) = result.per_class
    assert _agrees(only.ap, ODM_PUBLISHED[interpolation][iou], 10)
    assert result.mAP == only.ap


@needs_reference
@pytest.mark.parametrize(
    ("iou", "interpolation", "continuous"),
    # The README's independent computation without the +1 pixel, 4 decimals.
    [(0.1, "all_point", 0.2801), (0.3, "all_point", 0.2254), (0.1, "11_point", 0.3025)],
)
def test_odm_sample_needs_the_plus_one_convention(iou, interpolation, continuous):
    data = load_voc_text(ODM / "groundtruths", ODM / "detections")
    result = evaluate_voc(
        data.ground_truth, data.detections, iou_threshold=iou, interpolation=interpolation
    )
    assert _agrees(result.mAP, continuous, 4)
    assert not _agrees(result.mAP, ODM_PUBLISHED[interpolation][iou], 4)


def _published_field(text: str, label: str) -> str:
    match = re.search(rf"^{label}: (.*)$", text, flags=re.MULTILINE)
    assert match is not None, label
    return match.group(1)


def _published_list(text: str, label: str) -> list[float]:
    return [float(item.strip(" '")) for item in _published_field(text, label)[1:-1].split(",")]


@needs_reference
def test_odm_sample_results_txt_curve():
    """Object-Detection-Metrics' own results.txt: IoU 0.3, all-point, 2-decimal curve."""
    text = (ODM / "results.txt").read_text()
    data = load_voc_text(ODM / "groundtruths", ODM / "detections")
    result = evaluate_voc(
        data.ground_truth,
        data.detections,
        iou_threshold=0.3,
        pixel_offset=1,
        category_names=data.category_names,
    )
    (person,) = result.per_class
    assert person.name == "person"
    ap_percent = float(_published_field(text, "AP").rstrip("%"))
    assert _agrees(100 * person.ap, ap_percent, 2)
    np.testing.assert_array_equal(np.round(person.precision, 2), _published_list(text, "Precision"))
    np.testing.assert_array_equal(np.round(person.recall, 2), _published_list(text, "Recall"))
    # The README gives 26.84% for the 11-point variant at the same IoU.
    eleven = evaluate_voc(
        data.ground_truth,
        data.detections,
        iou_threshold=0.3,
        interpolation="11_point",
        pixel_offset=1,
    )
    assert _agrees(100 * eleven.mAP, 26.84, 2)


TOY = REFERENCE / "padilla-toyexample-cat"


@needs_reference
@pytest.mark.parametrize("pixel_offset", [0, 1])
@pytest.mark.parametrize(
    ("iou", "interpolation", "percent"),
    [
        (0.5, "11_point", 88.64),
        (0.5, "all_point", 89.58),
        (0.75, "11_point", 49.24),
        (0.75, "all_point", 50.97),
    ],
)
def test_toy_example_cat(iou, interpolation, percent, pixel_offset):
    # All boxes are large, so both pixel conventions give the published figures.
    result = _quiet_coco(
        TOY / "toy_example_coco.JSON",
        TOY / "coco_dets.json",
        iou_threshold=iou,
        interpolation=interpolation,
        pixel_offset=pixel_offset,
    )
    (cat,) = result.per_class
    assert (cat.category_id, cat.n_gt, cat.n_det) == (0, 12, 12)
    assert _agrees(100 * cat.ap, percent, 2)


SAMPLE3 = REFERENCE / "podm-sample3-coco"


@needs_reference
def test_podm_sample3_coco():
    expected = json.loads((SAMPLE3 / "expected0_5.json").read_text())["person"]
    result = _quiet_coco(SAMPLE3 / "groundtruths_coco.json", SAMPLE3 / "detections_coco.json")
    (person,) = result.per_class
    assert _agrees(person.ap, expected["ap"], 4)
    np.testing.assert_array_equal(np.round(person.precision, 2), expected["precision"])
    np.testing.assert_array_equal(np.round(person.recall, 2), expected["recall"])
    # tests/test_pascal_voc_metrics.py of the same repo: 0.245687 at IoU 0.3 (+1 convention).
    at_03 = _quiet_coco(
        SAMPLE3 / "groundtruths_coco.json",
        SAMPLE3 / "detections_coco.json",
        iou_threshold=0.3,
        pixel_offset=1,
    )
    assert _agrees(at_03.mAP, 0.245687, 6)


CARTUCHO = REFERENCE / "podm-cartucho-sample-coco"


@needs_reference
def test_cartucho_sample_every_published_number():
    """Per-class AP, curves and counts at IoU 0.5, to the last bit.

    The expected file was made with the +1 pixel convention: without it one "chair"
    detection (IoU 0.4948, 0.5009 with +1) turns from TP into FP.
    """
    expected = json.loads((CARTUCHO / "expected0_5.json").read_text())
    gt, preds = CARTUCHO / "groundtruths_coco.json", CARTUCHO / "detections_coco.json"
    result = _quiet_coco(gt, preds, pixel_offset=1)
    assert result.mAP == expected["mAP"]
    assert {c.name for c in result.per_class} == set(expected) - {"mAP"}
    for c in result.per_class:
        want = expected[c.name]
        counts = (c.n_gt, c.n_det, c.tp, c.fp)
        assert counts == (want["num_groundtruth"], want["num_detection"], want["tp"], want["fp"])
        assert c.precision.tolist() == want["precision"], c.name
        if c.n_gt:
            assert c.ap == want["ap"], c.name
            assert c.recall.tolist() == want["recall"], c.name
        else:
            assert math.isnan(c.ap) and math.isnan(want["ap"])
            assert np.isnan(c.recall).all() and np.isnan(want["recall"]).all()

    continuous = _quiet_coco(gt, preds)
    differs = [c.name for c in continuous.per_class if c.tp != expected[c.name]["tp"]]
    assert differs == ["chair"]


# --------------------------------------------------------------------------- loop oracle


def _oracle_iou(a, b, offset):
    ax2, ay2 = a[0] + a[2] + offset, a[1] + a[3] + offset
    bx2, by2 = b[0] + b[2] + offset, b[1] + b[3] + offset
    iw = min(ax2, bx2) - max(a[0], b[0])
    ih = min(ay2, by2) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] + offset) * (a[3] + offset) + (b[2] + offset) * (b[3] + offset) - inter
    return inter / union


def _oracle(gts, dets, iou_threshold, interpolation, offset):
    """Plain-loop VOC AP, the devkit's algorithm written out; {category: (ap, tp, fp)}."""
    out = {}
    for category in sorted({g[1] for g in gts} | {d[1] for d in dets}):
        golds = [g for g in gts if g[1] == category]
        positives = sum(1 for g in golds if not g[3])
        ranked = sorted((d for d in dets if d[1] == category), key=lambda d: -d[3])
        seen = set()
        flags = []
        for det in ranked:
            best, best_j = -1.0, None
            for j, gold in enumerate(golds):
                if gold[0] == det[0]:
                    iou = _oracle_iou(det[2], gold[2], offset)
                    if iou > best:
                        best, best_j = iou, j
            if best_j is not None and best >= iou_threshold:
                if golds[best_j][3]:
                    continue
                flags.append(best_j not in seen)
                seen.add(best_j)
            else:
                flags.append(False)
        tp = fp = 0
        precision, recall = [], []
        for flag in flags:
            tp += flag
            fp += not flag
            precision.append(tp / (tp + fp))
            recall.append(tp / positives if positives else math.nan)
        if not positives:
            out[category] = (math.nan, tp, fp)
            continue
        if interpolation == "11_point":
            total = 0.0
            for step in range(11):
                threshold = step * 0.1
                reached = [p for p, r in zip(precision, recall, strict=True) if r >= threshold]
                total += max(reached) if reached else 0.0
            ap = total / 11
        else:
            mrec = [0.0, *recall, 1.0]
            mpre = [0.0, *precision, 0.0]
            for i in range(len(mpre) - 2, -1, -1):
                mpre[i] = max(mpre[i], mpre[i + 1])
            ap = 0.0
            for i in range(1, len(mrec)):
                if mrec[i] != mrec[i - 1]:
                    ap += (mrec[i] - mrec[i - 1]) * mpre[i]
        out[category] = (ap, tp, fp)
    return out


def _random_set(seed):
    """Small random set with duplicates, near misses, score ties and difficult objects."""
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for image in range(6):
        for _ in range(rng.integers(0, 6)):
            box = [*rng.integers(0, 80, 2).tolist(), *rng.integers(4, 40, 2).tolist()]
            gts.append((image, int(rng.integers(1, 4)), box, bool(rng.random() < 0.15)))
    for image, category, box, _ in gts:
        for _ in range(rng.integers(0, 3)):  # 0, 1 or 2 (a duplicate) detections
            jitter = rng.integers(-4, 5, 4)
            wrong = int(rng.integers(1, 4)) if rng.random() < 0.1 else category
            jittered = [box[0] + jitter[0], box[1] + jitter[1]]
            jittered += [max(1, box[2] + jitter[2]), max(1, box[3] + jitter[3])]
            dets.append((image, wrong, jittered, round(float(rng.random()), 1)))
    for _ in range(rng.integers(0, 10)):  # background boxes, category 4 has no GT at all
        box = [*rng.integers(0, 80, 2).tolist(), *rng.integers(4, 40, 2).tolist()]
        dets.append((int(rng.integers(0, 6)), int(rng.integers(1, 5)), box, float(rng.random())))
    order = rng.permutation(len(dets))
    return gts, [dets[i] for i in order]


def _arrays(gts, dets):
    gt = GroundTruthArrays(
        [g[0] for g in gts],
        [g[1] for g in gts],
        np.array([g[2] for g in gts], dtype=float).reshape(-1, 4),
        difficult=[g[3] for g in gts],
    )
    det = DetectionArrays(
        [d[0] for d in dets],
        [d[1] for d in dets],
        np.array([d[2] for d in dets], dtype=float).reshape(-1, 4),
        [d[3] for d in dets],
    )
    return gt, det


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("interpolation", ["all_point", "11_point"])
@pytest.mark.parametrize("pixel_offset", [0, 1])
def test_matches_loop_oracle(seed, interpolation, pixel_offset):
    gts, dets = _random_set(seed)
    iou_threshold = (0.3, 0.5, 0.7)[seed % 3]
    expected = _oracle(gts, dets, iou_threshold, interpolation, pixel_offset)
    result = evaluate_voc(
        *_arrays(gts, dets),
        iou_threshold=iou_threshold,
        interpolation=interpolation,
        pixel_offset=pixel_offset,
    )
    assert [c.category_id for c in result.per_class] == sorted(expected)
    for c in result.per_class:
        ap, tp, fp = expected[c.category_id]
        assert (c.tp, c.fp) == (tp, fp)
        assert c.ap == ap or (math.isnan(ap) and math.isnan(c.ap))
    defined = [v[0] for v in expected.values() if not math.isnan(v[0])]
    if defined:
        assert result.mAP == pytest.approx(sum(defined) / len(defined), rel=1e-15, abs=0)


@pytest.mark.parametrize("seed", range(5))
def test_curves_are_worked_out_when_first_read_and_agree_with_the_counts(seed):
    """A VOC result holds its precision / recall / score curves unworked until one is
    read (a report reads only the APs); then every category's curve agrees with its
    counts: last recall tp / n_gt, last precision tp / (tp + fp), scores non-increasing."""
    result = evaluate_voc(*_arrays(*_random_set(seed)), iou_threshold=0.5)
    curves = result.per_class[0].curves
    assert all(c.curves is curves for c in result.per_class)
    assert curves._curves is None  # nothing worked out yet
    for c in result.per_class:
        k = c.tp + c.fp
        assert c.precision.shape == c.recall.shape == c.score.shape == (k,)
        if k:
            assert c.precision[-1] == c.tp / k
            if c.n_gt:
                assert c.recall[-1] == c.tp / c.n_gt
            assert np.all(np.diff(c.score) <= 0)
    assert curves._curves is not None


# --------------------------------------------------------------------------- toy cases


def _evaluate(gts, dets, **kwargs):
    return evaluate_voc(*_arrays(gts, dets), **kwargs)


SQUARE = [0, 0, 10, 10]
FAR = [100, 100, 10, 10]


@pytest.mark.parametrize("interpolation", ["all_point", "11_point"])
def test_perfect_detector_scores_one(interpolation):
    gts = [(0, 1, SQUARE, False), (1, 1, FAR, False), (1, 2, SQUARE, False)]
    dets = [(i, c, box, 0.9) for i, c, box, _ in gts]
    result = _evaluate(gts, dets, interpolation=interpolation)
    assert result.ap.tolist() == [1.0, 1.0]
    assert result.mAP == 1.0


@pytest.mark.parametrize("interpolation", ["all_point", "11_point"])
def test_all_misses_score_zero(interpolation):
    result = _evaluate(
        [(0, 1, SQUARE, False)],
        [(0, 1, FAR, 0.9), (1, 1, SQUARE, 0.8)],
        interpolation=interpolation,
    )
    (c,) = result.per_class
    assert (c.ap, c.tp, c.fp) == (0.0, 0, 2)
    assert c.precision.tolist() == [0.0, 0.0] and c.recall.tolist() == [0.0, 0.0]


def test_duplicate_is_a_false_positive():
    result = _evaluate([(0, 1, SQUARE, False)], [(0, 1, SQUARE, 0.8), (0, 1, SQUARE, 0.9)])
    (c,) = result.per_class
    assert (c.tp, c.fp, c.n_det) == (1, 1, 2)
    assert c.precision.tolist() == [1.0, 0.5]
    assert c.recall.tolist() == [1.0, 1.0]
    assert c.score.tolist() == [0.9, 0.8]
    assert c.ap == 1.0


def test_no_fallback_to_the_second_best_ground_truth():
    # Devkit rule: the second detection overlaps the matched A most (IoU 95/105), so it
    # is a FP although it also overlaps the free B enough (85/115); COCO would take B.
    a, b = [0, 0, 10, 10], [2, 0, 10, 10]
    second = [0.5, 0, 10, 10]
    result = _evaluate([(0, 1, a, False), (0, 1, b, False)], [(0, 1, a, 0.9), (0, 1, second, 0.8)])
    (c,) = result.per_class
    assert (c.tp, c.fp) == (1, 1)
    assert c.recall.tolist() == [0.5, 0.5]


@pytest.mark.parametrize(("b_first", "tp"), [(False, 2), (True, 1)])
def test_equal_overlap_goes_to_the_earlier_ground_truth(b_first, tp):
    a, b = [0, 0, 10, 10], [2, 0, 10, 10]
    between = [1, 0, 10, 10]  # IoU 90/110 with both A and B
    golds = (
        [(0, 1, b, False), (0, 1, a, False)] if b_first else [(0, 1, a, False), (0, 1, b, False)]
    )
    # `between` takes the earlier one; the detection exactly on B is a TP only if B is free.
    (c,) = _evaluate(golds, [(0, 1, between, 0.9), (0, 1, b, 0.8)]).per_class
    assert c.tp == tp


def test_difficult_ground_truth_is_neither_positive_nor_penalising():
    gts = [(0, 1, SQUARE, False), (0, 1, FAR, True)]
    dets = [(0, 1, FAR, 0.95), (0, 1, SQUARE, 0.9), (0, 1, FAR, 0.5)]
    result = _evaluate(gts, dets)
    (c,) = result.per_class
    assert (c.n_gt, c.n_difficult, c.n_det, c.tp, c.fp, c.n_ignored) == (1, 1, 3, 1, 0, 2)
    assert c.precision.tolist() == [1.0] and c.recall.tolist() == [1.0]
    assert c.ap == 1.0


def test_only_difficult_ground_truth_is_undefined():
    result = _evaluate(
        [(0, 1, SQUARE, False), (0, 2, SQUARE, True)],
        [(0, 1, SQUARE, 0.9), (0, 2, SQUARE, 0.9)],
    )
    assert result[2].undefined_reason == "only difficult ground truth"
    assert math.isnan(result[2].ap)
    assert result.mAP == 1.0


def test_iscrowd_counts_as_difficult():
    gt = GroundTruthArrays([0, 0], [1, 1], [SQUARE, FAR], iscrowd=[False, True])
    det = DetectionArrays([0, 0], [1, 1], [FAR, SQUARE], [0.9, 0.8])
    (c,) = evaluate_voc(gt, det).per_class
    assert (c.n_gt, c.n_difficult, c.tp, c.fp, c.n_ignored) == (1, 1, 1, 0, 1)


def test_class_without_ground_truth_is_null_and_left_out_of_the_mean():
    result = _evaluate(
        [(0, 1, SQUARE, False)],
        [(0, 1, SQUARE, 0.9), (0, 7, SQUARE, 0.8)],
        category_names={1: "cat", 7: "dog", 9: "bird"},
    )
    assert result.category_ids.tolist() == [1, 7, 9]
    dog, bird = result[7], result[9]
    assert math.isnan(dog.ap) and (dog.tp, dog.fp) == (0, 1)
    assert np.isnan(dog.recall).all() and dog.precision.tolist() == [0.0]
    assert math.isnan(bird.ap) and bird.n_det == 0
    assert result.mAP == 1.0
    report = result.to_dict(curves=True)
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN anywhere
    by_id = {entry["category_id"]: entry for entry in report["per_class"]}
    assert (by_id[7]["name"], by_id[7]["AP"], by_id[7]["undefined_reason"]) == (
        "dog",
        None,
        "no ground truth",
    )
    assert by_id[7]["recall"] is None
    assert (by_id[1]["AP"], by_id[1]["undefined_reason"]) == (1.0, None)
    assert report["mAP"] == 1.0 and report["n_categories_with_gt"] == 1


@pytest.mark.parametrize("interpolation", ["all_point", "11_point"])
def test_empty_detections(interpolation):
    result = _evaluate([(0, 1, SQUARE, False), (0, 2, FAR, False)], [], interpolation=interpolation)
    assert result.ap.tolist() == [0.0, 0.0]
    assert result.mAP == 0.0
    assert all(c.precision.shape == (0,) for c in result.per_class)


def test_nothing_at_all():
    result = _evaluate([], [])
    assert result.per_class == () and math.isnan(result.mAP)
    report = result.to_dict()
    assert (report["mAP"], report["undefined_reason"]) == (None, "no category has ground truth")


def test_score_ties_keep_input_order():
    gts = [(0, 1, SQUARE, False)]
    hit, miss = (0, 1, SQUARE, 0.5), (0, 1, FAR, 0.5)
    first_hit = _evaluate(gts, [hit, miss]).per_class[0]
    first_miss = _evaluate(gts, [miss, hit]).per_class[0]
    assert first_hit.precision.tolist() == [1.0, 0.5] and first_hit.ap == 1.0
    assert first_miss.precision.tolist() == [0.0, 0.5] and first_miss.ap == 0.5


def test_iou_threshold_is_inclusive_and_pixel_offset_widens_boxes():
    half = [0, 0, 10, 5]  # IoU 50/100 = 0.5 exactly; 66/121 with the +1 convention
    gts = [(0, 1, SQUARE, False)]
    assert _evaluate(gts, [(0, 1, half, 0.9)]).mAP == 1.0
    assert _evaluate(gts, [(0, 1, half, 0.9)], iou_threshold=0.54).mAP == 0.0
    assert _evaluate(gts, [(0, 1, half, 0.9)], iou_threshold=0.54, pixel_offset=1).mAP == 1.0
    assert _evaluate(gts, [(0, 1, half, 0.9)], iou_threshold=0.55, pixel_offset=1).mAP == 0.0


def test_eleven_point_uses_the_devkit_thresholds():
    # 3 of 10 objects found at precision 1: recall is 3/10 = 0.3, below the devkit's
    # 0.30000000000000004, so only the points 0, 0.1 and 0.2 count: AP = 3/11, not 4/11.
    gts = [(0, 1, [20 * i, 0, 10, 10], False) for i in range(10)]
    dets = [(0, 1, [20 * i, 0, 10, 10], 0.9) for i in range(3)]
    assert _evaluate(gts, dets, interpolation="11_point").mAP == 3 / 11
    assert _evaluate(gts, dets).mAP == pytest.approx(0.3, abs=1e-15)


def test_matching_stays_inside_image_and_category():
    gts = [(0, 1, SQUARE, False)]
    dets = [(1, 1, SQUARE, 0.9), (0, 2, SQUARE, 0.8)]
    result = _evaluate(gts, dets)
    assert (result[1].tp, result[1].fp) == (0, 1)
    assert (result[2].tp, result[2].fp) == (0, 1)


def test_result_arrays_are_read_only():
    result = _evaluate([(0, 1, SQUARE, False)], [(0, 1, SQUARE, 0.9)])
    with pytest.raises(ValueError, match="read-only"):
        result.per_class[0].precision[0] = 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iou_threshold": 0.0}, "iou_threshold must be in"),
        ({"iou_threshold": 1.5}, "iou_threshold must be in"),
        ({"interpolation": "101_point"}, "interpolation must be one of"),
        ({"pixel_offset": 2}, "pixel_offset must be 0 or 1"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _evaluate([], [], **kwargs)


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: GroundTruthArrays([0, 1], [1], [SQUARE, SQUARE]),
            "ground_truth.category: expected 2 values, got 1",
        ),
        (
            lambda: GroundTruthArrays([0.5], [1], [SQUARE]),
            "ground_truth.image: expected a 1-d array of integers",
        ),
        (
            lambda: GroundTruthArrays([0, 0], [1, 1], [SQUARE, [0, 0, -1, 3]]),
            r"ground_truth.bbox\[1\]: width and height must be >= 0",
        ),
        (
            lambda: GroundTruthArrays([0], [1], [[0, 0, 3]]),
            r"ground_truth.bbox: expected shape \(1, 4\), got \(1, 3\)",
        ),
        (
            lambda: GroundTruthArrays([0], [1], [SQUARE], difficult=[2]),
            r"ground_truth.difficult\[0\]: expected 0 or 1, got 2",
        ),
        (
            lambda: DetectionArrays(
                [0, 0], [1, 1], np.array([SQUARE, [0, np.inf, 1, 1]]), [0.1, 0.2]
            ),
            r"detections.bbox\[1\]: expected finite numbers",
        ),
        (
            lambda: DetectionArrays([0, 0], [1, 1], [SQUARE, SQUARE], [0.1, np.nan]),
            r"detections.score\[1\]: expected a finite number, got nan",
        ),
        (
            lambda: DetectionArrays([0], [1], [SQUARE], ["high"]),
            "detections.score: expected numbers",
        ),
        (
            lambda: DetectionArrays([0], [1], [[5, 5, 1, 1]], [0.5], fmt="xyxy"),
            r"detections.bbox\[0\]: width and height must be >= 0, got \[5.0, 5.0, 1.0, 1.0\] xyxy",
        ),
    ],
)
def test_array_input_errors(build, message):
    with pytest.raises(InputError, match=message):
        build()


def test_xyxy_input_is_stored_as_xywh():
    det = DetectionArrays([0], [1], [[1, 2, 4, 6]], [0.5], fmt="xyxy")
    assert det.bbox.tolist() == [[1.0, 2.0, 3.0, 4.0]]


COCO_GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": SQUARE, "area": 100, "iscrowd": 0},
        {"id": 2, "image_id": 2, "category_id": 1, "bbox": FAR, "area": 100, "difficult": 1},
        {"id": 3, "image_id": 2, "category_id": 2, "bbox": SQUARE, "area": 100, "iscrowd": 1},
    ],
}


@pytest.mark.filterwarnings("ignore:.*have no .iscrowd.:evaluator.errors.DataWarning")
def test_coco_wrapper_reads_difficult_and_crowd_flags():
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": SQUARE, "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": FAR, "score": 0.8},
        {"image_id": 2, "category_id": 2, "bbox": SQUARE, "score": 0.7},
    ]
    result = evaluate_voc_coco(COCO_GT, {"annotations": preds})
    cat, dog = result[1], result[2]
    assert (cat.name, cat.n_gt, cat.n_difficult, cat.tp, cat.n_ignored) == ("cat", 1, 1, 1, 1)
    assert (dog.n_gt, dog.n_difficult, dog.n_ignored, dog.undefined_reason) == (
        0,
        1,
        1,
        "only difficult ground truth",
    )
    assert result.mAP == 1.0


@pytest.mark.filterwarnings("ignore:.*have no .iscrowd.:evaluator.errors.DataWarning")
def test_coco_wrapper_drops_unknown_categories_with_a_warning():
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": SQUARE, "score": 0.9},
        {"image_id": 1, "category_id": 5, "bbox": SQUARE, "score": 0.9},
    ]
    with pytest.warns(DataWarning, match="categories not in the ground truth"):
        result = evaluate_voc_coco(COCO_GT, preds)
    assert [(c.category_id, c.name, c.n_det) for c in result.per_class] == [
        (1, "cat", 1),
        (2, "dog", 0),
    ]
    assert sum(c.n_gt + c.n_difficult for c in result.per_class) == 3
    ground = load_ground_truth(COCO_GT)
    loaded = load_predictions(preds, ground)
    known = loaded.of_declared_categories(ground)
    assert loaded.category_ids.tolist() == [1, 5]  # positions stay the input's
    assert known.category_ids.tolist() == [1]
    assert known.of_declared_categories(ground) is known  # nothing to drop: no copy


@pytest.mark.parametrize(
    ("pred", "message"),
    [
        (
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 0.9},
            r"^predictions\[0\]\.bbox: expected 4 numbers .*, got 3$",
        ),
        (
            {"image_id": 9, "category_id": 1, "bbox": SQUARE, "score": 0.9},
            r"^predictions\[0\]\.image_id: unknown image id 9 ",
        ),
        (
            {"image_id": 1, "category_id": 1, "bbox": SQUARE, "score": math.nan},
            r"^predictions\[0\]\.score: must be a finite number",
        ),
    ],
)
def test_coco_wrapper_input_errors(pred, message):
    with pytest.raises(InputError, match=message):
        evaluate_voc_coco(COCO_GT, [pred])


# --------------------------------------------------------------------------- text loader


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_text_loader_pairs_files_and_reads_difficult(tmp_path):
    gts = _write(
        tmp_path / "gts",
        {"b.txt": "dog 0 0 10 10\n\ncat 100 100 10 10 difficult\n", "a.txt": "cat 0 0 10 10\n"},
    )
    dets = _write(tmp_path / "dets", {"a.txt": "cat 0.9 0 0 10 10\n", "b.txt": "dog .5 0 0 10 10"})
    data = load_voc_text(gts, dets)
    assert data.image_names == ("a", "b") and data.class_names == ("cat", "dog")
    assert data.ground_truth.image.tolist() == [0, 1, 1]
    assert data.ground_truth.category.tolist() == [0, 1, 0]
    assert data.ground_truth.difficult.tolist() == [False, False, True]
    assert data.detections.score.tolist() == [0.9, 0.5]
    result = evaluate_voc(data.ground_truth, data.detections, category_names=data.category_names)
    assert [(c.name, c.ap) for c in result.per_class] == [("cat", 1.0), ("dog", 1.0)]


def test_text_loader_xyxy(tmp_path):
    gts = _write(tmp_path / "gts", {"a.txt": "cat 1 2 11 12\n"})
    dets = _write(tmp_path / "dets", {"a.txt": "cat 0.9 1 2 11 12\n"})
    data = load_voc_text(gts, dets, fmt="xyxy")
    assert data.ground_truth.bbox.tolist() == [[1.0, 2.0, 10.0, 10.0]]
    assert data.detections.bbox.tolist() == [[1.0, 2.0, 10.0, 10.0]]


def test_text_loader_warns_about_detections_without_ground_truth_file(tmp_path):
    gts = _write(tmp_path / "gts", {"a.txt": "cat 0 0 10 10\n"})
    dets = _write(tmp_path / "dets", {"a.txt": "", "a_typo.txt": "cat 0.9 0 0 10 10\n"})
    with pytest.warns(DataWarning, match=r"1 detection files have no ground-truth file .*a_typo"):
        data = load_voc_text(gts, dets)
    assert data.image_names == ("a", "a_typo")
    assert evaluate_voc(data.ground_truth, data.detections).mAP == 0.0


@pytest.mark.parametrize(
    ("gt_text", "det_text", "message"),
    [
        ("cat 0 0 10\n", "", r"gts/a.txt:1: expected '<class> <left> <top> <width> <height>"),
        ("cat 0 0 10 10 hard\n", "", r"gts/a.txt:1: expected .* got 6 fields"),
        ("cat 0 0 10 10\ncat 0 x 1 1\n", "", r"gts/a.txt:2: expected a number, got 'x'"),
        ("cat 0 0 -1 10\n", "", r"gts/a.txt:1: negative width or height"),
        ("", "\ncat 0.9 0 0 10\n", r"dets/a.txt:2: expected '<class> <confidence>"),
        ("", "cat nan 0 0 10 10\n", r"dets/a.txt:1: expected a finite number, got 'nan'"),
        # issue 10, point 4: names within the limit, a long value shown shortened
        ("x" * 1001 + " 0 0 1 1\n", "", r"gts/a.txt:1: 1001 characters, at most 1000$"),
        ("", "y" * 1001 + " .5 0 0 1 1\n", r"dets/a.txt:1: 1001 characters, at most 1000$"),
        (
            "cat 0 " + "9" * 10**5 + "x 1 1\n",
            "",
            r"gts/a.txt:1: expected a number, got '9+\.\.\.9+x'$",
        ),
        (
            "".join(f"c{k} 0 0 1 1\n" for k in range(20_001)),
            "",
            r"^gts \+ dets: 20001 classes, at most 20000$",
        ),
    ],
)
def test_text_loader_errors_name_file_and_line(tmp_path, gt_text, det_text, message):
    gts = _write(tmp_path / "gts", {"a.txt": gt_text})
    dets = _write(tmp_path / "dets", {"a.txt": det_text})
    with pytest.raises(InputError, match=message):
        load_voc_text(gts, dets)


def test_text_loader_missing_folder(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_voc_text(tmp_path / "nope", tmp_path)


@needs_reference
def test_text_set_as_coco_gives_the_same_voc_ap() -> None:
    data = load_voc_text(ODM / "groundtruths", ODM / "detections")
    gt, results = data.to_coco()
    direct = evaluate_voc(
        data.ground_truth, data.detections, iou_threshold=0.3, category_names=data.category_names
    )
    via_coco = evaluate_voc_coco(gt, results, iou_threshold=0.3)
    assert via_coco.mAP == direct.mAP


@pytest.mark.parametrize("spread", [1, 10**9])  # a table; a binary search
def test_image_positions_are_index_of(spread: int) -> None:
    """Every annotation's image found; a detection elsewhere (below, between, above the
    declared ids) gets the negative marker."""
    from evaluator.input.ids import index_of
    from evaluator.metrics.pairs import image_positions

    rng = np.random.default_rng(3)
    image_ids = np.unique(rng.integers(5, 400, 60)) * spread
    gt_ids = rng.choice(image_ids, 200)
    det_ids = rng.integers(0, 420, 500) * spread
    gt_image, det_image = image_positions(image_ids, gt_ids, det_ids)
    np.testing.assert_array_equal(gt_image, index_of(image_ids, gt_ids)[0])
    position, known = index_of(image_ids, det_ids)
    np.testing.assert_array_equal(det_image, np.where(known, position, -(image_ids.shape[0] + 1)))
