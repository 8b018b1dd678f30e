"""The report's other sections on masks: the confusion matrix and TIDE by mask IoU.

A mask that fills an integer box exactly has the box's IoU with every other such mask,
bit for bit (pixel counts are the areas, and the division is the same), crowd regions
included. So a segm evaluation of rectangle masks must give the very report a bbox
evaluation of their boxes gives: stats, matching, confusion matrix and TIDE errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluator import evaluate_coco
from evaluator.masks import encode

HEIGHT, WIDTH = 48, 64


def _rectangle(rng: np.random.Generator) -> list[int]:
    x, y = int(rng.integers(0, WIDTH - 2)), int(rng.integers(0, HEIGHT - 2))
    return [x, y, int(rng.integers(1, WIDTH - x)), int(rng.integers(1, HEIGHT - y))]


def _mask(box: list[int]) -> dict[str, Any]:
    x, y, w, h = box
    bitmap = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    bitmap[y : y + h, x : x + w] = 1
    rle = encode(np.asfortranarray(bitmap))
    assert isinstance(rle, dict)
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _jitter(box: list[int], rng: np.random.Generator) -> list[int]:
    x, y, w, h = (v + int(rng.integers(-3, 4)) for v in box)
    x, y = min(max(x, 0), WIDTH - 1), min(max(y, 0), HEIGHT - 1)
    return [x, y, min(max(w, 1), WIDTH - x), min(max(h, 1), HEIGHT - y)]


def _case(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Ground truth with both boxes and masks, and the same results as boxes and masks."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "height": HEIGHT, "width": WIDTH} for i in range(1, 7)]
    anns, boxes = [], []
    for image in images:
        for _ in range(int(rng.integers(0, 6))):
            box = _rectangle(rng)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image["id"],
                    "category_id": int(rng.integers(1, 4)),
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": int(rng.random() < 0.1),
                    "segmentation": _mask(box),
                }
            )
            for _ in range(int(rng.integers(0, 4))):  # near it, some in another class
                category = anns[-1]["category_id"] if rng.random() < 0.7 else 1
                boxes.append((image["id"], category, _jitter(box, rng)))
        for _ in range(int(rng.integers(0, 3))):  # background
            boxes.append((image["id"], int(rng.integers(1, 4)), _rectangle(rng)))
    scores = np.round(rng.random(len(boxes)), 2).tolist()  # ties too
    as_boxes = [
        {"image_id": i, "category_id": c, "bbox": b, "score": s}
        for (i, c, b), s in zip(boxes, scores, strict=True)
    ]
    as_masks = [
        {"image_id": i, "category_id": c, "segmentation": _mask(b), "score": s}
        for (i, c, b), s in zip(boxes, scores, strict=True)
    ]
    gt = {"images": images, "categories": [{"id": k, "name": f"c{k}"} for k in (1, 2, 3)]}
    gt["annotations"] = anns
    return gt, as_boxes, as_masks


@pytest.mark.parametrize("seed", range(12))
def test_rectangle_masks_report_as_their_boxes(seed: int) -> None:
    gt, as_boxes, as_masks = _case(seed)
    boxes = evaluate_coco(gt, as_boxes, extras=True)
    masks = evaluate_coco(gt, as_masks, iou_type="segm", extras=True)
    np.testing.assert_array_equal(masks.precision, boxes.precision, strict=True)
    np.testing.assert_array_equal(masks.recall, boxes.recall, strict=True)
    by_boxes, by_masks = boxes.to_dict(), masks.to_dict()
    assert by_masks["iou_type"] == "segm" and "voc" not in by_masks
    assert by_masks["not_applicable"] == {
        "voc": "VOC AP is a box metric; this is a segm evaluation"
    }
    for section in ("stats", "per_class", "operating_points", "confusion_matrix", "errors"):
        assert by_masks[section] == by_boxes[section], section
    assert sum(map(sum, by_masks["confusion_matrix"]["counts"])) > 0


def test_sections_read_masks_not_their_boxes() -> None:
    # The result is the ground truth's 10 x 10 square plus one far pixel: mask IoU
    # 100/101, but its box spans the image (box IoU 100/3072). By boxes it would be a
    # background error and a miss; by masks it is a true positive.
    square = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    square[:10, :10] = 1
    stray = square.copy()
    stray[HEIGHT - 1, WIDTH - 1] = 1

    def rle(bitmap: np.ndarray) -> dict[str, Any]:
        encoded = encode(np.asfortranarray(bitmap))
        assert isinstance(encoded, dict)
        return {"size": encoded["size"], "counts": encoded["counts"].decode()}

    gt = {
        "images": [{"id": 1, "height": HEIGHT, "width": WIDTH}],
        "categories": [{"id": 1, "name": "c1"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 10, 10],
                "area": 100,
                "iscrowd": 0,
                "segmentation": rle(square),
            }
        ],
    }
    results = [{"image_id": 1, "category_id": 1, "segmentation": rle(stray), "score": 0.9}]
    report = evaluate_coco(gt, results, iou_type="segm", extras=True).to_dict()
    assert report["stats"][1] > 0.99  # AP50 (pycocotools: 1 - 1e-16, its eps)
    assert report["confusion_matrix"]["counts"] == [[1, 0], [0, 0]]
    assert report["errors"]["overall"]["background"]["count"] == 0
    assert report["errors"]["overall"]["missed"]["count"] == 0
