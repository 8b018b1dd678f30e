"""Generate a seeded synthetic COCO detection set the size of COCO val2017.

The ground truth mimics val2017's statistics (5,000 images, about 36.8k boxes, 80
categories with one dominant class, about 41% / 34% / 25% small / medium / large
objects by the ``area`` field, about 1% crowd regions). The predictions mimic a
detector's result file: a fixed number of detections per image made of jittered
true positives, duplicates, wrong-class copies, detections of individuals inside
crowd regions and background boxes, with scores that fall as box quality falls.

Run from the repository root::

    .venv/bin/python benchmarks/make_synthetic_coco.py --out benchmarks/out/synthetic

It writes ``gt.json`` (a COCO instances file without segmentations) and
``preds.json`` (a COCO results list) into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import orjson

# Bump when a change to this file changes its output, so cached sets are not reused.
GENERATOR_VERSION = 2

# The 80 COCO detection categories with their (non-contiguous) official ids.
COCO_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"),
    (2, "bicycle", "vehicle"),
    (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"),
    (6, "bus", "vehicle"),
    (7, "train", "vehicle"),
    (8, "truck", "vehicle"),
    (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"),
    (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"),
    (15, "bench", "outdoor"),
    (16, "bird", "animal"),
    (17, "cat", "animal"),
    (18, "dog", "animal"),
    (19, "horse", "animal"),
    (20, "sheep", "animal"),
    (21, "cow", "animal"),
    (22, "elephant", "animal"),
    (23, "bear", "animal"),
    (24, "zebra", "animal"),
    (25, "giraffe", "animal"),
    (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"),
    (31, "handbag", "accessory"),
    (32, "tie", "accessory"),
    (33, "suitcase", "accessory"),
    (34, "frisbee", "sports"),
    (35, "skis", "sports"),
    (36, "snowboard", "sports"),
    (37, "sports ball", "sports"),
    (38, "kite", "sports"),
    (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"),
    (41, "skateboard", "sports"),
    (42, "surfboard", "sports"),
    (43, "tennis racket", "sports"),
    (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"),
    (47, "cup", "kitchen"),
    (48, "fork", "kitchen"),
    (49, "knife", "kitchen"),
    (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"),
    (52, "banana", "food"),
    (53, "apple", "food"),
    (54, "sandwich", "food"),
    (55, "orange", "food"),
    (56, "broccoli", "food"),
    (57, "carrot", "food"),
    (58, "hot dog", "food"),
    (59, "pizza", "food"),
    (60, "donut", "food"),
    (61, "cake", "food"),
    (62, "chair", "furniture"),
    (63, "couch", "furniture"),
    (64, "potted plant", "furniture"),
    (65, "bed", "furniture"),
    (67, "dining table", "furniture"),
    (70, "toilet", "furniture"),
    (72, "tv", "electronic"),
    (73, "laptop", "electronic"),
    (74, "mouse", "electronic"),
    (75, "remote", "electronic"),
    (76, "keyboard", "electronic"),
    (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"),
    (79, "oven", "appliance"),
    (80, "toaster", "appliance"),
    (81, "sink", "appliance"),
    (82, "refrigerator", "appliance"),
    (84, "book", "indoor"),
    (85, "clock", "indoor"),
    (86, "vase", "indoor"),
    (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"),
    (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor"),
)

# Common val2017 image sizes (width, height) and how often each is drawn.
IMAGE_SIZES = np.array(
    [
        [640, 480],
        [480, 640],
        [640, 427],
        [427, 640],
        [640, 425],
        [640, 512],
        [500, 375],
        [640, 640],
    ],
    dtype=np.float64,
)
IMAGE_SIZE_WEIGHTS = np.array([0.42, 0.12, 0.20, 0.06, 0.08, 0.04, 0.04, 0.04])

# sqrt(area) of an object is log-normal; these two parameters put 41% of the `area`
# values below 32**2 and 76% below 96**2, COCO's small / medium / large split.
LOG_SQRT_AREA_MEAN = 3.73
LOG_SQRT_AREA_STD = 1.18
SMALL_AREA = 32.0**2
LARGE_AREA = 96.0**2

# Detection parameters: relative jitter levels (fraction of box size) and how scores
# depend on them. Scores are sigmoid(logit) with logit = base - slope * jitter + noise.
TP_JITTER = np.array([0.02, 0.05, 0.10, 0.18, 0.30])
TP_JITTER_P = np.array([0.20, 0.30, 0.25, 0.15, 0.10])
DUP_JITTER = np.array([0.10, 0.20, 0.30, 0.45])
WRONG_CLASS_JITTER = np.array([0.05, 0.15])
DETECTION_PROBABILITY = {"small": 0.55, "medium": 0.80, "large": 0.92}


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and seed of a synthetic set.

    Parameters
    ----------
    images : int
        Number of images.
    classes : int
        Number of categories; the first 80 take COCO's ids and names.
    dets_per_image : int
        Detections written for every image (the top-scoring ones are kept).
    gt_per_image : float
        Mean number of ground-truth boxes per image.
    crowd_fraction : float
        Fraction of ground-truth boxes that are crowd regions (``iscrowd=1``).
    seed : int
        Seed of the NumPy generator; the same config gives the same files.
    """

    generator: ClassVar[str] = "make_synthetic_coco"  # the module that writes the set

    images: int = 5000
    classes: int = 80
    dets_per_image: int = 100
    gt_per_image: float = 7.3
    crowd_fraction: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images < 1 or self.classes < 1 or self.dets_per_image < 1:
            raise ValueError(
                "images, classes and dets_per_image must be >= 1, got "
                f"{self.images}, {self.classes}, {self.dets_per_image}"
            )
        if self.gt_per_image < 1.0:
            raise ValueError(f"gt_per_image must be >= 1, got {self.gt_per_image}")
        if not 0.0 <= self.crowd_fraction < 1.0:
            raise ValueError(f"crowd_fraction must be in [0, 1), got {self.crowd_fraction}")

    def cache_name(self) -> str:
        """Directory name of the cached set: the generator's version and the options."""
        name = f"synthetic-v{GENERATOR_VERSION}-i{self.images}-c{self.classes}"
        return name + f"-d{self.dets_per_image}-s{self.seed}"

    def argv(self) -> list[str]:
        """The command-line options of :func:`main` that give this config."""
        return [
            *("--images", str(self.images), "--classes", str(self.classes)),
            *("--dets-per-image", str(self.dets_per_image)),
            *("--gt-per-image", str(self.gt_per_image)),
            *("--crowd-fraction", str(self.crowd_fraction), "--seed", str(self.seed)),
        ]


