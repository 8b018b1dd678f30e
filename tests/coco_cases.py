"""COCO test cases: seeded random datasets, hand-built trap cases, parameter variants.

Also how to get pycocotools' own answer for a case (:func:`run_pycocotools`), shared by
the oracle tests and the parity tests, and :func:`detect_traps`, which reads a case and
names the pycocotools traps it actually exercises (so coverage is checked, not claimed).
"""

from __future__ import annotations

import copy
import functools
import math
import random
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from coco_oracle import COCO_AREA_RANGES, OracleResult, bbox_iou, evaluate_coco_oracle, make_params
from cocoeval_reference import run_cocoeval

from evaluator import DataWarning, load_ground_truth, load_predictions
from evaluator.metrics.matching import Matching, match_detections
from evaluator.metrics.params import CocoParams

# Category id that no generated dataset declares (detections there must be dropped).
UNDECLARED_CATEGORY = 999_999

ALL_TRAPS: tuple[str, ...] = (
    "crowd",
    "crowd with several detections",
    "ignore field overwritten by iscrowd",
    "boolean iscrowd",
    "empty image",
    "image without detections",
    "detections on image without GT",
    "class without GT",
    "class without predictions",
    "score ties",
    "small, medium and large GT",
    "GT area field differs from w*h",
    "area on a range bound",
    "area above 1e10",
    "more than 100 detections in an image-category",
    "duplicate detections",
    "zero-size box",
    "IoU tie between two GT",
    "sparse category ids",
    "undeclared-category detections",
    "annotation id 0",
    "duplicate annotation ids",
    "stray detection fields",
    "unsorted images and annotations",
)
"""Every trap that :func:`detect_traps` can report."""


@dataclass(frozen=True)
class Knobs:
    """What :func:`random_case` puts in a dataset. Rates are per object.

    Attributes
    ----------
    n_images : int
    category_ids : tuple of int
        Categories that get both ground truth and detections (sparse by default).
    fp_only_category, gt_only_category : int or None
        Extra declared categories with only detections / only ground truth.
    max_gt_per_image : int
    empty_image_rate : float
        Images with no ground truth (they may still get background detections).
    no_det_image_rate : float
        Images that get no detections at all.
    crowd_rate, ignore_field_rate, bool_iscrowd_rate : float
        Crowd GT; GT with an ``ignore`` field contradicting ``iscrowd``; GT whose
        ``iscrowd`` is a JSON boolean.
    segment_area_rate : float
        GT whose ``area`` field is smaller than ``w * h`` (like a segment area).
    boundary_area_rate : float
        GT whose ``area`` is exactly 32**2, 96**2 or 1e5**2; also detections of
        exactly 32 x 32 or 96 x 96.
    huge_rate, zero_size_rate : float
        Boxes of area above 1e10; boxes of zero width or height.
    dets_per_gt : tuple of int
        Number of jittered detections per GT, drawn uniformly from this tuple.
    background_dets : int
        Up to this many random detections per image.
    wrong_class_rate, undeclared_class_rate, duplicate_rate : float
    score_decimals : int or None
        Scores rounded to this many decimals (ties); None keeps full floats.
    crowded_dets : int
        If > 0, one image gets this many extra detections in one category.
    iou_tie_rate : float
        Per image, the chance of a GT pair plus a detection with exactly equal IoU to both.
    integer_coords : bool
    id_zero : bool
        One GT annotation gets id 0.
    duplicate_ids : int
        This many GT annotations reuse an earlier annotation's id.
    stray_det_fields_rate : float
        Detections carrying ``id``, ``area`` and ``iscrowd`` fields that pycocotools
        overwrites.
    shuffle : bool
        Shuffle images, categories, annotations and predictions (file order != id order).
    """

    n_images: int = 6
    category_ids: tuple[int, ...] = (1, 5, 90)
    fp_only_category: int | None = 7
    gt_only_category: int | None = 42
    max_gt_per_image: int = 8
    empty_image_rate: float = 0.15
    no_det_image_rate: float = 0.15
    crowd_rate: float = 0.08
    ignore_field_rate: float = 0.1
    bool_iscrowd_rate: float = 0.1
    segment_area_rate: float = 0.5
    boundary_area_rate: float = 0.05
    huge_rate: float = 0.02
    zero_size_rate: float = 0.02
    dets_per_gt: tuple[int, ...] = (0, 1, 1, 1, 2)
    background_dets: int = 4
    wrong_class_rate: float = 0.1
    undeclared_class_rate: float = 0.05
    duplicate_rate: float = 0.05
    score_decimals: int | None = 2
    crowded_dets: int = 0
    iou_tie_rate: float = 0.3
    integer_coords: bool = False
    id_zero: bool = False
    duplicate_ids: int = 0
    stray_det_fields_rate: float = 0.05
    shuffle: bool = True


