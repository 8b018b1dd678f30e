"""The notes' "more data against overfitting": validation mAP with and without augmentation.

The TinyDetector of ``examples/nn_detector.py`` (same synthetic shapes, model, loss,
optimizer and schedule, imported from there) is trained twice on a deliberately small
training set, from the same initial weights and for the same number of steps:

* as is: every epoch shows the same ``--train-images`` images again;
* augmented: every epoch shows a fresh random variant of each image from
  :class:`evaluator.nn.augment.BoxAugment`: horizontal flip (p = 0.5), a random crop of
  50-100% of the area zoomed back to 64x64 (p = 0.5; a box is kept if half its area stays
  in the crop, and clipped to it), brightness and contrast jitter of +-20%.

Both are scored on the same held-out images with ``evaluate_coco``::

    .venv/bin/python examples/notes_augmentation.py            # about 3 minutes on 2 cores
    .venv/bin/python examples/notes_augmentation.py --epochs 40 --seed 1

With few images the plain model learns them by heart: its AP on its own training images
runs far ahead of its validation AP. The augmented model never sees the same image
twice, so it fits its training images less tightly and generalises better.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

import numpy as np
from nn_detector import TinyDetector, encode_targets, make_dataset, predict, train

from evaluator import evaluate_coco
from evaluator.nn.augment import BoxAugment


def augmented_copies(
    images: np.ndarray, coco: dict[str, Any], copies: int, augment: BoxAugment
) -> tuple[np.ndarray, dict[str, Any]]:
    """``copies`` random variants of every image, with their boxes, as a new dataset.

    Returns
    -------
    images : ndarray of shape (copies * N, 1, 64, 64), dtype float32
    coco : dict
        Ground truth of the variants (``images`` and ``annotations`` with xywh boxes),
        image ids ``1 .. copies * N``; what ``encode_targets`` needs.
    """
    n = len(images)
    boxes_of: dict[int, list[list[float]]] = defaultdict(list)
    labels_of: dict[int, list[int]] = defaultdict(list)
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes_of[ann["image_id"]].append([x, y, x + w, y + h])
        labels_of[ann["image_id"]].append(ann["category_id"])
    out = np.empty((copies * n, *images.shape[1:]), images.dtype)
    annotations: list[dict[str, Any]] = []
    for copy in range(copies):
        for index in range(n):
            new_id = copy * n + index + 1
            image, boxes, labels = augment(
                images[index],
                np.array(boxes_of[index + 1], float).reshape(-1, 4),
                np.array(labels_of[index + 1], int),
            )
            out[new_id - 1] = image
            for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist(), strict=True):
                annotations.append(
                    {"image_id": new_id, "category_id": label, "bbox": [x1, y1, x2 - x1, y2 - y1]}
                )
    new_coco = {
        "images": [{"id": i + 1} for i in range(copies * n)],
        "annotations": annotations,
        "categories": coco["categories"],
    }
    return out, new_coco


def average_precision(
    model: TinyDetector, images: np.ndarray, coco: dict[str, Any]
) -> tuple[float, float]:
    """COCO AP (IoU 0.50:0.95) and AP50 of the model's detections on ``images``."""
    predictions = predict(model, images)
    if not predictions:
        return 0.0, 0.0
    stats = evaluate_coco(coco, predictions).stats
    return float(stats[0]), float(stats[1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=128, help="a multiple of 32")
    parser.add_argument("--val-images", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    train_images, train_coco = make_dataset(args.train_images, seed=args.seed)
    val_images, val_coco = make_dataset(args.val_images, seed=args.seed + 1)
    n_train = args.train_images
    print(
        f"{n_train} training images ({len(train_coco['annotations'])} boxes), "
        f"{args.val_images} validation images, {args.epochs} epochs"
    )
    augment = BoxAugment(
        flip_p=0.5, crop_p=0.5, scale=(0.5, 1.0), brightness=0.2, contrast=0.2, rng=args.seed
    )
    results: dict[str, float] = {}
    for name in ("no augmentation", "augmentation"):
        start = time.perf_counter()
        model = TinyDetector(seed=args.seed)
        if name == "augmentation":
            # One fresh variant of every image per epoch, all drawn up front: one pass
            # over them is as many steps as ``epochs`` passes over the originals.
            images, coco = augmented_copies(train_images, train_coco, args.epochs, augment)
            train(model, images, encode_targets(coco, len(images)), 1, args.seed)
        else:
            targets = encode_targets(train_coco, n_train)
            train(model, train_images, targets, args.epochs, args.seed)
        train_ap, _ = average_precision(model, train_images, train_coco)
        val_ap, val_ap50 = average_precision(model, val_images, val_coco)
        results[f"{name} train AP"], results[f"{name} val AP"] = train_ap, val_ap
        results[f"{name} val AP50"] = val_ap50
        print(
            f"{name:16} AP on training images {train_ap:.3f}  validation AP {val_ap:.3f}  "
            f"AP50 {val_ap50:.3f}  ({time.perf_counter() - start:.0f} s)"
        )
    return results


if __name__ == "__main__":
    main()
