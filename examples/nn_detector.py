"""A small object detector trained in NumPy with evaluator.nn, scored by evaluate_coco.

One command, no downloads: the script draws squares, circles and triangles on noisy
64x64 images, trains a tiny one-stage detector on them, writes COCO-format predictions
for a held-out set and scores them with ``evaluate_coco``, next to a random baseline::

    .venv/bin/python examples/nn_detector.py            # about 5 minutes on 2 cores
    .venv/bin/python examples/nn_detector.py --quick    # a few seconds, a smoke run

The model (anchor-free, YOLO-like, one box per 8x8 cell):

* backbone: four Conv-BatchNorm-ReLU blocks, a 2x2 max-pool after the first three
  (64x64 -> 8x8), with a residual block at the end;
* head: a 1x1 convolution giving, per cell, 3 class logits and 4 box numbers.

A ground-truth box is assigned to the cell holding its centre. Classification is the
notes' multi-label logistic regression: one sigmoid per class (BCEWithLogitsLoss), a
detection wherever a class probability passes the threshold. The box is decoded as
``cx = 8 (j + 0.5 + tx)``, ``cy = 8 (i + 0.5 + ty)``, ``w = 8 exp(tw)``, ``h = 8 exp(th)``
and trained with the GIoU loss. AdamW, a warm-up + cosine learning rate and gradient
clipping complete the loop; per-class non-maximum suppression cleans the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import evaluator.nn as nn
from evaluator import box_convert, box_iou, evaluate_coco

CLASSES = ("square", "circle", "triangle")
IMAGE = 64  # image side, pixels
STRIDE = 8  # pixels per grid cell
GRID = IMAGE // STRIDE


# --------------------------------------------------------------------------- data
def shape_mask(kind: int, cx: float, cy: float, size: float) -> np.ndarray:
    """Boolean (IMAGE, IMAGE) mask of one shape of the given class, centre and size."""
    y, x = np.mgrid[0:IMAGE, 0:IMAGE] + 0.5  # pixel centres
    half = size / 2
    if CLASSES[kind] == "square":
        return (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
    if CLASSES[kind] == "circle":
        return (x - cx) ** 2 + (y - cy) ** 2 <= half**2
    # Triangle pointing up: the half-width grows linearly from apex to base.
    depth = (y - (cy - half)) / size  # 0 at the apex, 1 at the base
    return (depth >= 0) & (depth <= 1) & (np.abs(x - cx) <= depth * half)


def make_dataset(n_images: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Noisy images with 1-3 non-overlapping shapes, and their COCO ground truth.

    Returns
    -------
    images : ndarray of shape (n_images, 1, 64, 64), dtype float32
    coco : dict
        COCO ground truth (``images``, ``annotations`` with xywh boxes, ``categories``).
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n_images, 1, IMAGE, IMAGE), np.float32)
    annotations: list[dict[str, Any]] = []
    for index in range(n_images):
        canvas = rng.normal(0.0, 0.25, (IMAGE, IMAGE))  # the noise
        canvas += rng.uniform(-0.2, 0.2) + np.linspace(0, rng.uniform(-0.3, 0.3), IMAGE)
        placed: list[np.ndarray] = []
        for _ in range(rng.integers(1, 4)):
            for _attempt in range(20):  # rejection sampling: no overlapping shapes
                kind = int(rng.integers(len(CLASSES)))
                size = rng.uniform(12, 28)
                cx, cy = rng.uniform(size / 2 + 1, IMAGE - size / 2 - 1, size=2)
                mask = shape_mask(kind, cx, cy, size)
                ys, xs = np.nonzero(mask)
                box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
                if not placed or box_iou(box[None], np.array(placed)).max() == 0:
                    break
            else:
                continue
            placed.append(box)
            canvas[mask] += rng.uniform(0.8, 1.5)
            x1, y1, x2, y2 = box.tolist()
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": kind + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": float(mask.sum()),
                    "iscrowd": 0,
                }
            )
        images[index, 0] = canvas
    coco = {
        "images": [
            {"id": i + 1, "width": IMAGE, "height": IMAGE, "file_name": f"synthetic_{i + 1}.png"}
            for i in range(n_images)
        ],
        "annotations": annotations,
        "categories": [{"id": k + 1, "name": name} for k, name in enumerate(CLASSES)],
    }
    return images, coco


@dataclass
class Targets:
    """Per-cell training targets of a set of images."""

    classes: np.ndarray  # (N, 3, GRID, GRID) float32, 1 where a class has its centre
    positive: np.ndarray  # (N, GRID, GRID) bool, the cells responsible for a box
    boxes: np.ndarray  # (N, GRID, GRID, 4) float32, cxcywh of that box


def encode_targets(coco: dict[str, Any], n_images: int) -> Targets:
    """Assign each ground-truth box to the grid cell containing its centre."""
    classes = np.zeros((n_images, len(CLASSES), GRID, GRID), np.float32)
    positive = np.zeros((n_images, GRID, GRID), bool)
    boxes = np.zeros((n_images, GRID, GRID, 4), np.float32)
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        cx, cy = x + w / 2, y + h / 2
        n, i, j = ann["image_id"] - 1, int(cy // STRIDE), int(cx // STRIDE)
        classes[n, ann["category_id"] - 1, i, j] = 1.0
        positive[n, i, j] = True
        boxes[n, i, j] = (cx, cy, w, h)
    return Targets(classes, positive, boxes)


# -------------------------------------------------------------------------- model
def conv_block(cin: int, cout: int, rng: np.random.Generator) -> list[nn.Module]:
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False, dtype=np.float32, rng=rng)
    nn.kaiming_normal_(conv.params["weight"], nonlinearity="relu", rng=rng)
    return [conv, nn.BatchNorm2d(cout, dtype=np.float32), nn.ReLU()]


class TinyDetector(nn.Module):
    """(N, 1, 64, 64) images -> (N, 3 + 4, 8, 8): class logits and box numbers per cell."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.net = nn.Sequential(
            *conv_block(1, 16, rng),
            nn.MaxPool2d(2),  # 32x32
            *conv_block(16, 32, rng),
            nn.MaxPool2d(2),  # 16x16
            *conv_block(32, 64, rng),
            nn.MaxPool2d(2),  # 8x8
            *conv_block(64, 64, rng),
            nn.Residual(nn.Sequential(*conv_block(64, 64, rng))),
            nn.Conv2d(64, len(CLASSES) + 4, 1, dtype=np.float32, rng=rng),
        )
        # Start with every class probability near 1% (focal-loss prior), so the
        # many empty cells do not dominate the first updates.
        self.net[-1].params["bias"][: len(CLASSES)] = np.log(0.01 / 0.99)

    def children(self) -> list[nn.Module]:
        return [self.net]

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.net.forward(x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return self.net.backward(grad)


def decode_boxes(raw: np.ndarray) -> np.ndarray:
    """Box numbers (N, 4, GRID, GRID) -> cxcywh boxes in pixels, (N, GRID, GRID, 4)."""
    t = raw.transpose(0, 2, 3, 1)  # (N, GRID, GRID, 4)
    cell = (np.arange(GRID) + 0.5).astype(raw.dtype)
    cx = (cell[None, None, :] + t[..., 0]) * STRIDE
    cy = (cell[None, :, None] + t[..., 1]) * STRIDE
    wh = STRIDE * np.exp(np.clip(t[..., 2:], -4, 4))
    return np.concatenate([cx[..., None], cy[..., None], wh], axis=-1)


class DetectionLoss:
    """Classification (sigmoid per class) plus GIoU box loss, both per positive cell."""

    def __init__(self, box_weight: float = 2.0) -> None:
        self.bce = nn.BCEWithLogitsLoss(reduction="sum")
        self.giou = nn.GIoULoss(fmt="cxcywh", reduction="sum")
        self.box_weight = box_weight

    def __call__(self, out: np.ndarray, targets: Targets) -> tuple[float, np.ndarray]:
        """Loss value and its gradient with respect to ``out`` (N, 7, GRID, GRID)."""
        k = len(CLASSES)
        n_pos = max(1, int(targets.positive.sum()))
        grad = np.zeros_like(out)
        cls_loss = self.bce.forward(out[:, :k], targets.classes) / n_pos
        grad[:, :k] = self.bce.backward() / n_pos
        boxes = decode_boxes(out[:, k:])  # (N, GRID, GRID, 4)
        pred = boxes[targets.positive]  # (P, 4)
        box_loss = self.giou.forward(pred, targets.boxes[targets.positive]) / n_pos
        dpred = self.giou.backward() * (self.box_weight / n_pos)  # d loss / d (cx, cy, w, h)
        # Chain rule through the decoding: dcx/dtx = STRIDE, dw/dtw = w.
        draw = np.zeros(boxes.shape, out.dtype)
        draw[targets.positive] = np.concatenate(
            [dpred[:, :2] * STRIDE, dpred[:, 2:] * pred[:, 2:]], axis=1
        )
        grad[:, k:] = draw.transpose(0, 3, 1, 2)
        return cls_loss + self.box_weight * box_loss, grad


def select(targets: Targets, index: np.ndarray) -> Targets:
    return Targets(targets.classes[index], targets.positive[index], targets.boxes[index])


# ---------------------------------------------------------------------- inference
def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        iou = box_iou(boxes_xyxy[best][None], boxes_xyxy[order[1:]])[0]
        order = order[1:][iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def predict(
    model: TinyDetector, images: np.ndarray, score_threshold: float = 0.05
) -> list[dict[str, Any]]:
    """COCO result dicts (image_id, category_id, xywh bbox, score) for ``images``."""
    model.eval()
    results: list[dict[str, Any]] = []
    k = len(CLASSES)
    for start in range(0, len(images), 64):
        out = model.forward(images[start : start + 64])
        scores = nn.sigmoid(out[:, :k])  # (n, 3, GRID, GRID)
        xyxy = np.clip(box_convert(decode_boxes(out[:, k:]), "cxcywh", "xyxy"), 0, IMAGE)
        for n in range(out.shape[0]):
            for c in range(k):
                # Multi-label logistic decision: every cell whose class-c sigmoid passes.
                cells = scores[n, c] > score_threshold
                cand_boxes, cand_scores = xyxy[n][cells], scores[n, c][cells]
                for i in nms(cand_boxes, cand_scores, 0.5):
                    x1, y1, x2, y2 = (float(v) for v in cand_boxes[i])
                    results.append(
                        {
                            "image_id": start + n + 1,
                            "category_id": c + 1,
                            "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(cand_scores[i]),
                        }
                    )
    model.train()
    return results


def random_baseline(coco: dict[str, Any], per_image: int, seed: int) -> list[dict[str, Any]]:
    """Random boxes, classes and scores: what a model that learnt nothing scores."""
    rng = np.random.default_rng(seed)
    results = []
    for image in coco["images"]:
        for _ in range(per_image):
            w, h = rng.uniform(8, 32, size=2)
            x, y = rng.uniform(0, IMAGE - w), rng.uniform(0, IMAGE - h)
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": int(rng.integers(1, len(CLASSES) + 1)),
                    "bbox": [x, y, w, h],
                    "score": float(rng.random()),
                }
            )
    return results