@dataclass(frozen=True)
class CocoCase:
    """One dataset to evaluate.

    Attributes
    ----------
    name : str
    gt : dict
        COCO ground truth.
    predictions : list of dict
        COCO results list.
    traps : tuple of str
        What :func:`detect_traps` found in it.
    """

    name: str
    gt: dict[str, Any]
    predictions: list[dict[str, Any]]
    traps: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ParamVariant:
    """Evaluation options, named as ``evaluator.evaluate_coco``'s keywords."""

    name: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Scores:
    """pycocotools' outputs: precision (T, R, K, A, M), recall (T, K, A, M), stats (12,)."""

    precision: np.ndarray
    recall: np.ndarray
    stats: np.ndarray


PARAM_VARIANTS: tuple[ParamVariant, ...] = (
    ParamVariant("default", {}),
    # 1.0 exercises the 1 - 1e-10 cap; 0.5 and 0.75 present so AP50/AP75 are defined.
    ParamVariant("iou-custom", {"iou_thresholds": np.array([0.1, 0.5, 0.75, 0.9, 1.0])}),
    # Holds 0.5 (as the same double) but not 0.75: AP75 is -1.
    ParamVariant("iou-linspace", {"iou_thresholds": np.linspace(0.3, 0.9, 7)}),
    # No 100 among maxDets: stats[0] is -1 (it reads maxDets == 100 whatever the params).
    ParamVariant("maxdets-small", {"max_dets": [1, 5, 20]}),
    ParamVariant("maxdets-large", {"max_dets": [10, 100, 300]}),
    ParamVariant(
        "area-custom",
        {
            "area_ranges": {
                "all": (0, 1e10),
                "small": (0, 400),
                "medium": (400, 4000),
                "large": (4000, 1e10),
            }
        },
    ),
    # Labels that summarize() does not look for: those stats are -1.
    ParamVariant(
        "area-labels", {"area_ranges": {"all": (0, 1e12), "tiny": (0, 64), "small": (0, 1024)}}
    ),
    ParamVariant("class-agnostic", {"use_cats": False}),
    ParamVariant("class-agnostic-maxdets", {"use_cats": False, "max_dets": [2, 10, 50]}),
)
"""Parameter settings to evaluate cases under; keys are ``evaluate_coco`` keywords."""


