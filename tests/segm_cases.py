"""COCO segm test cases: seeded random datasets and pycocotools' answer for them.

:func:`random_segm_case` builds a ground truth (polygons, compressed and uncompressed
RLE, crowd RLE) and mask results (compressed RLE, with or without ``bbox``) with every
trap a knob of :class:`SegmKnobs` asks for; :func:`run_pycocotools_segm` runs
pycocotools' ``COCOeval(..., "segm")`` on a case; :func:`traps_in` reads a case and names
the traps it really exercises.
"""

from __future__ import annotations

import copy
import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from coco_cases import UNDECLARED_CATEGORY
from cocoeval_reference import FullScores, run_cocoeval
from pycocotools import mask as mask_utils

Doc = dict[str, Any]


@dataclass(frozen=True)
class SegmKnobs:
    """What :func:`random_segm_case` puts in a dataset. Rates are per object.

    Attributes
    ----------
    n_images : int
    category_ids : tuple of int
        Categories with ground truth and results.
    fp_only_category, gt_only_category : int or None
        Declared categories with results only / ground truth only.
    max_gt_per_image : int
    empty_image_rate : float
        Images without ground truth (they may still get background results).
    no_result_image_rate : float
        Images without results.
    thin_image_rate : float
        Images 1 pixel high.
    rle_rate, compressed_rate : float
        Non-crowd ground truth given as RLE (else polygons); of those, compressed.
    multi_polygon_rate, self_intersect_rate, border_rate, outside_rate : float
        Polygon objects made of several polygons; polygons drawn in a random point order
        (self-intersecting); with points clamped onto the image border; with points (or a
        whole extra polygon) outside the image.
    crowd_rate : float
        Crowd ground truth, an RLE (uncompressed as COCO writes it, or compressed).
    bool_iscrowd_rate, ignore_field_rate : float
    box_area_rate, boundary_area_rate : float
        Ground truth whose ``area`` is its box's w*h rather than its mask's; whose
        ``area`` is 32**2, 96**2 or 1e10 (range bounds), 2e10 (above every range) or 0.
        Also background results of exactly 32 x 32 pixels, and result boxes of 32 x 32,
        96 x 96 or zero height.
    dets_per_gt : tuple of int
        Jittered results per ground truth, drawn from this tuple.
    background_dets : int
        Up to this many random-blob results per image.
    empty_mask_rate : float
        Results whose mask is empty.
    wrong_class_rate, undeclared_class_rate, duplicate_rate, stray_fields_rate : float
    score_decimals : int or None
        Scores rounded to this many decimals (ties); None keeps full floats.
    crowded_dets : int
        If > 0, one image gets this many extra results in one category (maxDets cut).
    iou_tie_rate : float
        Per image, the chance of two rectangle ground truths 2 px apart and a result
        halfway: the same mask IoU with both.
    result_bbox : bool
        Every result has a ``bbox`` (its mask's box, often padded): ``loadRes`` then
        takes every result's area from the bbox's w*h, not from the mask.
    id_zero : bool
    duplicate_ids : int
    shuffle : bool
    """

    n_images: int = 5
    category_ids: tuple[int, ...] = (1, 5)
    fp_only_category: int | None = 7
    gt_only_category: int | None = 42
    max_gt_per_image: int = 5
    empty_image_rate: float = 0.15
    no_result_image_rate: float = 0.1
    thin_image_rate: float = 0.1
    rle_rate: float = 0.3
    compressed_rate: float = 0.5
    multi_polygon_rate: float = 0.3
    self_intersect_rate: float = 0.2
    border_rate: float = 0.2
    outside_rate: float = 0.15
    crowd_rate: float = 0.08
    bool_iscrowd_rate: float = 0.1
    ignore_field_rate: float = 0.08
    box_area_rate: float = 0.1
    boundary_area_rate: float = 0.05
    dets_per_gt: tuple[int, ...] = (0, 1, 1, 2)
    background_dets: int = 2
    empty_mask_rate: float = 0.05
    wrong_class_rate: float = 0.08
    undeclared_class_rate: float = 0.04
    duplicate_rate: float = 0.04
    stray_fields_rate: float = 0.04
    score_decimals: int | None = 2
    crowded_dets: int = 0
    iou_tie_rate: float = 0.2
    result_bbox: bool = False
    id_zero: bool = False
    duplicate_ids: int = 0
    shuffle: bool = True