@dataclass(frozen=True)
class Boxes:
    """A set of boxes in columns, each array of shape (n,).

    Attributes
    ----------
    image : ndarray of shape (n,), dtype int64
        Index (not id) of the image each box lies in.
    category : ndarray of shape (n,), dtype int64
        Index (not id) of the category.
    xywh : ndarray of shape (n, 4), dtype float64
        ``[x, y, width, height]`` in pixels, top-left origin.
    value : ndarray of shape (n,), dtype float64
        The ``area`` field for ground truth, the score for detections.
    crowd : ndarray of shape (n,), dtype bool
        ``iscrowd`` for ground truth; all False for detections.
    """

    image: np.ndarray
    category: np.ndarray
    xywh: np.ndarray
    value: np.ndarray
    crowd: np.ndarray


def category_table(n_classes: int) -> list[dict[str, object]]:
    """COCO ``categories`` entries: COCO's own first, then ``class_<k>`` with ids from 91."""
    table: list[dict[str, object]] = [
        {"id": cid, "name": name, "supercategory": sup}
        for cid, name, sup in COCO_CATEGORIES[:n_classes]
    ]
    for k in range(len(table), n_classes):
        table.append(
            {"id": 91 + k - len(COCO_CATEGORIES), "name": f"class_{k}", "supercategory": "x"}
        )
    return table


def class_frequencies(n_classes: int) -> np.ndarray:
    """Relative frequency of each category, COCO-like: one class holds 30% of the boxes.

    Returns
    -------
    freq : ndarray of shape (n_classes,), dtype float64
        Sums to 1. ``freq[0]`` (person) is 0.3; the rest fall as ``1 / rank``.
    """
    if n_classes == 1:
        return np.ones(1)
    tail = 1.0 / np.arange(1, n_classes, dtype=np.float64)
    return np.concatenate([[0.3], 0.7 * tail / tail.sum()])


def sigmoid_score(logit: np.ndarray) -> np.ndarray:
    """Score in [0.001, 1] rounded to 3 decimals, as result files usually hold."""
    return np.clip(np.round(1.0 / (1.0 + np.exp(-logit)), 3), 0.001, 1.0)


