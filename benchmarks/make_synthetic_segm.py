"""Generate a seeded synthetic COCO instance-segmentation set the size of COCO val2017.

The ground truth is the box generator's (``make_synthetic_coco.py``: 5,000 images,
about 36k objects, 80 categories, about 1% crowd regions) with an outline inside each
box: polygons as COCO stores them (1-3 per object, 8-40 vertices each, coordinates
with 2 decimals, ``area`` the polygons' area, ``bbox`` their extent), and crowd
regions as RLE with uncompressed counts, as COCO's crowd annotations are. The results
mimic a Mask R-CNN result file as detectron2 writes it: a fixed number per image, each
a compressed RLE mask with a ``score`` and the detector's ``bbox`` (``--no-bbox`` leaves
the boxes out). They are the box generator's detections (jittered true positives,
duplicates, wrong-class copies, individuals inside crowd regions, background) with a
mask: the outline of the object they come from, moved into the detection's box with
some noise on every vertex; background detections get an outline of their own.

Masks are encoded with ``evaluator.masks.RunLengths`` (bit for bit
``pycocotools.mask``'s encoding).

Run from the repository root::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/make_synthetic_segm.py --out benchmarks/out/segm

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
    SMALL_AREA,
    Boxes,
    SyntheticConfig,
    category_table,
    make_ground_truth,
    make_images,
    make_predictions,
    write_json_pair,
)

from evaluator.masks import RunLengths

# Bump when a change to this file changes its output, so cached sets are not reused.
GENERATOR_VERSION = 1

PARTS = np.array([1, 2, 3])  # polygons per object, and how often each count
PARTS_P = np.array([0.75, 0.18, 0.07])
PART_GAP = 0.03  # space between the parts of one object, a fraction of its box
MIN_VERTICES, MAX_VERTICES = 8, 40
# Outlines are star-shaped "squircles": exponent 1 is an ellipse, lower is boxier.
SQUIRCLE_EXPONENT = 0.6
RADIUS_RANGE = (0.65, 1.0)  # each vertex's distance from the centre, of the half extent
VERTEX_NOISE = 0.03  # a result's vertex jitter, a fraction of its box's size
CHUNK_IMAGES = 500  # results are made this many images at a time (bounded memory)


@dataclass(frozen=True)
class SegmConfig:
    """Size and seed of a synthetic segm set.

    Parameters
    ----------
    images : int
        Number of images.
    classes : int
        Number of categories; the first 80 take COCO's ids and names.
    dets_per_image : int
        Results written for every image (the top-scoring ones are kept).
    gt_per_image : float
        Mean number of ground-truth objects per image.
    crowd_fraction : float
        Fraction of ground-truth objects that are crowd regions (``iscrowd=1``).
    result_bbox : bool
        Whether each result carries the detector's ``bbox`` (as detectron2 writes
        them). pycocotools' ``loadRes`` then takes a result's area from its box, not
        from its mask.
    seed : int
        Seed of the NumPy generator; the same config gives the same files.
    """

    generator: ClassVar[str] = "make_synthetic_segm"  # the module that writes the set

    images: int = 5000
    classes: int = 80
    dets_per_image: int = 100
    gt_per_image: float = 7.3
    crowd_fraction: float = 0.01
    result_bbox: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        self.boxes()  # the box generator's checks

    def boxes(self) -> SyntheticConfig:
        """The box generator's config with the same sizes (it places the objects)."""
        return SyntheticConfig(
            images=self.images,
            classes=self.classes,
            dets_per_image=self.dets_per_image,
            gt_per_image=self.gt_per_image,
            crowd_fraction=self.crowd_fraction,
            seed=self.seed,
        )

    def cache_name(self) -> str:
        """Directory name of the cached set: the generator's version and the options."""
        name = f"segm-v{GENERATOR_VERSION}-i{self.images}-c{self.classes}"
        name += f"-d{self.dets_per_image}-s{self.seed}"
        return name if self.result_bbox else name + "-nobbox"

    def argv(self) -> list[str]:
        """The command-line options of :func:`main` that give this config."""
        return [
            *("--images", str(self.images), "--classes", str(self.classes)),
            *("--dets-per-image", str(self.dets_per_image)),
            *("--gt-per-image", str(self.gt_per_image)),
            *("--crowd-fraction", str(self.crowd_fraction), "--seed", str(self.seed)),
            *(() if self.result_bbox else ("--no-bbox",)),
        ]


