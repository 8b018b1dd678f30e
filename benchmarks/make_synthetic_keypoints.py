"""Generate a seeded synthetic COCO person-keypoints set the size of COCO val2017.

The ground truth mimics ``person_keypoints_val2017.json``: 5,000 images, about half of
them with people, about 11k person annotations (2.2 per image, heavy-tailed), about 1%
crowd regions, about 40% of the people with no labelled keypoint (mostly small ones,
as in COCO), the others with COCO's 17 keypoints at integer coordinates and visibility
0 (not labelled: ``0, 0, 0``), 1 (labelled, hidden) or 2 (visible). ``area`` is a
segment's area, smaller than the box. The results mimic a pose estimator's file as
detectron2 or mmpose write it: a fixed number per image, float coordinates with a
score as the third value of each keypoint, a ``score``, no ``bbox``. They are jittered
poses of the people (missed more often when small), looser duplicates, and random
poses elsewhere, with scores that fall as the pose gets worse.

Run from the repository root::

    .venv/bin/python benchmarks/make_synthetic_keypoints.py --out benchmarks/out/kp

It writes ``gt.json`` and ``preds.json`` into ``--out``.
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
from make_synthetic_coco import (
    LARGE_AREA,
    LOG_SQRT_AREA_MEAN,
    LOG_SQRT_AREA_STD,
    SMALL_AREA,
    clip_boxes,
    make_images,
    sigmoid_score,
    top_per_image,
    write_json_pair,
)

# Bump when a change to this file changes its output, so cached sets are not reused.
GENERATOR_VERSION = 1

# COCO's person category, with its keypoint names and skeleton (1-based pairs).
PERSON = {
    "id": 1,
    "name": "person",
    "supercategory": "person",
    "keypoints": [
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ],
    "skeleton": [
        [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
        [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
        [4, 6], [5, 7],
    ],
}  # fmt: skip
N_KEYPOINTS = 17

# Where each keypoint sits in a standing person's box, as fractions of its width and
# height (the person faces the camera: their left is the image's right).
POSE_TEMPLATE = np.array(
    [
        [0.50, 0.08], [0.54, 0.06], [0.46, 0.06], [0.58, 0.07], [0.42, 0.07],
        [0.70, 0.20], [0.30, 0.20], [0.78, 0.35], [0.22, 0.35], [0.82, 0.48],
        [0.18, 0.48], [0.62, 0.52], [0.38, 0.52], [0.62, 0.72], [0.38, 0.72],
        [0.62, 0.93], [0.38, 0.93],
    ]
)  # fmt: skip
POSE_NOISE = 0.06  # standard deviation of each keypoint around the template, box fraction

IMAGES_WITH_PEOPLE = 0.54  # val2017: about 2,700 of its 5,000 images

# A person without any labelled keypoint, by size (COCO's annotators skipped most
# small people); crowd regions never have keypoints.
NO_KEYPOINTS_PROBABILITY = {"small": 0.85, "medium": 0.20, "large": 0.05}
DETECTION_PROBABILITY = {"small": 0.50, "medium": 0.85, "large": 0.95}
# Keypoint jitter of the results as a fraction of sqrt(box area), and how often each.
TP_JITTER = np.array([0.01, 0.02, 0.035, 0.06, 0.12])
TP_JITTER_P = np.array([0.20, 0.30, 0.25, 0.15, 0.10])
DUP_JITTER = np.array([0.10, 0.20, 0.30])


@dataclass(frozen=True)
class KeypointConfig:
    """Size and seed of a synthetic keypoint set.

    Parameters
    ----------
    images : int
        Number of images.
    dets_per_image : int
        Results written for every image (the top-scoring ones are kept).
    people_per_image : float
        Mean number of person annotations per image, empty images included.
    crowd_fraction : float
        Fraction of person annotations that are crowd regions (``iscrowd=1``).
    seed : int
        Seed of the NumPy generator; the same config gives the same files.
    """

    generator: ClassVar[str] = "make_synthetic_keypoints"  # the module that writes the set

    images: int = 5000
    dets_per_image: int = 20
    people_per_image: float = 2.2
    crowd_fraction: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images < 1 or self.dets_per_image < 1:
            raise ValueError(
                f"images and dets_per_image must be >= 1, got {self.images}, {self.dets_per_image}"
            )
        if self.people_per_image <= 0.0:
            raise ValueError(f"people_per_image must be > 0, got {self.people_per_image}")
        if not 0.0 <= self.crowd_fraction < 1.0:
            raise ValueError(f"crowd_fraction must be in [0, 1), got {self.crowd_fraction}")

    def cache_name(self) -> str:
        """Directory name of the cached set: the generator's version and the options."""
        return f"keypoints-v{GENERATOR_VERSION}-i{self.images}-d{self.dets_per_image}-s{self.seed}"

    def argv(self) -> list[str]:
        """The command-line options of :func:`main` that give this config."""
        return [
            *("--images", str(self.images), "--dets-per-image", str(self.dets_per_image)),
            *("--people-per-image", str(self.people_per_image)),
            *("--crowd-fraction", str(self.crowd_fraction), "--seed", str(self.seed)),
        ]