def random_case(seed: int, **knobs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random COCO dataset and detections, reproducible from ``seed``.

    Parameters
    ----------
    seed : int
    **knobs
        Fields of :class:`Knobs` to change.

    Returns
    -------
    gt : dict
        COCO ground truth with ``images``, ``categories``, ``annotations``.
    predictions : list of dict
        COCO results (``image_id``, ``category_id``, ``bbox``, ``score``).
    """
    unknown = set(knobs) - {f.name for f in fields(Knobs)}
    if unknown:
        raise TypeError(f"random_case: unknown knobs {sorted(unknown)}")
    return _Generator(random.Random(seed), Knobs(**knobs)).build()


class _Generator:
    """Builds one random case; one method per kind of object."""

    def __init__(self, rng: random.Random, knobs: Knobs) -> None:
        self.rng = rng
        self.knobs = knobs
        self.annotations: list[dict[str, Any]] = []
        self.predictions: list[dict[str, Any]] = []

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def coord(self, value: float) -> float:
        return float(round(value)) if self.knobs.integer_coords else round(value, 2)

    def random_box(self) -> list[float]:
        """A box whose area spans small, medium and large (sometimes zero or above 1e10)."""
        if self.chance(self.knobs.huge_rate):
            side = self.rng.uniform(1.2e5, 3e5)
            return [self.coord(self.rng.uniform(0, 100)), 0.0, self.coord(side), self.coord(side)]
        size = math.exp(self.rng.uniform(math.log(2), math.log(500)))
        aspect = math.exp(self.rng.uniform(-0.7, 0.7))
        box = [
            self.coord(self.rng.uniform(0, 600)),
            self.coord(self.rng.uniform(0, 400)),
            self.coord(max(size * math.sqrt(aspect), 1)),
            self.coord(max(size / math.sqrt(aspect), 1)),
        ]
        if self.chance(self.knobs.zero_size_rate):
            box[self.rng.choice((2, 3))] = 0.0
        return box

    def jitter(self, box: list[float]) -> list[float]:
        scale = self.rng.choice((0.0, 0.03, 0.1, 0.3))
        x, y, w, h = box
        return [
            self.coord(x + self.rng.gauss(0, scale * w)),
            self.coord(y + self.rng.gauss(0, scale * h)),
            self.coord(max(w * math.exp(self.rng.gauss(0, scale)), 0)),
            self.coord(max(h * math.exp(self.rng.gauss(0, scale)), 0)),
        ]

    def score(self) -> float:
        value = self.rng.random()
        return (
            value if self.knobs.score_decimals is None else round(value, self.knobs.score_decimals)
        )

    def add_gt(self, image_id: int, category_id: int, box: list[float]) -> dict[str, Any]:
        knobs = self.knobs
        crowd = self.chance(knobs.crowd_rate)
        area = box[2] * box[3]
        if self.chance(knobs.segment_area_rate):
            area = round(area * self.rng.uniform(0.4, 1.0), 2)
        if self.chance(knobs.boundary_area_rate):
            area = self.rng.choice((32**2, 96**2, 1e5**2, float(32**2)))
        annotation: dict[str, Any] = {
            "id": 0,  # numbered in build()
            "image_id": image_id,
            "category_id": category_id,
            "bbox": box,
            "area": area,
            "iscrowd": (crowd if self.chance(knobs.bool_iscrowd_rate) else int(crowd)),
        }
        if self.chance(knobs.ignore_field_rate):
            annotation["ignore"] = int(not crowd)
        self.annotations.append(annotation)
        return annotation

    def add_prediction(self, image_id: int, category_id: int, box: list[float]) -> None:
        knobs = self.knobs
        prediction: dict[str, Any] = {
            "image_id": image_id,
            "category_id": category_id,
            "bbox": box,
            "score": self.score(),
        }
        if self.chance(knobs.stray_det_fields_rate):
            prediction.update(id=0, area=1.0, iscrowd=1)
        self.predictions.append(prediction)
        if self.chance(knobs.duplicate_rate):
            self.predictions.append(copy.deepcopy(prediction))

    def detection_category(self, truth: int, det_categories: Sequence[int]) -> int:
        """Usually the true class; sometimes a wrong or undeclared one.

        Objects of the GT-only class are only ever detected as another class.
        """
        if self.chance(self.knobs.undeclared_class_rate):
            return UNDECLARED_CATEGORY
        if truth not in det_categories or self.chance(self.knobs.wrong_class_rate):
            return self.rng.choice(det_categories)
        return truth

    def add_iou_tie(self, image_id: int, category_id: int) -> None:
        """Two GT 2 px apart and a detection halfway: exactly equal IoU with both."""
        x, y = self.rng.randint(0, 500), self.rng.randint(0, 300)
        w, h = self.rng.randint(20, 200), self.rng.randint(20, 200)
        self.add_gt(image_id, category_id, [float(x), float(y), float(w), float(h)])
        self.add_gt(image_id, category_id, [float(x + 2), float(y), float(w), float(h)])
        self.add_prediction(image_id, category_id, [float(x + 1), float(y), float(w), float(h)])

    def build(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        knobs, rng = self.knobs, self.rng
        image_ids = rng.sample(range(1, 100 * knobs.n_images + 1), knobs.n_images)
        gt_categories = list(knobs.category_ids)
        det_categories = list(knobs.category_ids)
        if knobs.gt_only_category is not None:
            gt_categories.append(knobs.gt_only_category)
        if knobs.fp_only_category is not None:
            det_categories.append(knobs.fp_only_category)

        for image_id in image_ids:
            has_gt = not self.chance(knobs.empty_image_rate)
            has_dets = not self.chance(knobs.no_det_image_rate)
            first = len(self.annotations)
            if has_gt:
                for _ in range(rng.randint(1, knobs.max_gt_per_image)):
                    self.add_gt(image_id, rng.choice(gt_categories), self.random_box())
                if has_dets and self.chance(knobs.iou_tie_rate):
                    self.add_iou_tie(image_id, rng.choice(knobs.category_ids))
            if not has_dets:
                continue
            for annotation in self.annotations[first:]:
                for _ in range(rng.choice(knobs.dets_per_gt)):
                    category = self.detection_category(annotation["category_id"], det_categories)
                    self.add_prediction(image_id, category, self.jitter(annotation["bbox"]))
            for _ in range(rng.randint(0, knobs.background_dets)):
                box = self.random_box()
                if self.chance(knobs.boundary_area_rate):
                    side = rng.choice((32.0, 96.0))
                    box = [box[0], box[1], side, side]
                category = self.detection_category(rng.choice(det_categories), det_categories)
                self.add_prediction(image_id, category, box)

        if knobs.crowded_dets:
            self.add_crowded_image(rng.choice(image_ids), rng.choice(knobs.category_ids))
        self.number_annotations()
        return self.assemble(image_ids, sorted(set(gt_categories) | set(det_categories)))

    def add_crowded_image(self, image_id: int, category_id: int) -> None:
        """Many detections of one category on one image, around two GT."""
        targets = [self.add_gt(image_id, category_id, self.random_box()) for _ in range(2)]
        for index in range(self.knobs.crowded_dets):
            box = self.jitter(targets[index % 2]["bbox"])
            self.add_prediction(image_id, category_id, box)

    def number_annotations(self) -> None:
        knobs, rng = self.knobs, self.rng
        count = len(self.annotations)
        ids = rng.sample(range(1, 10 * count + 2), count)
        for annotation, annotation_id in zip(self.annotations, ids, strict=True):
            annotation["id"] = annotation_id
        if knobs.id_zero and count:
            rng.choice(self.annotations)["id"] = 0
        for _ in range(knobs.duplicate_ids if count > 1 else 0):
            source, target = rng.sample(self.annotations, 2)
            target["id"] = source["id"]

    def assemble(
        self, image_ids: list[int], category_ids: list[int]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        images = [
            {"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": 640, "height": 480}
            for image_id in image_ids
        ]
        categories = [{"id": cid, "name": f"class-{cid}"} for cid in category_ids]
        if self.knobs.shuffle:
            for items in (images, categories, self.annotations, self.predictions):
                self.rng.shuffle(items)
        gt = {"images": images, "categories": categories, "annotations": self.annotations}
        return gt, self.predictions


# Knob profiles the random suite cycles through, each stressing some traps harder.
_PROFILES: tuple[dict[str, Any], ...] = (
    {},
    {"score_decimals": 1, "duplicate_rate": 0.2},
    {"crowded_dets": 130, "n_images": 3, "max_gt_per_image": 3},
    {"crowd_rate": 0.4, "dets_per_gt": (1, 2, 3)},
    {"id_zero": True, "duplicate_ids": 2},
    {"huge_rate": 0.15, "zero_size_rate": 0.15, "boundary_area_rate": 0.3},
    {"category_ids": (3,), "fp_only_category": None, "gt_only_category": None},
    {"n_images": 14, "max_gt_per_image": 3, "empty_image_rate": 0.4},
    {"score_decimals": None, "shuffle": False},
    {"integer_coords": True, "iou_tie_rate": 1.0, "crowd_rate": 0.2},
)

RANDOM_SEEDS: tuple[int, ...] = tuple(range(50))


def matched_random_case(seed: int, **knobs: Any) -> tuple[Matching, CocoParams, Any]:
    """:func:`random_case` loaded and matched with the default parameters (its data
    warnings silenced): the matching, the parameters and the ground truth's category ids."""
    gt, dets = random_case(seed, **knobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ground = load_ground_truth(gt)
        preds = load_predictions(dets, ground)
    params = CocoParams()
    return match_detections(ground, preds, params), params, ground.category_ids


def random_cases() -> list[CocoCase]:
    """The 50 seeded random cases of the test suites (profiles cycle with the seed)."""
    cases = []
    for seed in RANDOM_SEEDS:
        profile = _PROFILES[seed % len(_PROFILES)]
        gt, predictions = random_case(seed, **profile)
        cases.append(CocoCase(f"random-{seed}", gt, predictions, detect_traps(gt, predictions)))
    return cases


def _gt(
    annotation_id: int,
    image_id: int,
    box: list[float],
    *,
    category_id: int = 1,
    crowd: int | bool = 0,
    area: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A GT annotation; ``area`` defaults to ``w * h``."""
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": box,
        "area": box[2] * box[3] if area is None else area,
        "iscrowd": crowd,
        **extra,
    }


def _det(image_id: int, box: list[float], score: float, category_id: int = 1) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": category_id, "bbox": box, "score": score}


def _dataset(
    image_ids: Sequence[int], category_ids: Sequence[int], annotations: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "images": [{"id": i, "width": 640, "height": 480} for i in image_ids],
        "categories": [{"id": c, "name": f"class-{c}"} for c in category_ids],
        "annotations": annotations,
    }


# Three reusable boxes: small (20 x 20 = 400), medium (50 x 40 = 2000), large (150 x 120).
_SMALL = [200.0, 100.0, 20.0, 20.0]
_MEDIUM = [10.0, 10.0, 50.0, 40.0]
_LARGE = [300.0, 50.0, 150.0, 120.0]


def _three_images() -> dict[str, Any]:
    """Three images, two classes, five GT of all sizes."""
    return _dataset(
        [1, 2, 3],
        [1, 2],
        [
            _gt(1, 1, _MEDIUM),
            _gt(2, 1, _SMALL, category_id=2),
            _gt(3, 2, _LARGE),
            _gt(4, 3, _MEDIUM, category_id=2),
            _gt(5, 3, _SMALL),
        ],
    )


def _perfect_detector() -> CocoCase:
    """One exact box per GT: every AP is 1 (up to the np.spacing(1) in precision)."""
    gt = _three_images()
    dets = [
        _det(a["image_id"], list(a["bbox"]), 0.9 - 0.1 * n, a["category_id"])
        for n, a in enumerate(gt["annotations"])
    ]
    return _hand_case("perfect-detector", gt, dets)


def _all_misses() -> CocoCase:
    """Every detection far from every GT: AP and AR are 0."""
    gt = _three_images()
    dets = [
        _det(a["image_id"], [600.0, 400.0, 5.0, 5.0], 0.9 - 0.1 * n, a["category_id"])
        for n, a in enumerate(gt["annotations"])
    ]
    return _hand_case("all-misses", gt, dets)


def _empty_predictions() -> CocoCase:
    """No detections at all (pycocotools' loadRes crashes on it): AP 0 where GT exists."""
    return _hand_case("empty-predictions", _three_images(), [])


def _empty_gt_annotations() -> CocoCase:
    """Images and classes but no GT: every stat is -1."""
    dets = [_det(1, _MEDIUM, 0.9), _det(2, _SMALL, 0.8, category_id=2)]
    return _hand_case("empty-gt-annotations", _dataset([1, 2], [1, 2], []), dets)


def _fp_only_class() -> CocoCase:
    """Class 2 has detections and no GT: -1 for it, left out of the means."""
    gt = _dataset([1, 2], [1, 2], [_gt(1, 1, _MEDIUM), _gt(2, 2, _LARGE)])
    dets = [
        _det(1, _MEDIUM, 0.8),
        _det(2, _SMALL, 0.7),
        _det(1, _LARGE, 0.9, category_id=2),
        _det(2, _MEDIUM, 0.6, category_id=2),
    ]
    return _hand_case("fp-only-class", gt, dets)


def _single_crowd_many_dets() -> CocoCase:
    """A crowd region absorbs many detections (IoU = intersection / detection area)."""
    crowd = _gt(1, 1, [0.0, 0.0, 400.0, 300.0], crowd=1, area=90000.0)
    gt = _dataset([1], [1], [crowd, _gt(2, 1, [500.0, 10.0, 60.0, 60.0])])
    dets = [_det(1, [20.0 * i, 15.0 * i, 40.0, 30.0], 0.95 - 0.05 * i) for i in range(12)]
    dets.append(_det(1, [500.0, 10.0, 60.0, 58.0], 0.5))
    return _hand_case("single-crowd-many-dets", gt, dets)


def _crowd_and_regular() -> CocoCase:
    """A detection on both a crowd region and a regular GT takes the regular GT."""
    gt = _dataset(
        [1],
        [1],
        [_gt(1, 1, [0.0, 0.0, 100.0, 100.0], crowd=1), _gt(2, 1, [0.0, 0.0, 60.0, 60.0])],
    )
    dets = [_det(1, [0.0, 0.0, 60.0, 60.0], 0.9), _det(1, [0.0, 0.0, 58.0, 60.0], 0.8)]
    return _hand_case("crowd-and-regular", gt, dets)


def _annotation_id_zero() -> CocoCase:
    """The detection that matches GT id 0 counts as a false positive in pycocotools."""
    gt = _dataset([1, 2], [1], [_gt(0, 1, _MEDIUM), _gt(1, 2, _LARGE)])
    dets = [_det(1, _MEDIUM, 0.9), _det(2, _LARGE, 0.8), _det(1, _SMALL, 0.3)]
    return _hand_case("annotation-id-0", gt, dets)


def _duplicate_annotation_ids() -> CocoCase:
    """Id 7 twice: both lookups return the last one (image 2, class 3), the first is lost."""
    gt = _dataset(
        [1, 2],
        [1, 3],
        [_gt(7, 1, _MEDIUM), _gt(8, 1, _SMALL), _gt(7, 2, _LARGE, category_id=3)],
    )
    dets = [
        _det(1, _MEDIUM, 0.9),
        _det(1, _SMALL, 0.8),
        _det(2, _LARGE, 0.7, category_id=3),
        _det(2, _LARGE, 0.6, category_id=3),
    ]
    return _hand_case("duplicate-annotation-ids", gt, dets)


def _score_ties_across_images() -> CocoCase:
    """Equal scores on different images rank in image-id order, not file order."""
    gt = _dataset([5, 3, 9], [1], [_gt(1, 5, _MEDIUM), _gt(2, 3, _SMALL), _gt(3, 9, _LARGE)])
    dets = [
        _det(9, [0.0, 300.0, 30.0, 30.0], 0.5),
        _det(5, _MEDIUM, 0.5),
        _det(3, [400.0, 300.0, 30.0, 30.0], 0.5),
        _det(3, _SMALL, 0.5),
        _det(9, _LARGE, 0.4),
    ]
    return _hand_case("score-ties-across-images", gt, dets)


def _iou_tie_two_gt() -> CocoCase:
    """A detection halfway between two GT: equal IoU, and the later GT in scan order wins.

    In the 'small' range only the second GT (area 1024) is in range and scanned first.
    """
    gt = _dataset(
        [1],
        [1],
        [
            _gt(1, 1, [100.0, 100.0, 40.0, 40.0], area=2000.0),
            _gt(2, 1, [102.0, 100.0, 40.0, 40.0], area=1024),
        ],
    )
    dets = [_det(1, [101.0, 100.0, 40.0, 40.0], 0.9), _det(1, [101.0, 100.0, 40.0, 40.0], 0.8)]
    return _hand_case("iou-tie-two-gt", gt, dets)


def _area_bounds() -> CocoCase:
    """GT and detections exactly on the inclusive range bounds, and one above 1e10."""
    gt = _dataset(
        [1],
        [1],
        [
            _gt(1, 1, [0.0, 0.0, 32.0, 32.0]),  # 1024: small and medium
            _gt(2, 1, [100.0, 0.0, 96.0, 96.0]),  # 9216: medium and large
            _gt(3, 1, [0.0, 200.0, 10.0, 10.0], area=1e10),  # on the top bound
            _gt(4, 1, [0.0, 300.0, 1.2e5, 1.2e5]),  # above 1e10: ignored in every range
        ],
    )
    dets = [_det(1, list(a["bbox"]), 0.9 - 0.1 * n) for n, a in enumerate(gt["annotations"])]
    dets += [_det(1, [300.0, 300.0, 32.0, 32.0], 0.95), _det(1, [300.0, 0.0, 96.0, 96.0], 0.92)]
    return _hand_case("area-bounds", gt, dets)


def _more_than_100_dets() -> CocoCase:
    """150 false positives outrank the true positive, which falls past maxDets=100."""
    gt = _dataset([1, 2], [1], [_gt(1, 1, _LARGE), _gt(2, 2, _MEDIUM)])
    dets = [_det(1, [5.0 * i, 400.0, 20.0, 20.0], 0.99 - 0.001 * i) for i in range(150)]
    dets += [_det(1, _LARGE, 0.01), _det(2, _MEDIUM, 0.5)]
    return _hand_case("more-than-100-dets", gt, dets)


def _ignore_field_overwritten() -> CocoCase:
    """``ignore`` is overwritten by ``iscrowd`` (including a JSON-boolean iscrowd)."""
    gt = _dataset(
        [1],
        [1],
        [
            _gt(1, 1, _MEDIUM, ignore=1),
            _gt(2, 1, _LARGE, crowd=1, ignore=0),
            _gt(3, 1, _SMALL, crowd=True, ignore=False),
        ],
    )
    dets = [_det(1, _MEDIUM, 0.9), _det(1, _LARGE, 0.8), _det(1, _SMALL, 0.7)]
    return _hand_case("ignore-field-overwritten", gt, dets)


def _zero_size_boxes() -> CocoCase:
    """Zero-width / zero-height GT and detections overlap nothing."""
    gt = _dataset(
        [1], [1], [_gt(1, 1, [10.0, 10.0, 0.0, 30.0]), _gt(2, 1, [50.0, 50.0, 30.0, 30.0])]
    )
    dets = [
        _det(1, [10.0, 10.0, 0.0, 30.0], 0.9),
        _det(1, [50.0, 50.0, 30.0, 0.0], 0.8),
        _det(1, [50.0, 50.0, 30.0, 30.0], 0.7),
    ]
    return _hand_case("zero-size-boxes", gt, dets)


def _undeclared_category() -> CocoCase:
    """The top-scoring detection is in a category the GT never declares: it is dropped."""
    gt = _dataset([1], [1], [_gt(1, 1, _MEDIUM)])
    dets = [_det(1, _MEDIUM, 0.3), _det(1, _SMALL, 0.99, category_id=UNDECLARED_CATEGORY)]
    return _hand_case("undeclared-category", gt, dets)


def _hand_case(name: str, gt: dict[str, Any], predictions: list[dict[str, Any]]) -> CocoCase:
    return CocoCase(name, gt, predictions, detect_traps(gt, predictions))


def hand_cases() -> list[CocoCase]:
    """Small named cases, each built around one behaviour (see each builder's docstring)."""
    builders = (
        _perfect_detector,
        _all_misses,
        _empty_predictions,
        _empty_gt_annotations,
        _fp_only_class,
        _single_crowd_many_dets,
        _crowd_and_regular,
        _annotation_id_zero,
        _duplicate_annotation_ids,
        _score_ties_across_images,
        _iou_tie_two_gt,
        _area_bounds,
        _more_than_100_dets,
        _ignore_field_overwritten,
        _zero_size_boxes,
        _undeclared_category,
    )
    return [build() for build in builders]


def detect_traps(
    gt: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]]
) -> tuple[str, ...]:
    """Name the traps of :data:`ALL_TRAPS` that a dataset really exercises.

    Returns
    -------
    traps : tuple of str
        In :data:`ALL_TRAPS` order.
    """
    annotations = gt["annotations"]
    images = [image["id"] for image in gt["images"]]
    declared = {category["id"] for category in gt["categories"]}
    gt_images = {a["image_id"] for a in annotations}
    det_images = {p["image_id"] for p in predictions}
    gt_classes = {a["category_id"] for a in annotations}
    det_classes = {p["category_id"] for p in predictions}
    found: set[str] = set()

    def flag(name: str, condition: bool) -> None:
        if condition:
            found.add(name)

    crowds = [a for a in annotations if a["iscrowd"]]
    flag("crowd", bool(crowds))
    flag("crowd with several detections", _crowd_absorbs_many(crowds, predictions))
    flag(
        "ignore field overwritten by iscrowd",
        any("ignore" in a and bool(a["ignore"]) != bool(a["iscrowd"]) for a in annotations),
    )
    flag("boolean iscrowd", any(isinstance(a["iscrowd"], bool) for a in annotations))
    flag("empty image", any(i not in gt_images for i in images))
    flag("image without detections", any(i not in det_images for i in images))
    flag("detections on image without GT", bool(det_images - gt_images))
    flag("class without GT", bool((declared & det_classes) - gt_classes))
    flag("class without predictions", bool((declared & gt_classes) - det_classes))
    score_counts = Counter(p["score"] for p in predictions)
    flag("score ties", any(count > 1 for count in score_counts.values()))
    areas = [a["area"] for a in annotations]
    lo_small, hi_small = COCO_AREA_RANGES["small"]
    _, hi_medium = COCO_AREA_RANGES["medium"]
    flag(
        "small, medium and large GT",
        any(x < hi_small for x in areas)
        and any(hi_small < x < hi_medium for x in areas)
        and any(x > hi_medium for x in areas),
    )
    flag(
        "GT area field differs from w*h",
        any(a["area"] != a["bbox"][2] * a["bbox"][3] for a in annotations),
    )
    bounds = {bound for rng in COCO_AREA_RANGES.values() for bound in rng if bound > lo_small}
    det_areas = [p["bbox"][2] * p["bbox"][3] for p in predictions]
    flag("area on a range bound", any(x in bounds for x in areas + det_areas))
    flag("area above 1e10", any(x > COCO_AREA_RANGES["all"][1] for x in areas + det_areas))
    per_cell = Counter((p["image_id"], p["category_id"]) for p in predictions)
    flag("more than 100 detections in an image-category", any(n > 100 for n in per_cell.values()))
    keys = Counter(
        (p["image_id"], p["category_id"], tuple(p["bbox"]), p["score"]) for p in predictions
    )
    flag("duplicate detections", any(n > 1 for n in keys.values()))
    all_boxes = [a["bbox"] for a in annotations] + [p["bbox"] for p in predictions]
    flag("zero-size box", any(b[2] == 0 or b[3] == 0 for b in all_boxes))
    flag("IoU tie between two GT", _has_iou_tie(annotations, predictions))
    flag(
        "sparse category ids",
        declared != set(range(min(declared), max(declared) + 1)) if declared else False,
    )
    flag("undeclared-category detections", bool(det_classes - declared))
    ids = Counter(a["id"] for a in annotations)
    flag("annotation id 0", 0 in ids)
    flag("duplicate annotation ids", any(n > 1 for n in ids.values()))
    flag("stray detection fields", any({"id", "area", "iscrowd"} & set(p) for p in predictions))
    flag(
        "unsorted images and annotations",
        images != sorted(images)
        or [a["image_id"] for a in annotations] != sorted(a["image_id"] for a in annotations),
    )
    return tuple(trap for trap in ALL_TRAPS if trap in found)


def _crowd_absorbs_many(
    crowds: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]
) -> bool:
    """True when some crowd GT overlaps at least two same-class detections at IoU >= 0.5."""
    for crowd in crowds:
        hits = [
            p
            for p in predictions
            if (p["image_id"], p["category_id"]) == (crowd["image_id"], crowd["category_id"])
            and bbox_iou(p["bbox"], crowd["bbox"], crowd=True) >= 0.5
        ]
        if len(hits) > 1:
            return True
    return False


def _has_iou_tie(
    annotations: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]
) -> bool:
    """True when a detection has the same IoU >= 0.5 with two GT of its image and class."""
    by_cell: dict[tuple[Any, Any], list[Mapping[str, Any]]] = defaultdict(list)
    for annotation in annotations:
        by_cell[annotation["image_id"], annotation["category_id"]].append(annotation)
    for prediction in predictions:
        gts = by_cell.get((prediction["image_id"], prediction["category_id"]), [])
        ious = [bbox_iou(prediction["bbox"], g["bbox"], bool(g["iscrowd"])) for g in gts]
        overlaps = Counter(iou for iou in ious if iou >= 0.5)
        if any(count > 1 for count in overlaps.values()):
            return True
    return False