@dataclass(frozen=True)
class Outlines:
    """Polygons of objects in flat columns, in coordinates relative to each object's box.

    Attributes
    ----------
    xy : ndarray of shape (v, 2), dtype float64
        Every vertex, ``[0, 0]`` the box's top-left corner and ``[1, 1]`` its
        bottom-right one; the polygons of a part and the parts of an object are
        contiguous.
    part_start : ndarray of shape (p + 1,), dtype int64
        Part ``j``'s vertices are ``xy[part_start[j]:part_start[j + 1]]``.
    object_start : ndarray of shape (n + 1,), dtype int64
        Object ``i``'s parts are ``object_start[i]`` to ``object_start[i + 1] - 1``.
    """

    xy: np.ndarray
    part_start: np.ndarray
    object_start: np.ndarray


def _starts(counts: np.ndarray) -> np.ndarray:
    """``[0, c0, c0 + c1, ...]``: where each group of ``counts`` starts, and the total."""
    return np.concatenate([np.zeros(1, counts.dtype), np.cumsum(counts)])


def _ranks(counts: np.ndarray) -> np.ndarray:
    """``0, 1, ..., c - 1`` for each ``c`` of ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(_starts(counts)[:-1], counts)


def make_outlines(rng: np.random.Generator, xywh: np.ndarray) -> Outlines:
    """An outline for each box: 1-3 star-shaped polygons that together span the box.

    The parts of an object are slices of its box along its longer side with a small gap
    between them (an object cut by an occluder); each part's polygon touches its slice's
    four sides, so the object's polygons span exactly its box. A part has more vertices
    the larger it is (8 for a small one, up to 40).

    Parameters
    ----------
    xywh : ndarray of shape (n, 4), dtype float64
        The boxes in pixels (their size sets the vertex counts).
    """
    n = xywh.shape[0]
    parts = rng.choice(PARTS, size=n, p=PARTS_P)
    owner = np.repeat(np.arange(n), parts)  # (p,)
    # Each part's slice [lo, hi] of its object's box along the longer side.
    weight = rng.uniform(0.5, 1.5, owner.shape[0])
    total = np.bincount(owner, weight, minlength=n)  # (n,)
    hi = (np.cumsum(weight) - np.repeat(_starts(total)[:-1], parts)) / total[owner]
    lo = hi - weight / total[owner]
    lo = np.where(_ranks(parts) > 0, lo + PART_GAP, 0.0)
    hi = np.where(_ranks(parts) < parts[owner] - 1, hi - PART_GAP, 1.0)
    along_x = xywh[owner, 2] >= xywh[owner, 3]  # (p,)
    rect = np.where(
        along_x[:, None],
        np.stack([lo, np.zeros_like(lo), hi, np.ones_like(lo)], axis=1),
        np.stack([np.zeros_like(lo), lo, np.ones_like(lo), hi], axis=1),
    )  # (p, 4): x0, y0, x1, y1 in the object's box

    side = np.sqrt(xywh[owner, 2] * xywh[owner, 3] * (hi - lo))  # (p,) pixels
    vertices = 8 + 6 * np.log2(np.maximum(side, 8.0) / 8.0) + rng.integers(-3, 4, side.shape)
    vertices = np.clip(np.round(vertices), MIN_VERTICES, MAX_VERTICES).astype(np.int64)
    part = np.repeat(np.arange(owner.shape[0]), vertices)  # (v,)
    step = (_ranks(vertices) + rng.uniform(-0.3, 0.3, part.shape)) / vertices[part]
    angle = 2 * np.pi * step + rng.uniform(0, 2 * np.pi, owner.shape[0])[part]
    radius = rng.uniform(*RADIUS_RANGE, part.shape)
    unit = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (v, 2)
    xy = radius[:, None] * np.sign(unit) * np.abs(unit) ** SQUIRCLE_EXPONENT  # around 0, 0
    # Stretch each polygon onto its slice: its extremes on the slice's sides.
    start = _starts(vertices)
    low = np.minimum.reduceat(xy, start[:-1], axis=0)  # (p, 2)
    high = np.maximum.reduceat(xy, start[:-1], axis=0)
    xy = (xy - low[part]) / (high - low)[part]
    xy = rect[part, :2] + xy * (rect[part, 2:] - rect[part, :2])
    return Outlines(xy=xy, part_start=start, object_start=_starts(parts))


def join(first: Outlines, second: Outlines) -> Outlines:
    """The objects of ``first``, then those of ``second``."""
    parts = first.part_start.shape[0] - 1
    return Outlines(
        xy=np.concatenate([first.xy, second.xy]),
        part_start=np.concatenate([first.part_start[:-1], second.part_start + len(first.xy)]),
        object_start=np.concatenate([first.object_start[:-1], second.object_start + parts]),
    )


@dataclass(frozen=True)
class Placed:
    """Outlines drawn into boxes, as COCO polygons.

    Attributes
    ----------
    polygons : list of m lists of flat ``[x0, y0, x1, y1, ...]`` lists
        Each instance's polygons, coordinates rounded to 2 decimals.
    area : ndarray of shape (m,), dtype float64
        Each instance's polygons' area (shoelace formula on the rounded coordinates),
        summed over its polygons.
    extent : ndarray of shape (m, 4), dtype float64
        ``[x0, y0, x1, y1]`` of each instance's vertices.
    """

    polygons: list[list[list[float]]]
    area: np.ndarray
    extent: np.ndarray


def place(
    rng: np.random.Generator,
    outlines: Outlines,
    source: np.ndarray,
    xywh: np.ndarray,
    sizes: np.ndarray,
    noise: float,
) -> Placed:
    """The outlines of ``source`` objects stretched onto boxes, each vertex jittered.

    Parameters
    ----------
    source : ndarray of shape (m,), dtype int64
        Which outline each instance takes (an object of ``outlines``).
    xywh : ndarray of shape (m, 4), dtype float64
        The box each outline is stretched onto, in pixels.
    sizes : ndarray of shape (m, 2), dtype float64
        ``[width, height]`` of each instance's image; vertices are kept inside it.
    noise : float
        Standard deviation of each vertex's move, a fraction of its box's size.
    """
    m = source.shape[0]
    parts = outlines.object_start[source + 1] - outlines.object_start[source]  # (m,)
    part = np.repeat(outlines.object_start[source], parts) + _ranks(parts)  # (q,)
    vertices = outlines.part_start[part + 1] - outlines.part_start[part]  # (q,)
    vertex = np.repeat(outlines.part_start[part], vertices) + _ranks(vertices)  # (u,)
    instance = np.repeat(np.repeat(np.arange(m), parts), vertices)  # (u,)
    rel = outlines.xy[vertex]
    if noise > 0.0:
        rel = rel + rng.normal(0.0, noise, rel.shape)
    xy = xywh[instance, :2] + rel * xywh[instance, 2:]  # (u, 2) pixels
    xy = np.round(np.clip(xy, 0.0, sizes[instance]), 2)

    start = _starts(vertices)  # (q + 1,)
    after = np.arange(1, xy.shape[0] + 1)
    after[start[1:] - 1] = start[:-1]  # each polygon's last vertex closes on its first
    cross = xy[:, 0] * xy[after, 1] - xy[after, 0] * xy[:, 1]  # (u,)
    part_area = 0.5 * np.abs(np.add.reduceat(cross, start[:-1]))  # (q,)
    area = np.bincount(np.repeat(np.arange(m), parts), part_area, minlength=m)
    first = start[_starts(parts)[:-1]]  # (m,) each instance's first vertex
    extent = np.concatenate(
        [np.minimum.reduceat(xy, first, axis=0), np.maximum.reduceat(xy, first, axis=0)], axis=1
    )  # (m, 4)

    flat = xy.reshape(-1).tolist()
    bounds = start.tolist()
    polygons = [flat[2 * a : 2 * b] for a, b in zip(bounds[:-1], bounds[1:])]
    groups = _starts(parts).tolist()
    per_instance = [polygons[a:b] for a, b in zip(groups[:-1], groups[1:])]
    return Placed(polygons=per_instance, area=area, extent=extent)


def rle_masks(polygons: list[list[list[float]]], sizes: np.ndarray) -> RunLengths:
    """The masks of COCO polygons, rasterised and merged as pycocotools' ``annToRLE``.

    Parameters
    ----------
    sizes : ndarray of shape (m, 2), dtype float64
        ``[width, height]`` of each object's image.
    """
    heights, widths = sizes[:, 1].astype(np.int64), sizes[:, 0].astype(np.int64)
    return RunLengths.from_coco(polygons, heights, widths)


def coco_ground_truth(
    rng: np.random.Generator, cfg: SegmConfig, image_ids: np.ndarray, sizes: np.ndarray
) -> tuple[dict[str, object], Boxes, Outlines]:
    """The COCO instances dict with segmentations, and the objects behind it.

    Returns
    -------
    gt : dict
        Annotations in random order with increasing unique ids. Polygons for single
        objects (``area`` their area, ``bbox`` their extent); for crowd regions an RLE
        object with uncompressed counts (``area`` its pixels, ``bbox`` its extent).
    boxes : Boxes
        The objects in generation order: image, category, box, crowd flag.
    outlines : Outlines
        Their outlines, relative to their boxes.
    """
    boxes = make_ground_truth(rng, cfg.boxes(), sizes)
    outlines = make_outlines(rng, boxes.xywh)
    n = boxes.image.shape[0]
    placed = place(rng, outlines, np.arange(n), boxes.xywh, sizes[boxes.image], 0.0)
    area, extent = placed.area, placed.extent
    bbox = np.round(np.concatenate([extent[:, :2], extent[:, 2:] - extent[:, :2]], axis=1), 2)
    segmentation: list[object] = list(placed.polygons)
    crowd = np.flatnonzero(boxes.crowd)
    masks = rle_masks([placed.polygons[i] for i in crowd], sizes[boxes.image[crowd]])
    area[crowd] = masks.area()
    bbox[crowd] = masks.to_bbox()
    for k, i in enumerate(crowd.tolist()):
        runs = masks.counts[masks.offsets[k] : masks.offsets[k + 1]].tolist()
        segmentation[i] = {"counts": runs, "size": [int(masks.heights[k]), int(masks.widths[k])]}

    categories = category_table(cfg.classes)
    cat_ids = np.array([c["id"] for c in categories], dtype=np.int64)
    order = rng.permutation(n)
    ann_ids = 100_000 + np.cumsum(rng.integers(1, 4, n))
    images = [
        {"id": i, "width": w, "height": h, "file_name": f"{i:012d}.jpg"}
        for i, (w, h) in zip(image_ids.tolist(), sizes.astype(np.int64).tolist(), strict=True)
    ]
    annotations = [
        {"id": a, "image_id": i, "category_id": c, "segmentation": segmentation[k],
         "area": s, "bbox": b, "iscrowd": z}
        for a, i, c, k, s, b, z in zip(
            ann_ids.tolist(),
            image_ids[boxes.image[order]].tolist(),
            cat_ids[boxes.category[order]].tolist(),
            order.tolist(),
            area[order].tolist(),
            bbox[order].tolist(),
            boxes.crowd[order].astype(np.int64).tolist(),
            strict=True,
        )
    ]  # fmt: skip
    gt: dict[str, object] = {
        "info": {"description": f"synthetic COCO-like segm set, {cfg}", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    return gt, boxes, outlines


def coco_results(
    rng: np.random.Generator,
    cfg: SegmConfig,
    image_ids: np.ndarray,
    sizes: np.ndarray,
    gt: Boxes,
    outlines: Outlines,
) -> list[dict[str, object]]:
    """The COCO results list: ``image_id``, ``category_id``, ``bbox``, ``score``,
    ``segmentation`` (compressed RLE), in detectron2's key order; no ``bbox`` when
    ``cfg.result_bbox`` is False.

    The box generator's detections, each with the outline of the object it comes from
    (background ones: an outline of their own) stretched onto its box, every vertex
    jittered. Made ``CHUNK_IMAGES`` images at a time to bound the memory.
    """
    dets, source = make_predictions(rng, cfg.boxes(), gt, sizes)
    cat_ids = np.array([c["id"] for c in category_table(cfg.classes)], dtype=np.int64)
    n_gt = outlines.object_start.shape[0] - 1
    bounds = np.searchsorted(dets.image, np.arange(0, cfg.images + CHUNK_IMAGES, CHUNK_IMAGES))
    results: list[dict[str, object]] = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        xywh, src = dets.xywh[lo:hi], source[lo:hi]
        background = np.flatnonzero(src < 0)
        src = src.copy()
        src[background] = n_gt + np.arange(background.shape[0])
        chunk_outlines = join(outlines, make_outlines(rng, xywh[background]))
        image_size = sizes[dets.image[lo:hi]]
        placed = place(rng, chunk_outlines, src, xywh, image_size, VERTEX_NOISE)
        masks = rle_masks(placed.polygons, image_size).to_coco()
        for rle in masks:
            rle["counts"] = rle["counts"].decode("ascii")
        for i, c, b, s, m in zip(
            image_ids[dets.image[lo:hi]].tolist(),
            cat_ids[dets.category[lo:hi]].tolist(),
            xywh.tolist(),
            dets.value[lo:hi].tolist(),
            masks,
            strict=True,
        ):
            result = {"image_id": i, "category_id": c, "bbox": b, "score": s, "segmentation": m}
            if not cfg.result_bbox:
                del result["bbox"]
            results.append(result)
    return results


def generate(cfg: SegmConfig) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Build the ground-truth dict and the results list for ``cfg`` (deterministic)."""
    rng = np.random.default_rng(cfg.seed)
    image_ids, sizes = make_images(rng, cfg.images)
    gt, boxes, outlines = coco_ground_truth(rng, cfg, image_ids, sizes)
    return gt, coco_results(rng, cfg, image_ids, sizes, boxes, outlines)