def random_segm_case(seed: int, **knobs: Any) -> tuple[Doc, list[Doc]]:
    """A random COCO segm ground truth and results, reproducible from ``seed``.

    Parameters
    ----------
    seed : int
    **knobs
        Fields of :class:`SegmKnobs` to change.

    Returns
    -------
    gt : dict
        COCO ground truth; images have ``height`` and ``width``, annotations a
        ``segmentation`` (polygons or RLE), ``area``, ``bbox`` and ``iscrowd``.
    results : list of dict
        ``image_id``, ``category_id``, ``segmentation`` (compressed RLE, counts a str),
        ``score``, and ``bbox`` when ``result_bbox``.
    """
    unknown = set(knobs) - {f.name for f in fields(SegmKnobs)}
    if unknown:
        raise TypeError(f"random_segm_case: unknown knobs {sorted(unknown)}")
    return _Generator(random.Random(seed), SegmKnobs(**knobs)).build()


def compressed(mask: np.ndarray) -> Doc:
    """A 2-D 0/1 mask as COCO's compressed RLE, its counts a str (as JSON holds it)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> Doc:
    """A 2-D 0/1 mask as COCO's uncompressed RLE: run lengths, column-major, 0s first."""
    flat = mask.astype(np.uint8).ravel(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


def mask_of(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The (height, width) uint8 mask pycocotools' ``annToRLE`` reads from a segmentation."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return np.asarray(mask_utils.decode(rle), dtype=np.uint8)


class _Generator:
    """Builds one random segm case; one method per kind of object."""

    def __init__(self, rng: random.Random, knobs: SegmKnobs) -> None:
        self.rng = rng
        self.knobs = knobs
        self.sizes: dict[int, tuple[int, int]] = {}
        self.annotations: list[Doc] = []
        self.results: list[Doc] = []

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def score(self) -> float:
        value = self.rng.random()
        decimals = self.knobs.score_decimals
        return value if decimals is None else round(value, decimals)

    # Shapes ------------------------------------------------------------------------

    def polygon(self, h: int, w: int) -> list[float]:
        """A star-shaped polygon of 3 to 9 points somewhere on a h x w image."""
        rng = self.rng
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        radius = math.exp(rng.uniform(math.log(1.5), math.log(max(2.0, 0.6 * max(h, w)))))
        n = rng.randint(3, 9)
        angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(n))
        points = [
            (cx + radius * rng.uniform(0.3, 1.0) * math.cos(a),
             cy + radius * rng.uniform(0.3, 1.0) * math.sin(a))
            for a in angles
        ]  # fmt: skip
        if self.chance(self.knobs.self_intersect_rate):
            rng.shuffle(points)
        if self.chance(self.knobs.border_rate):
            points = [(min(max(x, 0.0), w), min(max(y, 0.0), h)) for x, y in points]
        if self.chance(self.knobs.outside_rate):
            k = rng.randrange(n)
            points[k] = (points[k][0] + rng.choice((-1, 1)) * 2 * w, points[k][1] - h)
        integer = self.chance(0.3)
        flat: list[float] = []
        for x, y in points:
            flat += [float(round(x)), float(round(y))] if integer else [round(x, 2), round(y, 2)]
        return flat

    def polygons(self, h: int, w: int) -> list[list[float]]:
        parts = [self.polygon(h, w)]
        if self.chance(self.knobs.multi_polygon_rate):
            parts += [self.polygon(h, w) for _ in range(self.rng.randint(1, 2))]
        if self.chance(self.knobs.outside_rate / 2):
            parts.append([w + 5.0, -3.0, w + 20.0, -3.0, w + 12.0, -10.0])  # wholly outside
        return parts

    def blob(self, h: int, w: int) -> np.ndarray:
        """A filled ellipse (or, sometimes, an exact 32 x 32 square)."""
        rng = self.rng
        mask = np.zeros((h, w), dtype=np.uint8)
        if h >= 32 and w >= 32 and self.chance(self.knobs.boundary_area_rate):
            y, x = rng.randint(0, h - 32), rng.randint(0, w - 32)
            mask[y : y + 32, x : x + 32] = 1
            return mask
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.5, max(1.0, h / 2)), rng.uniform(0.5, max(1.0, w / 2))
        yy, xx = np.mgrid[0:h, 0:w]
        mask[((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2 <= 1] = 1
        return mask

    def jitter(self, mask: np.ndarray) -> np.ndarray:
        """A mask moved by a few pixels, sometimes grown or shrunk by one pixel."""
        rng = self.rng
        spread = rng.choice((0, 0, 1, 2, 4))
        dy, dx = rng.randint(-spread, spread), rng.randint(-spread, spread)
        h, w = mask.shape
        out = np.zeros_like(mask)
        ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
        yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
        out[ys, xs] = mask[yd, xd]
        grow = rng.choice((0, 0, 1, -1))
        if grow:
            padded = np.pad(out, 1)
            near = [padded[1 + a : 1 + a + h, 1 + b : 1 + b + w] for a, b in _NEIGHBOURS]
            out = (np.maximum.reduce(near) if grow > 0 else np.minimum.reduce(near)).astype(
                np.uint8
            )
        return out

    # Objects -----------------------------------------------------------------------

    def add_gt(self, image_id: int, category_id: int) -> tuple[Doc, np.ndarray]:
        """A ground truth annotation and its mask (for results to jitter)."""
        knobs = self.knobs
        h, w = self.sizes[image_id]
        crowd = self.chance(knobs.crowd_rate)
        if crowd or self.chance(knobs.rle_rate):
            mask = self.blob(h, w)
            if self.chance(0.3):
                mask = np.maximum(mask, self.blob(h, w))
            as_compressed = self.chance(knobs.compressed_rate)
            segmentation: Any = compressed(mask) if as_compressed else uncompressed(mask)
        else:
            segmentation = self.polygons(h, w)
            mask = mask_of(segmentation, h, w)
        return self.add_annotation(image_id, category_id, segmentation, mask, crowd), mask

    def add_annotation(
        self, image_id: int, category_id: int, segmentation: Any, mask: np.ndarray, crowd: bool
    ) -> Doc:
        knobs, rng = self.knobs, self.rng
        box = [float(v) for v in mask_utils.toBbox(compressed(mask))]
        area: float = float(mask.sum())
        if self.chance(knobs.box_area_rate):
            area = box[2] * box[3]
        if self.chance(knobs.boundary_area_rate):
            area = rng.choice((32**2, 96**2, float(32**2), 1e5**2, 2e10, 0.0))
        annotation: Doc = {
            "id": 0,  # numbered in build()
            "image_id": image_id,
            "category_id": category_id,
            "segmentation": segmentation,
            "area": area,
            "bbox": box,
            "iscrowd": crowd if self.chance(knobs.bool_iscrowd_rate) else int(crowd),
        }
        if self.chance(knobs.ignore_field_rate):
            annotation["ignore"] = int(not crowd)
        self.annotations.append(annotation)
        return annotation

    def add_result(self, image_id: int, category_id: int, mask: np.ndarray) -> None:
        knobs, rng = self.knobs, self.rng
        if self.chance(knobs.empty_mask_rate):
            mask = np.zeros_like(mask)
        result: Doc = {
            "image_id": image_id,
            "category_id": category_id,
            "segmentation": compressed(mask),
            "score": self.score(),
        }
        if knobs.result_bbox:
            x, y, bw, bh = (float(v) for v in mask_utils.toBbox(result["segmentation"]))
            pad = rng.choice((0.0, 0.0, 1.0, 2.5))
            box = [x - pad, y - pad, bw + 2 * pad, bh + 2 * pad]
            if self.chance(knobs.boundary_area_rate):
                box[2:] = rng.choice(([32.0, 32.0], [96.0, 96.0], [box[2], 0.0]))
            result["bbox"] = box
        if self.chance(knobs.stray_fields_rate):
            result.update(id=0, area=1.0, iscrowd=1)
        self.results.append(result)
        if self.chance(knobs.duplicate_rate):
            self.results.append(copy.deepcopy(result))

    def result_category(self, truth: int, categories: Sequence[int]) -> int:
        if self.chance(self.knobs.undeclared_class_rate):
            return UNDECLARED_CATEGORY
        if truth not in categories or self.chance(self.knobs.wrong_class_rate):
            return self.rng.choice(categories)
        return truth

    def add_iou_tie(self, image_id: int, category_id: int) -> None:
        """Two rectangles 2 px apart and a result halfway: equal mask IoU with both."""
        h, w = self.sizes[image_id]
        if h < 4 or w < 12:
            return
        rng = self.rng
        rw, rh = rng.randint(4, w - 4), rng.randint(2, h)
        x, y = rng.randint(0, w - rw - 2), rng.randint(0, h - rh)
        for shift in (0, 2):
            mask = np.zeros((h, w), dtype=np.uint8)
            mask[y : y + rh, x + shift : x + shift + rw] = 1
            self.add_annotation(image_id, category_id, compressed(mask), mask, False)
        mask = np.zeros((h, w), dtype=np.uint8)
        mask[y : y + rh, x + 1 : x + 1 + rw] = 1
        self.results.append(
            {
                "image_id": image_id,
                "category_id": category_id,
                "segmentation": compressed(mask),
                "score": self.score(),
                **({"bbox": [float(x + 1), float(y), float(rw), float(rh)]}
                   if self.knobs.result_bbox else {}),
            }
        )  # fmt: skip

    def image_size(self) -> tuple[int, int]:
        rng = self.rng
        if self.chance(self.knobs.thin_image_rate):
            return 1, rng.randint(5, 60)
        return rng.randint(8, 120), rng.randint(8, 160)

    def build(self) -> tuple[Doc, list[Doc]]:
        knobs, rng = self.knobs, self.rng
        image_ids = rng.sample(range(1, 100 * knobs.n_images + 1), knobs.n_images)
        self.sizes = {i: self.image_size() for i in image_ids}
        gt_categories = list(knobs.category_ids)
        det_categories = list(knobs.category_ids)
        if knobs.gt_only_category is not None:
            gt_categories.append(knobs.gt_only_category)
        if knobs.fp_only_category is not None:
            det_categories.append(knobs.fp_only_category)
        for image_id in image_ids:
            h, w = self.sizes[image_id]
            with_results = not self.chance(knobs.no_result_image_rate)
            if not self.chance(knobs.empty_image_rate):
                for _ in range(rng.randint(1, knobs.max_gt_per_image)):
                    annotation, mask = self.add_gt(image_id, rng.choice(gt_categories))
                    for _ in range(rng.choice(knobs.dets_per_gt) if with_results else 0):
                        category = self.result_category(annotation["category_id"], det_categories)
                        self.add_result(image_id, category, self.jitter(mask))
                if with_results and self.chance(knobs.iou_tie_rate):
                    self.add_iou_tie(image_id, rng.choice(knobs.category_ids))
            for _ in range(rng.randint(0, knobs.background_dets) if with_results else 0):
                category = self.result_category(rng.choice(det_categories), det_categories)
                self.add_result(image_id, category, self.blob(h, w))
        if knobs.crowded_dets:
            self.add_crowded_image(rng.choice(image_ids), knobs.category_ids[0])
        self.number_annotations()
        categories = [
            {"id": c, "name": f"class-{c}"}
            for c in sorted(set(gt_categories) | set(det_categories))
        ]
        images = [{"id": i, "height": h, "width": w} for i, (h, w) in self.sizes.items()]
        if knobs.shuffle:
            for items in (images, categories, self.annotations, self.results):
                rng.shuffle(items)
        gt = {"images": images, "categories": categories, "annotations": self.annotations}
        return gt, self.results

    def add_crowded_image(self, image_id: int, category_id: int) -> None:
        """More results than maxDets on one image and category, around two ground truths."""
        targets = [self.add_gt(image_id, category_id)[1] for _ in range(2)]
        for index in range(self.knobs.crowded_dets):
            self.add_result(image_id, category_id, self.jitter(targets[index % 2]))

    def number_annotations(self) -> None:
        knobs, rng = self.knobs, self.rng
        count = len(self.annotations)
        ids = rng.sample(range(1, 10 * count + 2), count)
        for annotation, annotation_id in zip(self.annotations, ids, strict=True):
            annotation["id"] = annotation_id
        counted = [a for a in self.annotations if not a["iscrowd"]]
        if knobs.id_zero and counted:
            rng.choice(counted)["id"] = 0
        for _ in range(knobs.duplicate_ids if count > 1 else 0):
            source, target = rng.sample(self.annotations, 2)
            target["id"] = source["id"]


_NEIGHBOURS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))