@dataclass(frozen=True)
class People:
    """Person annotations in columns.

    Attributes
    ----------
    image : ndarray of shape (n,), dtype int64
        Index (not id) of the image each person is in.
    xywh : ndarray of shape (n, 4), dtype float64
        Box ``[x, y, width, height]`` in pixels, top-left origin.
    keypoints : ndarray of shape (n, 17, 3), dtype float64
        ``[x, y, v]`` of each keypoint, integer coordinates, visibility ``v`` in 0, 1, 2;
        ``0, 0, 0`` where not labelled.
    area : ndarray of shape (n,), dtype float64
        The ``area`` field: the segment's, 0.3-0.75 of the box.
    crowd : ndarray of shape (n,), dtype bool
        ``iscrowd``.
    """

    image: np.ndarray
    xywh: np.ndarray
    keypoints: np.ndarray
    area: np.ndarray
    crowd: np.ndarray


@dataclass(frozen=True)
class Poses:
    """Keypoint results in columns.

    Attributes
    ----------
    image : ndarray of shape (m,), dtype int64
        Index (not id) of the image of each result.
    keypoints : ndarray of shape (m, 17, 3), dtype float64
        ``[x, y, s]`` of each keypoint, ``s`` its score in (0, 1].
    score : ndarray of shape (m,), dtype float64
    """

    image: np.ndarray
    keypoints: np.ndarray
    score: np.ndarray