def describe(gt_path: Path, preds_path: Path) -> str:
    """A one-paragraph summary of a written set: objects, polygons, size split, results."""
    gt = orjson.loads(gt_path.read_bytes())
    preds = orjson.loads(preds_path.read_bytes())
    anns = gt["annotations"]
    area = np.array([a["area"] for a in anns], dtype=np.float64)
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    polygons = [p for a in anns if not a["iscrowd"] for p in a["segmentation"]]
    vertices = np.array([len(p) // 2 for p in polygons])
    solo = area[~crowd]
    split = [np.mean(solo < SMALL_AREA), np.mean((solo >= SMALL_AREA) & (solo < LARGE_AREA))]
    split.append(1.0 - split[0] - split[1])
    boxed = sum("bbox" in p for p in preds)
    return (
        f"{len(gt['images'])} images, {len(gt['categories'])} categories, "
        f"{len(anns)} GT objects ({len(anns) / len(gt['images']):.2f}/image, "
        f"{crowd.sum()} crowd RLE, {len(polygons) / max(len(solo), 1):.2f} polygons per "
        f"object, {vertices.mean():.1f} vertices per polygon, small/medium/large "
        f"{100 * split[0]:.0f}/{100 * split[1]:.0f}/{100 * split[2]:.0f}%), "
        f"{len(preds)} RLE results ({boxed} with a bbox); "
        f"{gt_path.stat().st_size / 1e6:.1f} MB + {preds_path.stat().st_size / 1e6:.1f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--dets-per-image", type=int, default=100)
    parser.add_argument("--gt-per-image", type=float, default=7.3)
    parser.add_argument("--crowd-fraction", type=float, default=0.01)
    parser.add_argument(
        "--no-bbox", dest="result_bbox", action="store_false",
        help="results without a bbox (the mask's area then counts in pycocotools' loadRes)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    cfg = SegmConfig(
        images=args.images,
        classes=args.classes,
        dets_per_image=args.dets_per_image,
        gt_per_image=args.gt_per_image,
        crowd_fraction=args.crowd_fraction,
        result_bbox=args.result_bbox,
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