def run_pycocotools(
    gt: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], **options: Any
) -> Scores:
    """pycocotools' bbox evaluation of a case, silenced, on deep copies of the inputs.

    pycocotools' ``loadRes`` crashes on an empty list. An empty list is run instead as
    one detection in an undeclared category, which ``COCOeval`` drops: it then scores
    nothing, exactly what an empty list means.

    Parameters
    ----------
    gt, predictions
        As for ``evaluate_coco``.
    **options
        ``evaluate_coco`` keywords: ``iou_thresholds``, ``max_dets``, ``area_ranges``,
        ``use_cats``.
    """
    unknown = set(options) - {"iou_thresholds", "max_dets", "area_ranges", "use_cats"}
    if unknown:
        raise TypeError(f"run_pycocotools: unknown options {sorted(unknown)}")
    results = copy.deepcopy(list(predictions))
    if not results:
        first_image = gt["images"][0]["id"]
        results = [_det(first_image, [0.0, 0.0, 1.0, 1.0], 1.0, UNDECLARED_CATEGORY)]
    full = run_cocoeval(gt, results, "bbox", options)
    return Scores(precision=full.precision, recall=full.recall, stats=full.stats)


@functools.cache
def all_cases() -> dict[str, CocoCase]:
    """Random and hand cases by name (built once per test session)."""
    return {case.name: case for case in random_cases() + hand_cases()}