def clip_boxes(xywh: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Clip boxes to their image, keep them at least 1 pixel wide, round to 2 decimals.

    Parameters
    ----------
    xywh : ndarray of shape (n, 4), dtype float64
    width, height : ndarray of shape (n,), dtype float64
        Size of the image each box lies in.

    Returns
    -------
    ndarray of shape (n, 4), dtype float64
    """
    x1 = np.clip(xywh[:, 0], 0.0, width - 1.0)
    y1 = np.clip(xywh[:, 1], 0.0, height - 1.0)
    x2 = np.clip(xywh[:, 0] + xywh[:, 2], x1 + 1.0, width)
    y2 = np.clip(xywh[:, 1] + xywh[:, 3], y1 + 1.0, height)
    return np.round(np.stack([x1, y1, x2 - x1, y2 - y1], axis=1), 2)


def random_boxes(
    rng: np.random.Generator, width: np.ndarray, height: np.ndarray, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes with COCO's size distribution placed uniformly in their images.

    Parameters
    ----------
    rng : numpy.random.Generator
    width, height : ndarray of shape (n,), dtype float64
        Size of the image of each box.
    scale : float
        Multiplies the object's linear size (crowd regions are larger).

    Returns
    -------
    xywh : ndarray of shape (n, 4), dtype float64
        Boxes clipped to their image, rounded to 2 decimals.
    fill : ndarray of shape (n,), dtype float64
        Fraction of the box the object covers, in [0.6, 0.9).
    """
    n = int(width.shape[0])
    fill = rng.uniform(0.6, 0.9, n)
    side = scale * np.exp(rng.normal(LOG_SQRT_AREA_MEAN, LOG_SQRT_AREA_STD, n))
    aspect = np.exp(rng.normal(0.0, 0.55, n))  # width / height
    box_area = side**2 / fill
    w = np.minimum(np.sqrt(box_area * aspect), width)
    h = np.minimum(np.sqrt(box_area / aspect), height)
    x = rng.uniform(0.0, 1.0, n) * (width - w)
    y = rng.uniform(0.0, 1.0, n) * (height - h)
    return clip_boxes(np.stack([x, y, w, h], axis=1), width, height), fill


def jitter_boxes(rng: np.random.Generator, xywh: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Move and resize boxes by a relative Gaussian jitter.

    Parameters
    ----------
    xywh : ndarray of shape (n, 4), dtype float64
    sigma : ndarray of shape (n,), dtype float64
        Standard deviation of the centre shift as a fraction of the box size, and of
        the log of the size change.

    Returns
    -------
    ndarray of shape (n, 4), dtype float64
        Not clipped.
    """
    w, h = xywh[:, 2], xywh[:, 3]
    noise = rng.normal(0.0, 1.0, (xywh.shape[0], 4)) * sigma[:, None]  # (n, 4)
    cx = xywh[:, 0] + w / 2 + noise[:, 0] * w
    cy = xywh[:, 1] + h / 2 + noise[:, 1] * h
    new_w = w * np.exp(noise[:, 2])
    new_h = h * np.exp(noise[:, 3])
    return np.stack([cx - new_w / 2, cy - new_h / 2, new_w, new_h], axis=1)


def make_images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random unique image ids and sizes.

    Returns
    -------
    ids : ndarray of shape (n,), dtype int64
        Unique, positive, in random order (as val2017's are).
    sizes : ndarray of shape (n, 2), dtype float64
        ``[width, height]`` of each image.
    """
    ids = rng.choice(max(600_000, 4 * n), size=n, replace=False).astype(np.int64) + 1
    sizes = IMAGE_SIZES[rng.choice(len(IMAGE_SIZES), size=n, p=IMAGE_SIZE_WEIGHTS)]
    return ids, sizes


def make_ground_truth(rng: np.random.Generator, cfg: SyntheticConfig, sizes: np.ndarray) -> Boxes:
    """Ground-truth boxes: a heavy-tailed count per image, few classes per image.

    Each image draws a small pool of classes from the global frequencies and its
    boxes pick from that pool, so boxes of one class cluster in images as in COCO.

    Parameters
    ----------
    sizes : ndarray of shape (n_images, 2), dtype float64
        ``[width, height]`` of each image.
    """
    n_images = int(sizes.shape[0])
    dispersion = 1.5  # negative binomial shape: variance = mean + mean**2 / dispersion
    extra = cfg.gt_per_image - 1.0
    counts = 1 + rng.negative_binomial(dispersion, dispersion / (dispersion + extra), n_images)
    counts[rng.random(n_images) < 0.01] = 0  # about 1% of val2017's images have no boxes
    image = np.repeat(np.arange(n_images), counts)
    n = image.shape[0]

    pool_size = np.minimum(1 + rng.poisson(3.5, n_images), np.maximum(counts, 1))
    pool_start = np.concatenate([[0], np.cumsum(pool_size)[:-1]])
    pool = rng.choice(cfg.classes, size=int(pool_size.sum()), p=class_frequencies(cfg.classes))
    pick = pool_start[image] + (rng.random(n) * pool_size[image]).astype(np.int64)
    category = pool[pick]

    crowd = rng.random(n) < cfg.crowd_fraction
    width, height = sizes[image, 0], sizes[image, 1]
    xywh, fill = random_boxes(rng, width, height)
    # Crowd regions cover several objects: a larger box, sparsely filled.
    crowd_xywh, _ = random_boxes(rng, width[crowd], height[crowd], scale=2.5)
    xywh[crowd] = crowd_xywh
    fill[crowd] = rng.uniform(0.3, 0.6, int(crowd.sum()))
    area = np.round(fill * xywh[:, 2] * xywh[:, 3], 2)
    return Boxes(image=image, category=category, xywh=xywh, value=area, crowd=crowd)


def detections_of_objects(
    rng: np.random.Generator, cfg: SyntheticConfig, gt: Boxes
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Detections derived from ground truth, as (object, category, xywh, logit) parts.

    ``object`` is the index of the ground truth each detection comes from (true
    positives, duplicates, wrong-class copies, individuals inside a crowd region).
    """
    parts = []
    solo = np.flatnonzero(~gt.crowd)
    area = gt.value[solo]
    p_det = np.where(
        area < SMALL_AREA,
        DETECTION_PROBABILITY["small"],
        np.where(
            area < LARGE_AREA, DETECTION_PROBABILITY["medium"], DETECTION_PROBABILITY["large"]
        ),
    )
    # True positives: one per detected object, at one of several jitter levels.
    hit = solo[rng.random(solo.shape[0]) < p_det]
    sigma = rng.choice(TP_JITTER, size=hit.shape[0], p=TP_JITTER_P)
    small = gt.value[hit] < SMALL_AREA
    logit = 3.0 - 10.0 * sigma - 1.0 * small + rng.normal(0.0, 1.0, hit.shape[0])
    parts.append((hit, gt.category[hit], jitter_boxes(rng, gt.xywh[hit], sigma), logit))

    # Duplicates: looser boxes on the same object, mostly at lower scores.
    dup = np.repeat(solo, rng.poisson(1.2, solo.shape[0]))
    sigma = rng.choice(DUP_JITTER, size=dup.shape[0])
    logit = 0.0 - 6.0 * sigma + rng.normal(0.0, 1.2, dup.shape[0])
    parts.append((dup, gt.category[dup], jitter_boxes(rng, gt.xywh[dup], sigma), logit))

    # Wrong-class copies: a good box with another label.
    wrong = solo[rng.random(solo.shape[0]) < 0.3]
    shift = rng.integers(1, max(cfg.classes, 2), wrong.shape[0])
    category = (gt.category[wrong] + shift) % cfg.classes
    sigma = rng.choice(WRONG_CLASS_JITTER, size=wrong.shape[0])
    logit = -1.0 + rng.normal(0.0, 1.2, wrong.shape[0])
    parts.append((wrong, category, jitter_boxes(rng, gt.xywh[wrong], sigma), logit))

    # Individuals detected inside crowd regions (each may match the crowd).
    inside = np.repeat(np.flatnonzero(gt.crowd), rng.poisson(4.0, int(gt.crowd.sum())))
    region = gt.xywh[inside]
    rel_w = rng.uniform(0.1, 0.4, inside.shape[0])
    rel_h = rng.uniform(0.2, 0.6, inside.shape[0])
    x = region[:, 0] + rng.random(inside.shape[0]) * (1.0 - rel_w) * region[:, 2]
    y = region[:, 1] + rng.random(inside.shape[0]) * (1.0 - rel_h) * region[:, 3]
    boxes = np.stack([x, y, rel_w * region[:, 2], rel_h * region[:, 3]], axis=1)
    logit = 0.5 + rng.normal(0.0, 1.0, inside.shape[0])
    parts.append((inside, gt.category[inside], boxes, logit))
    return parts


def top_per_image(
    rng: np.random.Generator, image: np.ndarray, score: np.ndarray, k: int, n_images: int
) -> np.ndarray:
    """Indices of the ``k`` best-scored items of each image, by image, best first.

    Parameters
    ----------
    image : ndarray of shape (n,), dtype int64
        Index of the image of each item, in ``[0, n_images)``.
    score : ndarray of shape (n,), dtype float64

    Returns
    -------
    keep : ndarray of shape (m,), dtype int64
        Grouped by image in index order; within an image by descending score, tied
        scores in random order.
    """
    # Random order first so that the stable sort leaves ties in random order.
    shuffle = rng.permutation(image.shape[0])
    order = shuffle[np.lexsort((-score[shuffle], image[shuffle]))]
    counts = np.bincount(image, minlength=n_images)
    rank = np.arange(order.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[rank < k]  # order is grouped by image, so rank is per image


def make_predictions(
    rng: np.random.Generator, cfg: SyntheticConfig, gt: Boxes, sizes: np.ndarray
) -> tuple[Boxes, np.ndarray]:
    """Exactly ``cfg.dets_per_image`` detections per image, sorted by score per image.

    Object-derived detections are topped up with background boxes, then each image
    keeps its top-scoring ``dets_per_image``. Within an image, detections come in
    descending score order with tied scores in random order.

    Returns
    -------
    dets : Boxes
    source : ndarray of shape (m,), dtype int64
        The ground truth each detection comes from (an index into ``gt``), -1 for
        background detections.
    """
    n_images = sizes.shape[0]
    parts = detections_of_objects(rng, cfg, gt)
    parts = [(gt.image[i], i, c, b, lg) for i, c, b, lg in parts]
    per_image = np.bincount(np.concatenate([p[0] for p in parts]), minlength=n_images)

    # Background: fill every image up to the budget, classes half by frequency.
    bg_image = np.repeat(np.arange(n_images), np.maximum(cfg.dets_per_image - per_image, 0))
    n_bg = bg_image.shape[0]
    bg_xywh, _ = random_boxes(rng, sizes[bg_image, 0], sizes[bg_image, 1])
    bg_category = np.where(
        rng.random(n_bg) < 0.5,
        rng.choice(cfg.classes, size=n_bg, p=class_frequencies(cfg.classes)),
        rng.integers(0, cfg.classes, n_bg),
    )
    bg_logit = -3.5 + rng.normal(0.0, 1.3, n_bg)
    parts.append((bg_image, np.full(n_bg, -1), bg_category, bg_xywh, bg_logit))

    image, source, category, xywh, logit = (np.concatenate(c) for c in zip(*parts))
    xywh = clip_boxes(xywh, sizes[image, 0], sizes[image, 1])
    score = sigmoid_score(logit)

    keep = top_per_image(rng, image, score, cfg.dets_per_image, n_images)
    dets = Boxes(
        image=image[keep],
        category=category[keep],
        xywh=xywh[keep],
        value=score[keep],
        crowd=np.zeros(keep.shape[0], dtype=bool),
    )
    return dets, source[keep]


def coco_ground_truth(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    image_ids: np.ndarray,
    sizes: np.ndarray,
    gt: Boxes,
) -> dict[str, object]:
    """The COCO instances dict; annotations in random order with increasing unique ids."""
    categories = category_table(cfg.classes)
    cat_ids = np.array([c["id"] for c in categories], dtype=np.int64)
    order = rng.permutation(gt.image.shape[0])
    ann_ids = 100_000 + np.cumsum(rng.integers(1, 4, order.shape[0]))
    images = [
        {"id": i, "width": w, "height": h, "file_name": f"{i:012d}.jpg"}
        for i, (w, h) in zip(image_ids.tolist(), sizes.astype(np.int64).tolist(), strict=True)
    ]
    annotations = [
        {"id": a, "image_id": i, "category_id": c, "bbox": b, "area": s, "iscrowd": z}
        for a, i, c, b, s, z in zip(
            ann_ids.tolist(),
            image_ids[gt.image[order]].tolist(),
            cat_ids[gt.category[order]].tolist(),
            gt.xywh[order].tolist(),
            gt.value[order].tolist(),
            gt.crowd[order].astype(np.int64).tolist(),
            strict=True,
        )
    ]
    info = {"description": f"synthetic COCO-like set, {cfg}", "version": "1.0"}
    return {
        "info": info,
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def coco_results(
    cfg: SyntheticConfig, image_ids: np.ndarray, dets: Boxes
) -> list[dict[str, object]]:
    """The COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``)."""
    cat_ids = np.array([c["id"] for c in category_table(cfg.classes)], dtype=np.int64)
    return [
        {"image_id": i, "category_id": c, "bbox": b, "score": s}
        for i, c, b, s in zip(
            image_ids[dets.image].tolist(),
            cat_ids[dets.category].tolist(),
            dets.xywh.tolist(),
            dets.value.tolist(),
            strict=True,
        )
    ]


def generate(cfg: SyntheticConfig) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Build the ground-truth dict and the results list for ``cfg`` (deterministic)."""
    rng = np.random.default_rng(cfg.seed)
    image_ids, sizes = make_images(rng, cfg.images)
    gt = make_ground_truth(rng, cfg, sizes)
    dets, _ = make_predictions(rng, cfg, gt, sizes)
    return coco_ground_truth(rng, cfg, image_ids, sizes, gt), coco_results(cfg, image_ids, dets)


def write_dataset(cfg: SyntheticConfig, out_dir: Path) -> tuple[Path, Path]:
    """Generate the set and write ``gt.json`` and ``preds.json`` (compact) in ``out_dir``.

    Returns
    -------
    gt_path, preds_path : pathlib.Path
    """
    return write_json_pair(out_dir, *generate(cfg))


def write_json_pair(out_dir: Path, gt: object, preds: object) -> tuple[Path, Path]:
    """Write ``gt.json`` and ``preds.json`` (compact) in ``out_dir``, each whole or not at all.

    Returns
    -------
    gt_path, preds_path : pathlib.Path
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    gt_path, preds_path = out_dir / "gt.json", out_dir / "preds.json"
    # Write under a temporary name first so an interrupted run leaves no half file.
    for path, obj in ((gt_path, gt), (preds_path, preds)):
        tmp = path.with_suffix(".json.part")
        tmp.write_bytes(orjson.dumps(obj))
        tmp.replace(path)
    return gt_path, preds_path


def describe(gt_path: Path, preds_path: Path) -> str:
    """A one-paragraph summary of a written set: counts, crowd share, size split."""
    gt = orjson.loads(gt_path.read_bytes())
    preds = orjson.loads(preds_path.read_bytes())
    anns = gt["annotations"]
    area = np.array([a["area"] for a in anns], dtype=np.float64)
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    cats = np.array([a["category_id"] for a in anns], dtype=np.int64)
    top = np.bincount(cats).max() / max(len(anns), 1)
    solo = area[~crowd]
    split = [np.mean(solo < SMALL_AREA), np.mean((solo >= SMALL_AREA) & (solo < LARGE_AREA))]
    split.append(1.0 - split[0] - split[1])
    scores = np.array([p["score"] for p in preds], dtype=np.float64)
    return (
        f"{len(gt['images'])} images, {len(gt['categories'])} categories, "
        f"{len(anns)} GT boxes ({len(anns) / len(gt['images']):.2f}/image, "
        f"{crowd.sum()} crowd, top class {100 * top:.1f}%, small/medium/large "
        f"{100 * split[0]:.0f}/{100 * split[1]:.0f}/{100 * split[2]:.0f}%), "
        f"{len(preds)} detections ({np.unique(scores).shape[0]} distinct scores); "
        f"{gt_path.stat().st_size / 1e6:.1f} MB + {preds_path.stat().st_size / 1e6:.1f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--dets-per-image", type=int, default=100)
    parser.add_argument("--gt-per-image", type=float, default=7.3)
    parser.add_argument("--crowd-fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    cfg = SyntheticConfig(
        images=args.images,
        classes=args.classes,
        dets_per_image=args.dets_per_image,
        gt_per_image=args.gt_per_image,
        crowd_fraction=args.crowd_fraction,
        seed=args.seed,
    )
    start = time.perf_counter()
    gt_path, preds_path = write_dataset(cfg, args.out)
    elapsed = time.perf_counter() - start
    print(f"wrote {gt_path} and {preds_path} in {elapsed:.1f} s")
    print(describe(gt_path, preds_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
