"""``evaluator.masks`` against ``pycocotools.mask``: equal bytes, equal arrays, always.

Every case comes from a seeded generator, so a failure names a case that replays.
pycocotools is the oracle; each function is compared on thousands of shapes, the edges
included (empty, full, one pixel, 1-pixel-high and 1-pixel-wide images, polygons
touching or leaving the image, self-intersecting, degenerate, huge counts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluator import masks

M = pytest.importorskip("pycocotools.mask")
# pycocotools' decode builds its array with a pre-NumPy-2 __array__
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SIZES = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 7), (7, 3), (16, 16), (33, 20), (5, 64)]


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A binary (h, w) mask of one of several kinds, uint8."""
    kind = rng.integers(0, 6)
    if kind == 0:
        return np.zeros((h, w), np.uint8)
    if kind == 1:
        return np.ones((h, w), np.uint8)
    if kind == 2:  # one pixel
        mask = np.zeros((h, w), np.uint8)
        mask[rng.integers(0, h), rng.integers(0, w)] = 1
        return mask
    if kind == 3:  # a rectangle, often touching the border
        mask = np.zeros((h, w), np.uint8)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        mask[y0 : rng.integers(y0, h + 1) + 1, x0 : rng.integers(x0, w + 1) + 1] = 1
        return mask
    return (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)


def same_rle(ours: Any, theirs: Any) -> None:
    assert ours == theirs  # {"size": [h, w], "counts": bytes}: same ints, same bytes
    assert type(ours["counts"]) is bytes


def random_rles(rng: np.random.Generator, h: int, w: int, n: int) -> list[dict[str, Any]]:
    stack = np.stack([random_mask(rng, h, w) for _ in range(n)], axis=2)
    return M.encode(np.asfortranarray(stack))  # type: ignore[no-any-return]


def test_encode_and_decode_equal_pycocotools() -> None:
    rng = np.random.default_rng(1)
    for _ in range(600):
        h, w = SIZES[rng.integers(len(SIZES))]
        mask = random_mask(rng, h, w)
        theirs = M.encode(np.asfortranarray(mask))
        same_rle(masks.encode(mask), theirs)
        same_rle(masks.encode(mask.astype(bool)), theirs)
        decoded = masks.decode(theirs)
        assert decoded.dtype == np.uint8 and decoded.shape == (h, w)
        assert np.array_equal(decoded, M.decode(theirs))
        n = int(rng.integers(0, 4))
        stack = np.zeros((h, w, n), np.uint8)
        for i in range(n):
            stack[:, :, i] = random_mask(rng, h, w)
        theirs_n = M.encode(np.asfortranarray(stack))
        ours_n = masks.encode(stack)
        assert len(ours_n) == len(theirs_n)
        for a, b in zip(ours_n, theirs_n):
            same_rle(a, b)
        if n:
            assert np.array_equal(masks.decode(theirs_n), M.decode(theirs_n))
            assert masks.decode(theirs_n).flags.f_contiguous


def test_encode_keeps_pycocotools_runs_of_values_other_than_0_and_1() -> None:
    mask = np.array([[0, 2, 1, 1, 0, 255, 255]], np.uint8)
    same_rle(masks.encode(mask), M.encode(np.asfortranarray(mask)))


def test_area_and_to_bbox_equal_pycocotools() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        h, w = SIZES[rng.integers(len(SIZES))]
        rles = random_rles(rng, h, w, int(rng.integers(1, 6)))
        assert np.array_equal(masks.area(rles), M.area(rles))
        assert masks.area(rles).dtype == np.uint32
        assert np.array_equal(masks.to_bbox(rles), M.toBbox(rles))
        assert masks.area(rles[0]) == M.area(rles[0])
        assert type(masks.area(rles[0])) is type(M.area(rles[0]))
        assert np.array_equal(masks.to_bbox(rles[0]), M.toBbox(rles[0]))


def random_counts(rng: np.random.Generator, area: int) -> list[int]:
    """Counts summing to ``area``, often with runs of length 0 (not canonical, as
    uncompressed RLE in the wild can be)."""
    cuts = np.sort(rng.integers(0, area + 1, size=int(rng.integers(0, 9))))
    counts = np.diff(np.concatenate([[0], cuts, [area]])).tolist()
    if rng.random() < 0.3:
        counts.append(0)  # an even number of runs ending in an empty foreground run
    return counts