def person_boxes(
    rng: np.random.Generator, width: np.ndarray, height: np.ndarray, crowd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Upright person boxes with COCO's size distribution, placed in their images.

    Parameters
    ----------
    width, height : ndarray of shape (n,), dtype float64
        Size of the image of each box.
    crowd : ndarray of shape (n,), dtype bool
        Crowd regions: 2.5x larger, wider than tall, sparsely filled.

    Returns
    -------
    xywh : ndarray of shape (n, 4), dtype float64
        Clipped to the image, rounded to 2 decimals.
    fill : ndarray of shape (n,), dtype float64
        Fraction of the box the segment covers: 0.45-0.75, crowds 0.3-0.6.
    """
    n = int(width.shape[0])
    fill = np.where(crowd, rng.uniform(0.3, 0.6, n), rng.uniform(0.45, 0.75, n))
    scale = np.where(crowd, 2.5, 1.0)
    side = scale * np.exp(rng.normal(LOG_SQRT_AREA_MEAN, LOG_SQRT_AREA_STD, n))
    aspect = np.exp(rng.normal(np.where(crowd, 0.4, -0.8), 0.35, n))  # width / height
    box_area = side**2 / fill
    w = np.minimum(np.sqrt(box_area * aspect), width)
    h = np.minimum(np.sqrt(box_area / aspect), height)
    x = rng.uniform(0.0, 1.0, n) * (width - w)
    y = rng.uniform(0.0, 1.0, n) * (height - h)
    return clip_boxes(np.stack([x, y, w, h], axis=1), width, height), fill


def poses_in_boxes(rng: np.random.Generator, xywh: np.ndarray) -> np.ndarray:
    """The template pose in each box, each keypoint moved a little, kept inside the box.

    Parameters
    ----------
    xywh : ndarray of shape (n, 4), dtype float64

    Returns
    -------
    ndarray of shape (n, 17, 2), dtype float64
        ``[x, y]`` of each keypoint.
    """
    rel = POSE_TEMPLATE + rng.normal(0.0, POSE_NOISE, (xywh.shape[0], N_KEYPOINTS, 2))
    rel = np.clip(rel, 0.0, 1.0)  # (n, 17, 2)
    return xywh[:, None, :2] + rel * xywh[:, None, 2:]  # (n, 17, 2)


def by_size(table: dict[str, float], area: np.ndarray) -> np.ndarray:
    """``table`` entry (small, medium, large by COCO's ``area`` ranges) of each area.

    Returns
    -------
    ndarray of the shape of ``area``, dtype float64
    """
    size = (area >= SMALL_AREA).astype(np.int64) + (area >= LARGE_AREA)  # 0, 1, 2
    return np.array([table["small"], table["medium"], table["large"]])[size]


def make_ground_truth(
    rng: np.random.Generator, cfg: KeypointConfig, sizes: np.ndarray
) -> tuple[People, np.ndarray]:
    """Person annotations, and where each of their keypoints is, labelled or not.

    About 46% of the images have nobody (as in val2017); the others hold a
    heavy-tailed number of people.

    Parameters
    ----------
    sizes : ndarray of shape (n_images, 2), dtype float64
        ``[width, height]`` of each image.

    Returns
    -------
    gt : People
    pose : ndarray of shape (n, 17, 2), dtype float64
        The true position of every keypoint of each person (the results jitter these).
    """
    n_images = int(sizes.shape[0])
    dispersion = 1.0  # negative binomial shape: variance = mean + mean**2 / dispersion
    extra = cfg.people_per_image / IMAGES_WITH_PEOPLE - 1.0
    counts = 1 + rng.negative_binomial(dispersion, dispersion / (dispersion + extra), n_images)
    counts[rng.random(n_images) >= IMAGES_WITH_PEOPLE] = 0
    image = np.repeat(np.arange(n_images), counts)
    n = image.shape[0]

    crowd = rng.random(n) < cfg.crowd_fraction
    xywh, fill = person_boxes(rng, sizes[image, 0], sizes[image, 1], crowd)
    area = np.round(fill * xywh[:, 2] * xywh[:, 3], 2)
    pose = poses_in_boxes(rng, xywh)

    # Labelled keypoints: none for crowds and for many small people; for the others
    # each one with a per-person probability, and at least one.
    annotated = ~crowd & (rng.random(n) >= by_size(NO_KEYPOINTS_PROBABILITY, area))
    labelled = rng.random((n, N_KEYPOINTS)) < rng.uniform(0.35, 1.0, (n, 1))  # (n, 17)
    labelled[np.arange(n), rng.integers(0, N_KEYPOINTS, n)] = True
    labelled &= annotated[:, None]
    visibility = np.where(rng.random((n, N_KEYPOINTS)) < 0.8, 2.0, 1.0)  # (n, 17)
    keypoints = np.concatenate([np.floor(pose), visibility[:, :, None]], axis=2)  # (n, 17, 3)
    keypoints[~labelled] = 0.0
    gt = People(image=image, xywh=xywh, keypoints=keypoints, area=area, crowd=crowd)
    return gt, pose


def make_predictions(
    rng: np.random.Generator,
    cfg: KeypointConfig,
    gt: People,
    pose: np.ndarray,
    sizes: np.ndarray,
) -> Poses:
    """Exactly ``cfg.dets_per_image`` results per image, sorted by score per image.

    Jittered poses of the people (not of crowds) and looser duplicates, topped up with
    random poses in random boxes; then each image keeps its top-scoring ones.
    """
    n_images = int(sizes.shape[0])
    solo = np.flatnonzero(~gt.crowd)
    # One result per found person, at one of several jitter levels.
    hit = solo[rng.random(solo.shape[0]) < by_size(DETECTION_PROBABILITY, gt.area[solo])]
    hit_jitter = rng.choice(TP_JITTER, size=hit.shape[0], p=TP_JITTER_P)
    small = gt.area[hit] < SMALL_AREA
    hit_logit = 3.0 - 12.0 * hit_jitter - 1.0 * small + rng.normal(0.0, 1.0, hit.shape[0])
    # Duplicates: looser poses of the same person, at lower scores.
    dup = np.repeat(solo, rng.poisson(0.5, solo.shape[0]))
    dup_jitter = rng.choice(DUP_JITTER, size=dup.shape[0])
    dup_logit = -0.5 - 5.0 * dup_jitter + rng.normal(0.0, 1.2, dup.shape[0])

    person = np.concatenate([hit, dup])
    jitter = np.concatenate([hit_jitter, dup_jitter])
    side = np.sqrt(gt.xywh[person, 2] * gt.xywh[person, 3])  # (m,)
    noise = rng.normal(0.0, 1.0, (person.shape[0], N_KEYPOINTS, 2))  # (m, 17, 2)
    xy = pose[person] + noise * (jitter * side)[:, None, None]

    # Random poses: fill every image up to the budget.
    per_image = np.bincount(gt.image[person], minlength=n_images)
    bg_image = np.repeat(np.arange(n_images), np.maximum(cfg.dets_per_image - per_image, 0))
    no_crowd = np.zeros(bg_image.shape[0], dtype=bool)
    bg_xywh, _ = person_boxes(rng, sizes[bg_image, 0], sizes[bg_image, 1], no_crowd)
    bg_logit = -3.5 + rng.normal(0.0, 1.3, bg_image.shape[0])

    image = np.concatenate([gt.image[person], bg_image])
    xy = np.concatenate([xy, poses_in_boxes(rng, bg_xywh)])  # (m, 17, 2)
    xy = np.clip(xy, 0.0, sizes[image][:, None, :])  # inside the image
    # Each keypoint's own score falls with the pose's jitter (random poses: 0.3).
    jitter = np.concatenate([jitter, np.full(bg_image.shape[0], 0.3)])
    kp_logit = 2.0 - 10.0 * jitter[:, None] + rng.normal(0.0, 1.0, xy.shape[:2])  # (m, 17)
    keypoints = np.concatenate([np.round(xy, 2), sigmoid_score(kp_logit)[:, :, None]], axis=2)
    score = sigmoid_score(np.concatenate([hit_logit, dup_logit, bg_logit]))

    keep = top_per_image(rng, image, score, cfg.dets_per_image, n_images)
    return Poses(image=image[keep], keypoints=keypoints[keep], score=score[keep])


def coco_ground_truth(
    rng: np.random.Generator,
    cfg: KeypointConfig,
    image_ids: np.ndarray,
    sizes: np.ndarray,
    gt: People,
) -> dict[str, object]:
    """The COCO person-keypoints dict; annotations in random order, increasing unique ids."""
    order = rng.permutation(gt.image.shape[0])
    ann_ids = 200_000 + np.cumsum(rng.integers(1, 4, order.shape[0]))
    images = [
        {"id": i, "width": w, "height": h, "file_name": f"{i:012d}.jpg"}
        for i, (w, h) in zip(image_ids.tolist(), sizes.astype(np.int64).tolist(), strict=True)
    ]
    keypoints = gt.keypoints[order].astype(np.int64)  # (n, 17, 3)
    num_keypoints = (keypoints[:, :, 2] > 0).sum(axis=1)
    annotations = [
        {"id": a, "image_id": i, "category_id": PERSON["id"], "bbox": b, "area": s,
         "iscrowd": z, "keypoints": k, "num_keypoints": nk}
        for a, i, b, s, z, k, nk in zip(
            ann_ids.tolist(),
            image_ids[gt.image[order]].tolist(),
            gt.xywh[order].tolist(),
            gt.area[order].tolist(),
            gt.crowd[order].astype(np.int64).tolist(),
            keypoints.reshape(-1, 3 * N_KEYPOINTS).tolist(),
            num_keypoints.tolist(),
            strict=True,
        )
    ]  # fmt: skip
    info = {"description": f"synthetic COCO-like person keypoints, {cfg}", "version": "1.0"}
    return {
        "info": info,
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [PERSON],
    }


def coco_results(image_ids: np.ndarray, dets: Poses) -> list[dict[str, object]]:
    """The COCO keypoint results list (``image_id``, ``category_id``, ``keypoints``, ``score``)."""
    return [
        {"image_id": i, "category_id": PERSON["id"], "keypoints": k, "score": s}
        for i, k, s in zip(
            image_ids[dets.image].tolist(),
            dets.keypoints.reshape(-1, 3 * N_KEYPOINTS).tolist(),
            dets.score.tolist(),
            strict=True,
        )
    ]


def generate(cfg: KeypointConfig) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Build the ground-truth dict and the results list for ``cfg`` (deterministic)."""
    rng = np.random.default_rng(cfg.seed)
    image_ids, sizes = make_images(rng, cfg.images)
    gt, pose = make_ground_truth(rng, cfg, sizes)
    dets = make_predictions(rng, cfg, gt, pose, sizes)
    return coco_ground_truth(rng, cfg, image_ids, sizes, gt), coco_results(image_ids, dets)


def describe(gt_path: Path, preds_path: Path) -> str:
    """A one-paragraph summary of a written set: people, keypoints, size split, results."""
    gt = orjson.loads(gt_path.read_bytes())
    preds = orjson.loads(preds_path.read_bytes())
    anns = gt["annotations"]
    area = np.array([a["area"] for a in anns], dtype=np.float64)
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    labelled = np.array([a["num_keypoints"] for a in anns], dtype=np.int64)
    visible = sum(a["keypoints"][2::3].count(2) for a in anns)
    with_people = len({a["image_id"] for a in anns})
    solo = area[~crowd]
    split = [np.mean(solo < SMALL_AREA), np.mean((solo >= SMALL_AREA) & (solo < LARGE_AREA))]
    split.append(1.0 - split[0] - split[1])
    return (
        f"{len(gt['images'])} images ({with_people} with people), {len(anns)} people "
        f"({len(anns) / len(gt['images']):.2f}/image, {crowd.sum()} crowd, "
        f"{100 * np.mean(labelled == 0):.0f}% without keypoints, "
        f"{labelled[labelled > 0].mean():.1f} labelled keypoints per annotated person, "
        f"{100 * visible / max(labelled.sum(), 1):.0f}% of them visible, small/medium/large "
        f"{100 * split[0]:.0f}/{100 * split[1]:.0f}/{100 * split[2]:.0f}%), "
        f"{len(preds)} results; "
        f"{gt_path.stat().st_size / 1e6:.1f} MB + {preds_path.stat().st_size / 1e6:.1f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--dets-per-image", type=int, default=20)
    parser.add_argument("--people-per-image", type=float, default=2.2)
    parser.add_argument("--crowd-fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    cfg = KeypointConfig(
        images=args.images,
        dets_per_image=args.dets_per_image,
        people_per_image=args.people_per_image,
        crowd_fraction=args.crowd_fraction,
        seed=args.seed,
    )
    start = time.perf_counter()
    gt_path, preds_path = write_json_pair(args.out, *generate(cfg))
    elapsed = time.perf_counter() - start
    print(f"wrote {gt_path} and {preds_path} in {elapsed:.1f} s")
    print(describe(gt_path, preds_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
