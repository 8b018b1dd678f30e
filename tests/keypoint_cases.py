"""COCO keypoint test cases: seeded random datasets and pycocotools' answer for them.

:func:`random_keypoint_case` builds a ground truth and results with every pycocotools
keypoint trap a knob of :class:`KeypointKnobs` asks for; :func:`run_pycocotools_keypoints`
runs pycocotools' ``COCOeval(..., "keypoints")`` on a case.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from coco_cases import UNDECLARED_CATEGORY
from cocoeval_reference import FullScores, run_cocoeval

# pycocotools' COCO person sigmas, and others from mmpose's dataset configs.
COCO_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07]
        + [0.87, 0.87, 0.89, 0.89]
    )
    / 10.0
)
CROWDPOSE_SIGMAS = (
    np.array([0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89, 0.79, 0.79])
    / 10.0
)
FACE_SIGMAS = np.array([0.025, 0.025, 0.026, 0.035, 0.035])
ONE_SIGMA = np.array([0.089])

Doc = dict[str, Any]

VARIANTS: dict[str, Mapping[str, Any]] = {
    "default": {},
    # 1.0 exercises the 1 - 1e-10 cap; 0.5 and 0.75 present so those stats are defined.
    "oks-custom": {"iou_thresholds": np.array([0.1, 0.5, 0.75, 0.9, 1.0])},
    # Holds 0.5 (the same double as pycocotools') but not 0.75: stats[2] and [7] are -1.
    "oks-linspace": {"iou_thresholds": np.linspace(0.3, 0.9, 7)},
    "recall-coarse": {"recall_thresholds": np.linspace(0.0, 1.0, 11)},
    "maxdets-three": {"max_dets": [1, 5, 20]},
    # No 20 among maxDets: every stat is -1 (summarize reads maxDets == 20).
    "maxdets-no-20": {"max_dets": [2, 50]},
    "area-custom": {
        "area_ranges": {"all": (0, 1e10), "medium": (500, 5000), "large": (5000, 1e10)}
    },
    # Labels summarize() does not read, and one on a range bound (32**2).
    "area-labels": {"area_ranges": {"all": (0, 1e12), "small": (0, 32**2), "tiny": (0, 64)}},
}
"""Parameter settings (``evaluate_coco`` keywords) to compare under, in pycocotools mode."""


@dataclass(frozen=True)
class KeypointKnobs:
    """What :func:`random_keypoint_case` puts in a dataset. Rates are per object.

    Attributes
    ----------
    n_images : int
    n_keypoints : int
        K, the keypoints per object.
    category_ids : tuple of int
        Categories whose ground truth has keypoints; results in them too.
    plain_category : int or None
        A declared category whose ground truth has no keypoint labelled
        (``num_keypoints`` 0, as COCO's non-person classes would have); results in it too.
    fp_only_category : int or None
        A declared category with results and no ground truth.
    max_gt_per_image : int
    empty_image_rate : float
        Images without ground truth (they still get background results).
    crowd_rate : float
        Crowd ground truth (mostly with no keypoint labelled, as in COCO).
    zero_count_rate : float
        Ground truth with ``num_keypoints`` 0 and every visibility 0: ignored, and
        ``computeOks`` measures results against its box grown on every side.
    unlabelled_count_rate : float
        Ground truth with every visibility 0 but ``num_keypoints`` above 0: not ignored,
        still the box branch of ``computeOks``.
    stale_count_rate : float
        Ground truth whose ``num_keypoints`` is 0 although keypoints are labelled
        (ignored by the count, scored on its keypoints).
    ignore_field_rate : float
        Ground truth with an ``ignore`` field (pycocotools overwrites it).
    boundary_area_rate : float
        Ground truth whose ``area`` is exactly 32**2 or 96**2.
    zero_area_rate : float
        Ground truth whose ``area`` is 0 (the OKS divides by ``area + eps``).
    dets_per_gt : tuple of int
        Results per ground truth, drawn from this tuple.
    background_dets : int
        Up to this many random results per image.
    wrong_class_rate : float
    duplicate_rate : float
        Results repeated exactly (same keypoints, same score).
    stray_fields_rate : float
        Results carrying ``id``, ``area`` and ``iscrowd``, which ``loadRes`` overwrites
        or never reads.
    score_decimals : int or None
        Scores rounded to this many decimals (ties); None keeps full floats.
    crowded_dets : int
        If > 0, one image gets this many extra results in one category (maxDets cut).
    integer_coords : bool
        Integer keypoints, boxes and areas (ground truth and results).
    result_bbox : bool
        Every result carries a ``bbox`` (``loadRes`` then takes its area from it);
        otherwise ``loadRes`` derives box and area from the keypoints' extent.
    id_zero : bool
        One ground truth gets annotation id 0.
    duplicate_ids : int
        This many ground truth annotations reuse another's id.
    shuffle : bool
        Shuffle images, categories, annotations and results.
    """

    n_images: int = 6
    n_keypoints: int = 17
    category_ids: tuple[int, ...] = (1,)
    plain_category: int | None = 3
    fp_only_category: int | None = 7
    max_gt_per_image: int = 5
    empty_image_rate: float = 0.15
    crowd_rate: float = 0.08
    zero_count_rate: float = 0.12
    unlabelled_count_rate: float = 0.04
    stale_count_rate: float = 0.04
    ignore_field_rate: float = 0.08
    boundary_area_rate: float = 0.05
    zero_area_rate: float = 0.02
    dets_per_gt: tuple[int, ...] = (0, 1, 1, 2)
    background_dets: int = 2
    wrong_class_rate: float = 0.08
    duplicate_rate: float = 0.04
    stray_fields_rate: float = 0.04
    score_decimals: int | None = 2
    crowded_dets: int = 0
    integer_coords: bool = False
    result_bbox: bool = False
    id_zero: bool = False
    duplicate_ids: int = 0
    shuffle: bool = True


def random_keypoint_case(seed: int, **knobs: Any) -> tuple[Doc, list[Doc]]:
    """A random COCO keypoint ground truth and results, reproducible from ``seed``.

    Parameters
    ----------
    seed : int
    **knobs
        Fields of :class:`KeypointKnobs` to change.

    Returns
    -------
    gt : dict
        COCO ground truth; every annotation has ``keypoints`` and ``num_keypoints``.
    results : list of dict
        COCO keypoint results (``image_id``, ``category_id``, ``keypoints``, ``score``,
        and ``bbox`` when ``result_bbox``).
    """
    unknown = set(knobs) - {f.name for f in fields(KeypointKnobs)}
    if unknown:
        raise TypeError(f"random_keypoint_case: unknown knobs {sorted(unknown)}")
    return _Generator(random.Random(seed), KeypointKnobs(**knobs)).build()


class _Generator:
    """Builds one random keypoint case; one method per kind of object."""

    def __init__(self, rng: random.Random, knobs: KeypointKnobs) -> None:
        self.rng = rng
        self.knobs = knobs
        self.n_keypoints = knobs.n_keypoints
        self.annotations: list[Doc] = []
        self.results: list[Doc] = []

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def coord(self, value: float) -> float | int:
        return round(value) if self.knobs.integer_coords else round(value, 2)

    def random_box(self) -> list[float]:
        """A box whose area spans the small, medium and large ranges."""
        size = math.exp(self.rng.uniform(math.log(8), math.log(400)))
        aspect = math.exp(self.rng.uniform(-0.6, 0.6))
        w, h = max(size * math.sqrt(aspect), 2), max(size / math.sqrt(aspect), 2)
        return [self.rng.uniform(0, 500), self.rng.uniform(0, 350), w, h]

    def pose(self, box: Sequence[float]) -> list[tuple[float, float]]:
        """K points inside the box."""
        x, y, w, h = box
        return [
            (x + self.rng.uniform(0, w), y + self.rng.uniform(0, h))
            for _ in range(self.n_keypoints)
        ]

    def score(self) -> float:
        value = self.rng.random()
        decimals = self.knobs.score_decimals
        return value if decimals is None else round(value, decimals)

    def add_gt(self, image_id: int, category_id: int) -> tuple[Doc, list[tuple[float, float]]]:
        """A ground truth and the true pose behind it (for results to jitter)."""
        knobs, rng = self.knobs, self.rng
        box = self.random_box()
        pose = self.pose(box)
        crowd = self.chance(knobs.crowd_rate)
        none_labelled = (
            (crowd and self.chance(0.7))
            or category_id == knobs.plain_category
            or self.chance(knobs.zero_count_rate)
        )
        unlabelled = not none_labelled and self.chance(knobs.unlabelled_count_rate)
        visibility = [
            0 if none_labelled or unlabelled else rng.choice((0, 1, 2, 2))
            for _ in range(self.n_keypoints)
        ]
        keypoints: list[float | int] = []
        for (px, py), v in zip(pose, visibility, strict=True):
            keypoints += [self.coord(px), self.coord(py), v] if v else [0, 0, 0]
        count = sum(v > 0 for v in visibility)
        if unlabelled:
            count = rng.randint(1, self.n_keypoints)
        elif count and self.chance(knobs.stale_count_rate):
            count = 0
        area = box[2] * box[3] * rng.uniform(0.4, 1.0)
        if self.chance(knobs.boundary_area_rate):
            area = rng.choice((32.0**2, 96.0**2))
        if self.chance(knobs.zero_area_rate):
            area = 0.0
        annotation: Doc = {
            "id": 0,  # numbered in build()
            "image_id": image_id,
            "category_id": category_id,
            "bbox": [self.coord(v) for v in box],
            "area": self.coord(area),
            "iscrowd": int(crowd),
            "keypoints": keypoints,
            "num_keypoints": count,
        }
        if self.chance(knobs.ignore_field_rate):
            annotation["ignore"] = int(not crowd)
        self.annotations.append(annotation)
        return annotation, pose

    def add_result(
        self, image_id: int, category_id: int, pose: Sequence[tuple[float, float]], spread: float
    ) -> None:
        """A result whose keypoints are ``pose`` moved by Gaussian noise of std ``spread``."""
        rng = self.rng
        keypoints: list[float | int] = []
        for px, py in pose:
            keypoints += [
                self.coord(px + rng.gauss(0, spread)),
                self.coord(py + rng.gauss(0, spread)),
                self.coord(rng.random()) if not self.knobs.integer_coords else 1,
            ]
        result: Doc = {
            "image_id": image_id,
            "category_id": category_id,
            "keypoints": keypoints,
            "score": self.score(),
        }
        if self.knobs.result_bbox:
            xs, ys = keypoints[0::3], keypoints[1::3]
            pad = rng.uniform(0, 10)
            result["bbox"] = [
                self.coord(min(xs) - pad),
                self.coord(min(ys) - pad),
                self.coord(max(xs) - min(xs) + 2 * pad),
                self.coord(max(ys) - min(ys) + 2 * pad),
            ]
        if self.chance(self.knobs.stray_fields_rate):
            result.update(id=0, area=1.0, iscrowd=1)
        self.results.append(result)
        if self.chance(self.knobs.duplicate_rate):
            self.results.append(copy.deepcopy(result))

    def result_category(self, truth: int, categories: Sequence[int]) -> int:
        if self.chance(self.knobs.wrong_class_rate):
            return self.rng.choice(categories)
        return truth

    def build(self) -> tuple[Doc, list[Doc]]:
        knobs, rng = self.knobs, self.rng
        image_ids = rng.sample(range(1, 100 * knobs.n_images + 1), knobs.n_images)
        gt_categories = list(knobs.category_ids)
        if knobs.plain_category is not None:
            gt_categories.append(knobs.plain_category)
        det_categories = list(gt_categories)
        if knobs.fp_only_category is not None:
            det_categories.append(knobs.fp_only_category)

        for image_id in image_ids:
            if not self.chance(knobs.empty_image_rate):
                for _ in range(rng.randint(1, knobs.max_gt_per_image)):
                    annotation, pose = self.add_gt(image_id, rng.choice(gt_categories))
                    side = math.sqrt(annotation["bbox"][2] * annotation["bbox"][3])
                    for _ in range(rng.choice(knobs.dets_per_gt)):
                        spread = side * rng.choice((0.0, 0.02, 0.05, 0.1, 0.2, 0.4))
                        category = self.result_category(annotation["category_id"], det_categories)
                        self.add_result(image_id, category, pose, spread)
            for _ in range(rng.randint(0, knobs.background_dets)):
                self.add_result(
                    image_id, rng.choice(det_categories), self.pose(self.random_box()), 0.0
                )
        if knobs.crowded_dets:
            self.add_crowded_image(rng.choice(image_ids), knobs.category_ids[0])
        self.number_annotations()
        categories = [{"id": c, "name": f"class-{c}"} for c in sorted(set(det_categories))]
        images = [{"id": i, "width": 640, "height": 480} for i in image_ids]
        if knobs.shuffle:
            for items in (images, categories, self.annotations, self.results):
                rng.shuffle(items)
        return {"images": images, "categories": categories, "annotations": self.annotations}, (
            self.results
        )

    def add_crowded_image(self, image_id: int, category_id: int) -> None:
        """More results than maxDets on one image, around two ground truths."""
        targets = [self.add_gt(image_id, category_id) for _ in range(2)]
        for index in range(self.knobs.crowded_dets):
            annotation, pose = targets[index % 2]
            side = math.sqrt(annotation["bbox"][2] * annotation["bbox"][3])
            self.add_result(image_id, category_id, pose, side * self.rng.uniform(0, 0.3))

    def number_annotations(self) -> None:
        knobs, rng = self.knobs, self.rng
        count = len(self.annotations)
        ids = rng.sample(range(1, 10 * count + 2), count)
        for annotation, annotation_id in zip(self.annotations, ids, strict=True):
            annotation["id"] = annotation_id
        # Id 0 on a counted ground truth, where losing its matches shows.
        counted = [a for a in self.annotations if a["num_keypoints"] > 0 and not a["iscrowd"]]
        if knobs.id_zero and counted:
            rng.choice(counted)["id"] = 0
        for _ in range(knobs.duplicate_ids if count > 1 else 0):
            source, target = rng.sample(self.annotations, 2)
            target["id"] = source["id"]


def run_pycocotools_keypoints(
    gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], **options: Any
) -> FullScores:
    """pycocotools' keypoints evaluation of a case, silenced, on deep copies of the inputs.

    An empty results list (``loadRes`` crashes on it) is run as one result in an
    undeclared category, which ``COCOeval`` drops when ``use_cats`` is on.

    Parameters
    ----------
    gt, results
        As for ``evaluate_coco``.
    **options
        ``evaluate_coco`` keywords: ``iou_thresholds``, ``recall_thresholds``,
        ``max_dets``, ``area_ranges``, ``use_cats``, ``oks_sigmas``.
    """
    dets = copy.deepcopy(list(results))
    if not dets:
        k = len(options.get("oks_sigmas", COCO_SIGMAS))
        first_image = gt["images"][0]["id"]
        dets = [
            {
                "image_id": first_image,
                "category_id": UNDECLARED_CATEGORY,
                "keypoints": [1.0] * (3 * k),
                "score": 1.0,
            }
        ]
    return run_cocoeval(gt, dets, "keypoints", options)