def test_uncompressed_rle_and_non_canonical_counts_equal_pycocotools() -> None:
    rng = np.random.default_rng(3)
    for _ in range(600):
        h, w = SIZES[rng.integers(len(SIZES))]
        obj = {"size": [h, w], "counts": random_counts(rng, h * w)}
        theirs = M.frPyObjects(obj, h, w)
        same_rle(masks.from_polygons(obj, h, w), theirs)
        same_rle(masks.from_polygons([obj, obj], h, w)[1], theirs)
        # the other functions take uncompressed counts as they are
        assert masks.area(obj) == M.area(theirs)
        assert np.array_equal(masks.to_bbox(obj), M.toBbox(theirs))
        assert np.array_equal(masks.decode(obj), M.decode(theirs))


def random_polygon(rng: np.random.Generator, h: int, w: int) -> list[float]:
    """3 to 11 points: anywhere around the image, on half pixels, on tenths (ties of the
    rounding), on the border, or a degenerate outline (repeated or collinear points)."""
    k = int(rng.integers(3, 12))
    kind = rng.integers(0, 6)
    if kind == 0:
        x, y = rng.uniform(-3, w + 3, k), rng.uniform(-3, h + 3, k)
    elif kind == 1:
        x, y = rng.integers(-2, 2 * w + 3, k) / 2, rng.integers(-2, 2 * h + 3, k) / 2
    elif kind == 2:
        x, y = rng.integers(-10, 10 * w + 11, k) / 10, rng.integers(-10, 10 * h + 11, k) / 10
    elif kind == 3:
        x = rng.choice([0, 0.5, w - 1, w - 0.5, w, -0.5], k)
        y = rng.choice([0, 0.5, h - 1, h - 0.5, h, -0.5], k)
    elif kind == 4:
        x = np.repeat(rng.uniform(0, w, (k + 1) // 2), 2)[:k]
        y = np.repeat(rng.uniform(0, h, (k + 1) // 2), 2)[:k]
    else:  # far outside the image
        x, y = rng.uniform(-50 * w, 50 * w, k), rng.uniform(-50 * h, 50 * h, k)
    return np.stack([x, y], axis=1).reshape(-1).tolist()  # type: ignore[no-any-return]


def test_polygons_equal_pycocotools() -> None:
    rng = np.random.default_rng(4)
    for _ in range(1500):
        h, w = SIZES[rng.integers(len(SIZES))]
        polygons = [random_polygon(rng, h, w) for _ in range(int(rng.integers(1, 4)))]
        theirs = M.frPyObjects(polygons, h, w)
        ours = masks.from_polygons(polygons, h, w)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same_rle(a, b)
        # an object of several polygons, as annToRLE: frPyObjects, then merge
        merged = masks.RunLengths.from_coco([polygons], [h], [w]).to_coco()[0]
        same_rle(merged, M.merge(theirs))
        same_rle(masks.merge(ours), M.merge(theirs))


def test_polygons_of_coco_sized_images_equal_pycocotools() -> None:
    # outlines like COCO's: 10 to 60 points around a centre, on images of 100s of pixels
    rng = np.random.default_rng(11)
    for _ in range(60):
        h, w = int(rng.integers(100, 641)), int(rng.integers(100, 641))
        k = int(rng.integers(10, 61))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(5, max(h, w) / 2) * rng.uniform(0.6, 1.0, k)
        cx, cy = rng.uniform(-20, w + 20), rng.uniform(-20, h + 20)
        xs, ys = np.round(cx + radius * np.cos(angle), 2), np.round(cy + radius * np.sin(angle), 2)
        polygons = [np.stack([xs, ys], axis=1).ravel().tolist(), random_polygon(rng, h, w)]
        theirs = M.frPyObjects(polygons, h, w)
        for a, b in zip(masks.from_polygons(polygons, h, w), theirs):
            same_rle(a, b)
        same_rle(masks.RunLengths.from_coco([polygons], [h], [w]).to_coco()[0], M.merge(theirs))


def _edgy_polygon(rng: np.random.Generator, kind: int, h: int, w: int) -> list[float]:
    """A polygon of long near-vertical (kind 0) or near-horizontal (1) edges, of
    coordinates thousands of pixels off the image (2), or on half pixels (3)."""
    k = int(rng.integers(3, 9))
    xs, ys = rng.uniform(-20, w + 20, k), rng.uniform(-20, h + 20, k)
    if kind == 0:  # each odd point nearly above the one before: steps along y, rarely x
        xs[1::2] = xs[0::2][: k // 2] + rng.uniform(-0.05, 0.05, k // 2)
    elif kind == 1:
        ys[1::2] = ys[0::2][: k // 2] + rng.uniform(-0.05, 0.05, k // 2)
    elif kind == 2:
        xs, ys = rng.uniform(-2e4, 2e4, k), rng.uniform(-2e4, 2e4, k)
    else:
        xs, ys = np.round(xs * 2) / 2, np.round(ys * 2) / 2
    return np.stack([xs, ys], axis=1).ravel().tolist()  # type: ignore[no-any-return]


def test_polygons_of_long_steep_and_shallow_edges_equal_pycocotools() -> None:
    """The walk along an edge passes over the steps that give no point (along x, four
    columns in five; along a steep edge, the steps within one column): every point it
    keeps is pycocotools'."""
    rng = np.random.default_rng(12)
    for i in range(2000):
        h, w = int(rng.integers(1, 120)), int(rng.integers(1, 120))
        polygon = _edgy_polygon(rng, i % 4, h, w)
        same_rle(masks.from_polygons([polygon], h, w)[0], M.frPyObjects([polygon], h, w)[0])


def test_one_polygon_alone_is_one_object() -> None:
    polygon = [0.5, 0.5, 6.2, 1.0, 3.0, 4.9]
    same_rle(masks.from_polygons(polygon, 7, 8), M.frPyObjects([polygon], 7, 8)[0])
    same_rle(
        masks.from_polygons([1, 2, 3, 4], 7, 8), M.frPyObjects(np.array([[1.0, 2, 3, 4]]), 7, 8)[0]
    )


def test_boxes_equal_pycocotools() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        h, w = SIZES[rng.integers(len(SIZES))]
        n = int(rng.integers(1, 5))
        boxes = np.stack(
            [
                rng.uniform(-2, w + 1, n),
                rng.uniform(-2, h + 1, n),
                rng.uniform(0, w + 2, n),
                rng.uniform(0, h + 2, n),
            ],
            axis=1,
        )
        if rng.random() < 0.5:
            boxes = np.round(boxes * 2) / 2
        theirs = M.frPyObjects(boxes, h, w)
        for ours in (masks.from_polygons(boxes, h, w), masks.from_polygons(boxes.tolist(), h, w)):
            for a, b in zip(ours, theirs):
                same_rle(a, b)


def test_merge_equals_pycocotools_union_and_intersection_both_ways() -> None:
    rng = np.random.default_rng(6)
    for _ in range(500):
        h, w = SIZES[rng.integers(len(SIZES))]
        rles = random_rles(rng, h, w, int(rng.integers(1, 5)))
        for intersect in (False, True):
            same_rle(masks.merge(rles, intersect=intersect), M.merge(rles, intersect=intersect))
            backwards = rles[::-1]
            same_rle(masks.merge(backwards, intersect), M.merge(backwards, intersect))
    same_rle(masks.merge([]), M.merge([]))


def test_iou_equals_pycocotools_with_crowd_flags() -> None:
    rng = np.random.default_rng(7)
    for _ in range(400):
        h, w = SIZES[rng.integers(len(SIZES))]
        dt = random_rles(rng, h, w, int(rng.integers(1, 6)))
        gt = random_rles(rng, h, w, int(rng.integers(1, 6)))
        crowd = (rng.random(len(gt)) < 0.4).astype(np.uint8)
        theirs = M.iou(dt, gt, crowd)
        ours = masks.iou(dt, gt, crowd)
        assert ours.dtype == np.float64 and ours.shape == theirs.shape
        assert np.array_equal(ours, theirs)
        batch = masks.pairwise_iou(
            masks.RunLengths.from_coco(dt), masks.RunLengths.from_coco(gt), crowd.astype(bool)
        )
        assert np.array_equal(batch, theirs)


def test_box_iou_equals_pycocotools() -> None:
    rng = np.random.default_rng(8)
    for _ in range(200):
        dt = rng.uniform(0, 20, (int(rng.integers(1, 6)), 4))
        gt = rng.uniform(0, 20, (int(rng.integers(1, 6)), 4))
        crowd = rng.random(len(gt)) < 0.4
        theirs = M.iou(dt, gt, crowd)
        assert np.array_equal(masks.iou(dt, gt, crowd), theirs)
        assert np.array_equal(masks.iou(dt.tolist(), gt.tolist(), crowd.tolist()), theirs)


def test_empty_inputs_follow_pycocotools() -> None:
    rle = M.encode(np.asfortranarray(np.ones((3, 4), np.uint8)))
    for dt, gt in (([], []), ([rle], []), ([], [rle])):
        crowd = [0] * len(gt)
        assert masks.iou(dt, gt, crowd) == M.iou(dt, gt, crowd) == []
    assert np.array_equal(masks.area([]), M.area([])) and masks.area([]).dtype == np.uint32
    assert masks.to_bbox([]).shape == M.toBbox([]).shape == (0, 4)
    assert (
        masks.encode(np.zeros((3, 4, 0), np.uint8))
        == M.encode(np.zeros((3, 4, 0), np.uint8, order="F"))
        == []
    )
    same_rle(
        masks.encode(np.zeros((0, 0), np.uint8)), M.encode(np.zeros((0, 0), np.uint8, order="F"))
    )
    empty = masks.RunLengths.from_coco([])
    assert masks.pairwise_iou(empty, empty, []).shape == (0, 0)


def test_compressed_strings_round_trip() -> None:
    rng = np.random.default_rng(9)
    for _ in range(300):
        h, w = SIZES[rng.integers(len(SIZES))]
        rles = random_rles(rng, h, w, 3)
        batch = masks.RunLengths.from_coco(rles)
        assert batch.to_coco() == rles
        as_text = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
        assert masks.RunLengths.from_coco(as_text).to_coco() == rles
        bare = masks.RunLengths.from_coco([r["counts"] for r in rles], [h] * 3, [w] * 3)
        assert bare.to_coco() == rles


# A 65535 x 65537 image: 4294901795 pixels, just below 2**32 - 1. pycocotools is only
# defined on part of this range, and the huge cases stay in it: it decodes a compressed
# count correctly while its difference to the count two before is >= -2**29 (beyond,
# its C shifts overflow), and it writes a string into 6 bytes a count, NUL included
# (a count of 7 characters needs others shorter, or it writes past its buffer).
BIG_H, BIG_W = 65535, 65537


def fits_pycocotools(obj: dict[str, Any]) -> bool:
    """Whether pycocotools can write and read back the string of RLE object ``obj``."""
    batch = masks.RunLengths.from_coco([obj])
    counts = batch.counts.tolist()
    if len(batch.to_coco()[0]["counts"]) >= 6 * max(len(counts), 1):  # type: ignore[arg-type]
        return False
    return all(counts[i] - counts[i - 2] >= -(2**29) for i in range(3, len(counts)))


def huge_counts(rng: np.random.Generator) -> list[int]:
    while True:
        counts = random_counts(rng, BIG_H * BIG_W)
        if fits_pycocotools({"size": [BIG_H, BIG_W], "counts": counts}):
            return counts


def test_huge_counts_equal_pycocotools() -> None:
    rng = np.random.default_rng(10)
    for _ in range(300):
        objs = [{"size": [BIG_H, BIG_W], "counts": huge_counts(rng)} for _ in range(3)]
        theirs = M.frPyObjects(objs, BIG_H, BIG_W)
        ours = masks.from_polygons(objs, BIG_H, BIG_W)
        for a, b in zip(ours, theirs):
            same_rle(a, b)
        assert np.array_equal(masks.area(theirs), M.area(theirs))
        assert np.array_equal(masks.to_bbox(theirs), M.toBbox(theirs))
        for intersect in (False, True):
            ours_merged = masks.merge(theirs, intersect)
            if fits_pycocotools(ours_merged):
                same_rle(ours_merged, M.merge(theirs, intersect))
        crowd = [0, 1, 0]
        assert np.array_equal(
            masks.iou(theirs, theirs[::-1], crowd), M.iou(theirs, theirs[::-1], crowd)
        )


def test_huge_counts_round_trip_beyond_pycocotools_range() -> None:
    # a difference of -(2**31) two counts apart: pycocotools misreads its own string here
    area = BIG_H * BIG_W
    counts = [0, 2**31 + 5, 7, 4]
    counts.append(area - sum(counts))
    batch = masks.RunLengths.from_coco([{"size": [BIG_H, BIG_W], "counts": counts}])
    again = masks.RunLengths.from_coco(batch.to_coco())
    assert again.counts.tolist() == counts