def case_variant_ids() -> list[tuple[str, str]]:
    """The (case name, variant name) pairs the suites run.

    Every case runs with the default parameters. Each other variant runs on every hand
    case and on a third of the random cases (a different third for each variant), which
    keeps the suites fast while every variant meets every knob profile.
    """
    pairs = []
    for v_index, variant in enumerate(PARAM_VARIANTS):
        for name in all_cases():
            seed = int(name.removeprefix("random-")) if name.startswith("random-") else None
            if v_index == 0 or seed is None or seed % 3 == v_index % 3:
                pairs.append((name, variant.name))
    return pairs


def variant_options(variant_name: str) -> Mapping[str, Any]:
    """The ``evaluate_coco`` keywords of a :data:`PARAM_VARIANTS` entry."""
    for variant in PARAM_VARIANTS:
        if variant.name == variant_name:
            return variant.options
    raise KeyError(f"no parameter variant named {variant_name!r}")


@functools.cache
def pycocotools_result(case_name: str, variant_name: str) -> Scores:
    """:func:`run_pycocotools` on a named case and variant, computed once per session."""
    case = all_cases()[case_name]
    return run_pycocotools(case.gt, case.predictions, **variant_options(variant_name))


@functools.cache
def oracle_result(case_name: str, variant_name: str) -> OracleResult:
    """The oracle on a named case and variant, computed once per session."""
    case = all_cases()[case_name]
    return evaluate_coco_oracle(case.gt, case.predictions, **variant_options(variant_name))