# ----------------------------------------------------------------------- training
class ProgressBar:
    """A one-line text progress bar on stderr."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total, self.width, self.start = total, width, time.perf_counter()

    def update(self, done: int, message: str) -> None:
        filled = int(self.width * done / self.total)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{self.total} {message} eta {eta:4.0f}s ")
        sys.stderr.flush()
        if done == self.total:
            sys.stderr.write("\n")


def train(
    model: TinyDetector, images: np.ndarray, targets: Targets, epochs: int, seed: int
) -> list[float]:
    """Mini-batch AdamW with warm-up + cosine decay and gradient clipping."""
    loader = nn.BatchLoader(np.arange(len(images)), batch_size=32, rng=seed)
    steps = epochs * len(loader)
    optimizer = nn.AdamW(model, lr=3e-3, weight_decay=1e-4)
    schedule = nn.cosine_with_warmup(optimizer, warmup_steps=max(1, steps // 20), total_steps=steps)
    criterion = DetectionLoss()
    bar = ProgressBar(steps)
    history: list[float] = []
    for epoch in range(epochs):
        running = []
        for (index,) in loader:
            optimizer.zero_grad()
            out = model.forward(images[index])
            loss, grad = criterion(out, select(targets, index))
            model.backward(grad)
            nn.clip_grad_norm_(model, 10.0)
            optimizer.step()
            schedule.step()
            running.append(loss)
            bar.update(
                len(history) * len(loader) + len(running), f"epoch {epoch + 1} loss {loss:.3f}"
            )
        history.append(float(np.mean(running)))
    return history


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=1200)
    parser.add_argument("--val-images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nn_detector")
    parser.add_argument("--quick", action="store_true", help="tiny run, to check it works")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_images, args.val_images, args.epochs = 64, 16, 1

    train_images, train_coco = make_dataset(args.train_images, seed=args.seed)
    val_images, val_coco = make_dataset(args.val_images, seed=args.seed + 1)
    model = TinyDetector(seed=args.seed)
    print(
        f"TinyDetector: {nn.count_parameters(model):,} parameters; "
        f"{args.train_images} training images, {len(train_coco['annotations'])} boxes"
    )
    history = train(
        model, train_images, encode_targets(train_coco, args.train_images), args.epochs, args.seed
    )
    print("mean training loss per epoch:", " ".join(f"{v:.3f}" for v in history))

    predictions = predict(model, val_images)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "val_ground_truth.json").write_text(json.dumps(val_coco))
    (args.out / "val_predictions.json").write_text(json.dumps(predictions))
    per_image = max(1, round(len(predictions) / args.val_images))
    baseline = random_baseline(val_coco, per_image, seed=args.seed)

    scores = {}
    for name, preds in (("model", predictions), ("random baseline", baseline)):
        stats = evaluate_coco(val_coco, preds).stats if preds else np.zeros(12)
        scores[f"{name} AP"], scores[f"{name} AP50"] = float(stats[0]), float(stats[1])
        print(f"{name:16} {len(preds):6d} detections  AP {stats[0]:.3f}  AP50 {stats[1]:.3f}")
    print(f"ground truth and predictions written to {args.out}")
    return scores


if __name__ == "__main__":
    main()
