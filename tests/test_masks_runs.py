"""The engine's batch form, :class:`evaluator.masks.RunLengths`, against pycocotools.

A batch mixing every form COCO files hold (compressed RLE, uncompressed RLE, bare
strings, multi-polygon objects) equals pycocotools' ``annToRLE`` object by object, and
the batch operations equal ``pycocotools.mask``'s on the same objects.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from evaluator import masks
from evaluator.masks._engine import rle

M = pytest.importorskip("pycocotools.mask")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def ann_to_rle(segm: Any, h: int, w: int) -> dict[str, Any]:
    """pycocotools' COCO.annToRLE, for one segmentation of an h x w image."""
    if isinstance(segm, list):
        return M.merge(M.frPyObjects(segm, h, w))  # type: ignore[no-any-return]
    if isinstance(segm["counts"], list):
        return M.frPyObjects(segm, h, w)  # type: ignore[no-any-return]
    return segm  # type: ignore[no-any-return]


def random_segmentation(rng: np.random.Generator, h: int, w: int) -> Any:
    kind = rng.integers(0, 4)
    if kind == 0:  # polygons, one to three parts
        return [
            np.stack([rng.uniform(-1, w + 1, 5), rng.uniform(-1, h + 1, 5)], 1).ravel().tolist()
            for _ in range(int(rng.integers(1, 4)))
        ]
    mask = np.asfortranarray((rng.random((h, w)) < 0.4).astype(np.uint8))
    compressed = M.encode(mask)
    if kind == 1:
        return compressed
    if kind == 2:
        return {"size": [h, w], "counts": masks.RunLengths.from_coco([compressed]).counts.tolist()}
    return {"size": [h, w], "counts": compressed["counts"].decode()}


def random_batch(rng: np.random.Generator, n: int) -> tuple[list[Any], list[int], list[int]]:
    sizes = [(int(rng.integers(1, 30)), int(rng.integers(1, 30))) for _ in range(n)]
    segms = [random_segmentation(rng, h, w) for h, w in sizes]
    return segms, [h for h, _ in sizes], [w for _, w in sizes]


def test_from_coco_equals_ann_to_rle_object_by_object() -> None:
    rng = np.random.default_rng(20)
    for _ in range(40):
        segms, heights, widths = random_batch(rng, int(rng.integers(0, 25)))
        batch = masks.RunLengths.from_coco(segms, heights, widths)
        expected = [ann_to_rle(s, h, w) for s, h, w in zip(segms, heights, widths)]
        as_bytes = [
            {**e, "counts": c.encode() if isinstance(c := e["counts"], str) else c}
            for e in expected
        ]
        assert batch.to_coco() == as_bytes
        assert batch.counts.dtype == np.uint32 and batch.offsets.dtype == np.int64
        assert batch.heights.tolist() == heights and batch.widths.tolist() == widths
        assert np.array_equal(batch.area(), M.area(expected))
        assert np.array_equal(batch.to_bbox(), M.toBbox(expected).reshape(-1, 4))


def test_pairwise_iou_equals_pycocotools() -> None:
    rng = np.random.default_rng(21)
    for _ in range(150):
        h, w = int(rng.integers(1, 25)), int(rng.integers(1, 25))
        dt = [random_segmentation(rng, h, w) for _ in range(int(rng.integers(1, 7)))]
        gt = [random_segmentation(rng, h, w) for _ in range(int(rng.integers(1, 7)))]
        crowd = rng.random(len(gt)) < 0.3
        dts = masks.RunLengths.from_coco(dt, [h] * len(dt), [w] * len(dt))
        gts = masks.RunLengths.from_coco(gt, [h] * len(gt), [w] * len(gt))
        expected = M.iou(
            [ann_to_rle(s, h, w) for s in dt], [ann_to_rle(s, h, w) for s in gt], crowd
        )
        assert np.array_equal(masks.pairwise_iou(dts, gts, crowd), expected)


def test_iou_rows_in_threads_equal_one_call() -> None:
    # the kernel releases the GIL and writes only rows d0..d1: the caller picks the threads
    rng = np.random.default_rng(22)
    dt = [random_segmentation(rng, 20, 20) for _ in range(37)]
    gt = [random_segmentation(rng, 20, 20) for _ in range(11)]
    dts = masks.RunLengths.from_coco(dt, [20] * 37, [20] * 37)
    gts = masks.RunLengths.from_coco(gt, [20] * 11, [20] * 11)
    crowd = np.array([i % 3 == 0 for i in range(11)], np.uint8)
    whole = masks.pairwise_iou(dts, gts, crowd)
    out = np.full_like(whole, np.nan)
    boxes = dts.to_bbox(), gts.to_bbox()

    def rows(d0: int, d1: int) -> None:
        args = (dts.counts, dts.offsets, boxes[0], gts.counts, gts.offsets, boxes[1], crowd)
        rle.iou(*args, out, d0, d1)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(rows, [0, 10, 20, 30], [10, 20, 30, 37]))
    assert np.array_equal(out, whole)


def test_columns_are_checked_copied_and_read_only() -> None:
    counts = np.array([2, 3, 7, 12], np.uint32)
    batch = masks.RunLengths(counts, [0, 3, 4], [3, 3], [4, 4])
    assert batch.area().tolist() == [3, 0]
    assert len(batch) == 2
    with pytest.raises(ValueError, match="read-only"):
        batch.counts[0] = 1
    counts[0] = 5  # the caller's array stays theirs: the batch checked its own copy
    assert batch.counts[0] == 2
    assert masks.RunLengths.from_coco(batch.to_coco()).counts.tolist() == [2, 3, 7, 12]


def test_bare_strings_take_the_image_size() -> None:
    full = M.encode(np.asfortranarray(np.ones((3, 4), np.uint8)))
    batch = masks.RunLengths.from_coco([full["counts"], full["counts"].decode()], [3, 3], [4, 4])
    assert batch.to_coco() == [full, full]