# The area label each of the 12 stats reads.
_STAT_AREA_LABELS: tuple[str, ...] = (
    *("all", "all", "all", "small", "medium", "large"),
    *("all", "all", "all", "small", "medium", "large"),
)


def expected_without_detections(
    gt: Mapping[str, Any], **options: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and stats when nothing is detected, derived by hand.

    A (category, area range) cell with at least one non-crowd GT inside the range has
    recall 0 and precision 0 at every recall point; any other cell is -1. A stat is 0
    when some cell it averages is defined, else -1. Assumes unique annotation ids and
    GT on declared images and categories only.

    Returns
    -------
    precision : ndarray of shape (T, 101, K, A, M), dtype float64
    recall : ndarray of shape (T, K, A, M), dtype float64
    stats : ndarray of shape (12,), dtype float64
        Only meaningful for the default ``max_dets`` (all stats then read the same cells).
    """
    params = make_params(**options)
    category_ids = sorted(c["id"] for c in gt["categories"]) if params.use_cats else [-1]
    positive = np.zeros((len(category_ids), len(params.area_ranges)), dtype=bool)
    for k_index, category_id in enumerate(category_ids):
        for a_index, (lo, hi) in enumerate(params.area_ranges):
            positive[k_index, a_index] = any(
                not a["iscrowd"]
                and lo <= a["area"] <= hi
                and (category_id in (-1, a["category_id"]))
                for a in gt["annotations"]
            )
    cell = np.where(positive, 0.0, -1.0)  # (K, A)
    t_count, m_count = len(params.iou_thresholds), len(params.max_dets)
    recall = np.broadcast_to(cell[None, :, :, None], (t_count, *cell.shape, m_count))
    precision = np.broadcast_to(recall[:, None], (t_count, 101, *cell.shape, m_count))
    defined = {
        label: bool(positive[:, a_index].any()) for a_index, label in enumerate(params.area_labels)
    }
    stats = np.array([0.0 if defined.get(label) else -1.0 for label in _STAT_AREA_LABELS])
    return precision.copy(), recall.copy(), stats