SEGM_TRAPS: tuple[str, ...] = (
    "polygon ground truth",
    "several polygons in one object",
    "self-intersecting polygon",
    "polygon on the image border",
    "polygon points outside the image",
    "uncompressed RLE ground truth",
    "compressed RLE ground truth",
    "crowd RLE ground truth",
    "crowd with several results",
    "boolean iscrowd",
    "ignore field",
    "GT area field differs from the mask's",
    "area on a range bound",
    "GT area above 1e10",
    "GT area 0",
    "result bbox of area 0",
    "1-pixel-high image",
    "empty result mask",
    "results with bbox",
    "results without bbox",
    "result bbox area differs from the mask's",
    "IoU tie between two GT",
    "annotation id 0",
    "duplicate annotation ids",
    "score ties",
    "duplicate results",
    "stray result fields",
    "more than 100 results in an image-category",
    "results on an image without GT",
    "image without results",
    "undeclared-category results",
    "class without GT",
    "class without results",
    "unsorted images and annotations",
)
"""Every trap :func:`traps_in` can report."""


def _polygon_traps(annotation: Doc, h: int, w: int) -> set[str]:
    found = {"polygon ground truth"}
    parts = annotation["segmentation"]
    if len(parts) > 1:
        found.add("several polygons in one object")
    for poly in parts:
        xs, ys = poly[0::2], poly[1::2]
        if any(x in (0, w) for x in xs) or any(y in (0, h) for y in ys):
            found.add("polygon on the image border")
        if any(not 0 <= x <= w for x in xs) or any(not 0 <= y <= h for y in ys):
            found.add("polygon points outside the image")
        if _self_intersecting(list(zip(xs, ys, strict=True))):
            found.add("self-intersecting polygon")
    return found


