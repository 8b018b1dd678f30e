"""GroundTruth and Predictions: one pair of column types for COCO, VOC, TIDE and confusion.

Columns built with ``from_arrays`` and columns loaded from COCO JSON are the same types,
and every metric gives the same answer on both; the former ``GroundTruthArrays`` and
``DetectionArrays`` names still build them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from coco_cases import random_case

from evaluator import (
    DataWarning,
    DetectionArrays,
    GroundTruth,
    GroundTruthArrays,
    InputError,
    Predictions,
    detection_confusion_matrix,
    evaluate_voc,
    evaluate_voc_coco,
    load_ground_truth,
    load_predictions,
)
from evaluator.coco import evaluate_loaded
from evaluator.input.voc_text import load_voc_text
from evaluator.metrics.params import CocoParams

SQUARE = [0.0, 0.0, 10.0, 10.0]
FAR = [100.0, 100.0, 10.0, 10.0]


def _loaded_and_rebuilt(seed: int) -> tuple[tuple[GroundTruth, Predictions], ...]:
    """A random COCO set loaded from JSON, and the same boxes through ``from_arrays``."""
    # Areas are the boxes' w * h, as from_arrays computes them.
    gt, dets = random_case(seed, segment_area_rate=0.0, boundary_area_rate=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ground = load_ground_truth(gt)
        preds = load_predictions(dets, ground)
    rebuilt = GroundTruth.from_arrays(
        ground.ann_image_ids,
        ground.ann_category_ids,
        ground.boxes,
        iscrowd=ground.iscrowd,
        images=ground.image_ids,
        category_names=dict(zip(ground.category_ids.tolist(), ground.category_names)),
    )
    rebuilt_preds = Predictions.from_arrays(
        preds.image_ids, preds.category_ids, preds.boxes, preds.scores
    )
    np.testing.assert_array_equal(rebuilt.areas, ground.areas)  # the premise
    return (ground, preds), (rebuilt, rebuilt_preds)


@pytest.mark.parametrize("seed", range(6))
def test_coco_report_is_the_same_on_loaded_and_built_columns(seed: int) -> None:
    loaded, built = _loaded_and_rebuilt(seed)
    params = CocoParams()
    expected = evaluate_loaded(*loaded, params, extras=True).to_dict()
    got = evaluate_loaded(*built, params, extras=True).to_dict()
    expected.pop("warnings")
    got.pop("warnings")
    assert got == expected  # stats, per-class, VOC, confusion matrix and TIDE sections


@pytest.mark.parametrize("seed", range(6))
def test_voc_and_confusion_take_loaded_columns_as_they_are(seed: int) -> None:
    (ground, preds), _ = _loaded_and_rebuilt(seed)
    names = dict(zip(ground.category_ids.tolist(), ground.category_names))
    known = preds.of_declared_categories(ground)
    direct = evaluate_voc(ground, known, category_names=names).to_dict(curves=True)
    gt, dets = random_case(seed, segment_area_rate=0.0, boundary_area_rate=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert evaluate_voc_coco(gt, dets).to_dict(curves=True) == direct
    matrix = detection_confusion_matrix(ground, known, score_threshold=0.3, category_names=names)
    assert matrix.category_ids == tuple(ground.category_ids.tolist())


def test_undeclared_annotations_are_left_out_of_voc_and_confusion() -> None:
    base = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": SQUARE, "area": 100, "iscrowd": 0}
        ],
    }
    stray = [
        {"id": 2, "image_id": 1, "category_id": 9, "bbox": FAR, "area": 100, "iscrowd": 0},
        {"id": 3, "image_id": 7, "category_id": 1, "bbox": FAR, "area": 100, "iscrowd": 0},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        clean = load_ground_truth(base)
        messy = load_ground_truth({**base, "annotations": base["annotations"] + stray})
    assert clean.declared_only() is clean  # nothing to leave out: no copy
    assert len(messy) == 3 and len(messy.declared_only()) == 1
    dets = Predictions.from_arrays([1, 1], [1, 1], [SQUARE, FAR], [0.9, 0.8])
    assert evaluate_voc(messy, dets).to_dict() == evaluate_voc(clean, dets).to_dict()
    m_clean = detection_confusion_matrix(clean, dets, score_threshold=0.5)
    m_messy = detection_confusion_matrix(messy, dets, score_threshold=0.5)
    assert m_messy.to_dict() == m_clean.to_dict()


def test_from_arrays_declares_the_keys_of_the_boxes_and_what_it_is_given() -> None:
    gt = GroundTruth.from_arrays(
        [5, 3, 5],
        [2, 1, 2],
        [[0, 0, 4, 5], SQUARE, [1, 1, 2, 3]],
        difficult=[0, 1, 0],
        images=[9],
        category_names={1: "cat", 4: "bird"},
    )
    assert gt.image_ids.tolist() == [3, 5, 9]
    assert gt.category_ids.tolist() == [1, 2, 4]
    assert gt.category_names == ("cat", "", "bird")
    assert gt.ann_ids.tolist() == [1, 2, 3]
    assert gt.areas.tolist() == [20.0, 100.0, 6.0]
    assert gt.difficult.tolist() == [False, True, False]
    assert not gt.iscrowd.any() and not gt.ignore.any()
    assert gt.warnings == () and gt.image_names == ()
    for column in (gt.image_ids, gt.category_ids, gt.ann_ids, gt.boxes, gt.areas, gt.ignore):
        with pytest.raises(ValueError, match="read-only"):
            column[0] = 0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({4: 7}, r"^gts\.category_names\[4\]: expected a string, got int"),
        ({"cat": "cat"}, r"^gts\.category_names: expected a 1-d array of integers"),
        ({4: "x" * 1001}, r"^gts\.category_names\[4\]: "),
    ],
)
def test_from_arrays_refuses_bad_category_names(names: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        GroundTruth.from_arrays([0], [1], [SQUARE], category_names=names, name="gts")


def test_former_names_build_the_unified_types_with_their_attribute_names() -> None:
    gt = GroundTruthArrays(image=[0, 0], category=[1, 2], bbox=[SQUARE, FAR], iscrowd=[0, 1])
    det = DetectionArrays(image=[0], category=[1], bbox=[[0, 0, 10, 10]], score=[0.5], fmt="xyxy")
    assert isinstance(gt, GroundTruth) and isinstance(det, Predictions)
    assert len(gt) == 2 and len(det) == 1
    assert gt.image is gt.ann_image_ids and gt.category is gt.ann_category_ids
    assert gt.bbox is gt.boxes
    assert det.image is det.image_ids and det.category is det.category_ids
    assert det.bbox is det.boxes and det.score is det.scores
    assert det.bbox.tolist() == [[0.0, 0.0, 10.0, 10.0]]
    assert evaluate_voc(gt, det).mAP == 1.0


def test_voc_text_set_declares_every_image_and_class(tmp_path) -> None:
    (tmp_path / "gts").mkdir()
    (tmp_path / "dets").mkdir()
    (tmp_path / "gts" / "a.txt").write_text("cat 0 0 10 10\n")
    (tmp_path / "dets" / "a.txt").write_text("cat 0.9 0 0 10 10\n")
    (tmp_path / "dets" / "b.txt").write_text("dog 0.5 0 0 10 10\n")
    with pytest.warns(DataWarning, match="no ground-truth file"):
        data = load_voc_text(tmp_path / "gts", tmp_path / "dets")
    assert data.ground_truth.image_ids.tolist() == [0, 1]  # b has no objects, still an image
    assert data.ground_truth.category_ids.tolist() == [0, 1]
    assert data.ground_truth.category_names == ("cat", "dog")
    assert isinstance(data.detections, Predictions)