def _self_intersecting(points: list[tuple[float, float]]) -> bool:
    """Whether two non-adjacent edges of a closed polygon cross properly."""

    def side(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            (p1, p2), (q1, q2) = edges[i], edges[j]
            if side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0:
                return True
    return False


def _ious(results: Sequence[Doc], gts: Sequence[Doc], sizes: Mapping[Any, tuple[int, int]]) -> Any:
    h, w = sizes[gts[0]["image_id"]]
    d = [r["segmentation"] for r in results]
    g = [mask_utils.encode(np.asfortranarray(mask_of(a["segmentation"], h, w))) for a in gts]
    return mask_utils.iou(d, g, [int(a["iscrowd"]) for a in gts])


def traps_in(gt: Doc, results: Sequence[Doc]) -> set[str]:
    """The segm traps a case exercises, read from its data."""
    annotations = gt["annotations"]
    sizes = {i["id"]: (i["height"], i["width"]) for i in gt["images"]}
    declared = {c["id"] for c in gt["categories"]}
    gt_images = {a["image_id"] for a in annotations}
    result_images = {r["image_id"] for r in results}
    gt_classes = {a["category_id"] for a in annotations}
    result_classes = {r["category_id"] for r in results}
    cells: dict[tuple[Any, Any], list[Doc]] = defaultdict(list)
    for r in results:
        cells[r["image_id"], r["category_id"]].append(r)
    gt_cells: dict[tuple[Any, Any], list[Doc]] = defaultdict(list)
    for a in annotations:
        gt_cells[a["image_id"], a["category_id"]].append(a)
    found: set[str] = set()

    for a in annotations:
        h, w = sizes[a["image_id"]]
        segmentation = a["segmentation"]
        if isinstance(segmentation, list):
            found |= _polygon_traps(a, h, w)
        elif isinstance(segmentation["counts"], list):
            found.add("uncompressed RLE ground truth")
        else:
            found.add("compressed RLE ground truth")
        if a["iscrowd"] and not isinstance(segmentation, list):
            found.add("crowd RLE ground truth")
        if isinstance(a["iscrowd"], bool):
            found.add("boolean iscrowd")
        if "ignore" in a:
            found.add("ignore field")
        if a["area"] != int(mask_of(segmentation, h, w).sum()):
            found.add("GT area field differs from the mask's")
    with_bbox = bool(results) and "bbox" in results[0]
    result_areas = [
        r["bbox"][2] * r["bbox"][3] if with_bbox else float(mask_utils.area(r["segmentation"]))
        for r in results
    ]
    if any(x in (32**2, 96**2, 1e10) for x in [a["area"] for a in annotations] + result_areas):
        found.add("area on a range bound")
    if any(a["area"] > 1e10 for a in annotations):
        found.add("GT area above 1e10")
    if any(a["area"] == 0 for a in annotations):
        found.add("GT area 0")
    if with_bbox and 0 in result_areas:
        found.add("result bbox of area 0")
    if any(h == 1 for h, _ in sizes.values()):
        found.add("1-pixel-high image")
    if any(mask_utils.area(r["segmentation"]) == 0 for r in results):
        found.add("empty result mask")
    found.add("results with bbox" if with_bbox else "results without bbox")
    if with_bbox and any(
        r["bbox"][2] * r["bbox"][3] != mask_utils.area(r["segmentation"]) for r in results
    ):
        found.add("result bbox area differs from the mask's")
    for cell, rs in cells.items():
        gts = gt_cells.get(cell, [])
        if not gts:
            continue
        ious = np.asarray(_ious(rs, gts, sizes))  # (len(rs), len(gts))
        crowd = np.array([bool(a["iscrowd"]) for a in gts])
        if crowd.any() and ((ious[:, crowd] >= 0.5).sum(axis=0) > 1).any():
            found.add("crowd with several results")
        for row in ious:
            counts = Counter(v for v in row.tolist() if v >= 0.5)
            if any(n > 1 for n in counts.values()):
                found.add("IoU tie between two GT")
    ids = Counter(a["id"] for a in annotations)
    if 0 in ids:
        found.add("annotation id 0")
    if any(n > 1 for n in ids.values()):
        found.add("duplicate annotation ids")
    if any(len({r["score"] for r in rs}) < len(rs) for rs in cells.values()):
        found.add("score ties")
    keys = Counter(
        (r["image_id"], r["category_id"], r["segmentation"]["counts"], r["score"]) for r in results
    )
    if any(n > 1 for n in keys.values()):
        found.add("duplicate results")
    if any({"id", "area", "iscrowd"} & set(r) for r in results):
        found.add("stray result fields")
    if any(len(rs) > 100 for rs in cells.values()):
        found.add("more than 100 results in an image-category")
    if result_images - gt_images:
        found.add("results on an image without GT")
    if set(sizes) - result_images:
        found.add("image without results")
    if result_classes - declared:
        found.add("undeclared-category results")
    if (declared & result_classes) - gt_classes:
        found.add("class without GT")
    if (declared & gt_classes) - result_classes:
        found.add("class without results")
    image_order = [i["id"] for i in gt["images"]]
    ann_order = [a["image_id"] for a in annotations]
    if image_order != sorted(image_order) or ann_order != sorted(ann_order):
        found.add("unsorted images and annotations")
    assert found <= set(SEGM_TRAPS), found - set(SEGM_TRAPS)
    return found


def run_pycocotools_segm(
    gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], **options: Any
) -> FullScores:
    """pycocotools' segm evaluation of a case, silenced, on deep copies of the inputs.

    An empty results list (``loadRes`` crashes on it) is run as one empty mask in an
    undeclared category, which ``COCOeval`` drops when ``use_cats`` is on.

    Parameters
    ----------
    gt, results
        As for ``evaluate_coco``.
    **options
        ``evaluate_coco`` keywords: ``iou_thresholds``, ``recall_thresholds``,
        ``max_dets``, ``area_ranges``, ``use_cats``.
    """
    dets = copy.deepcopy(list(results))
    if not dets:
        image = gt["images"][0]
        empty = np.zeros((image["height"], image["width"]), dtype=np.uint8)
        dets = [
            {
                "image_id": image["id"],
                "category_id": UNDECLARED_CATEGORY,
                "segmentation": compressed(empty),
                "score": 1.0,
            }
        ]
    return run_cocoeval(gt, dets, "segm", options)
