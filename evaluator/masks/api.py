"""``pycocotools.mask``'s functions on COCO RLE objects, with the same results.

Each takes what its pycocotools namesake takes (and RLE objects with uncompressed
counts where pycocotools wants compressed ones) and returns the same values, types and
shapes; compressed counts come back as ``bytes``, as pycocotools gives them. Bad input
raises :class:`evaluator.errors.InputError` saying what and where, where pycocotools
reads past its buffers or returns garbage.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluator.errors import InputError
from evaluator.masks._engine import rle
from evaluator.masks.parse import (
    MAX_COORDINATE,
    LocatedPolygons,
    bbox_polygons,
    check_size,
    rasterise,
)
from evaluator.masks.runs import RunLengths, pairwise_iou

__all__ = ["area", "decode", "encode", "from_polygons", "iou", "merge", "to_bbox"]

#: A COCO RLE object: ``{"size": [height, width], "counts": bytes | str | list[int]}``.
RLE = dict[str, Any]


def _batch(rles: Sequence[object], where: str) -> RunLengths:
    for i, obj in enumerate(rles):
        if not isinstance(obj, Mapping):
            raise InputError(f"{where}[{i}]", "expected an RLE object with 'size' and 'counts'")
    return RunLengths.from_coco(rles, where=where)


@contextmanager
def _alone(where: str) -> Iterator[None]:
    """Errors about item 0 of a batch of one, located at ``where`` itself: a single
    object is read as ``[obj]``, and ``rles[0].counts`` reads ``rles.counts``."""
    try:
        yield
    except InputError as error:
        raise InputError(error.location.replace(f"{where}[0]", where, 1), error.problem) from None


def _one(obj: object, where: str) -> RunLengths:
    if not isinstance(obj, Mapping):
        raise InputError(where, "expected an RLE object (dict) or a list of them")
    with _alone(where):
        return RunLengths.from_coco([obj], where=where)


def encode(mask: ArrayLike) -> RLE | list[RLE]:
    """Run-length encode binary masks, as ``pycocotools.mask.encode``.

    Parameters
    ----------
    mask : array_like of shape (h, w) or (h, w, n), bool or integers in [0, 255]
        In any memory order (pycocotools wants Fortran order and uint8). A run ends
        where the value changes, as in pycocotools: use 0 and 1.

    Returns
    -------
    dict or list of n dicts
        ``{"size": [h, w], "counts": bytes}`` (compressed), one per mask.
    """
    array = np.asarray(mask)
    if array.ndim not in (2, 3):
        raise InputError("mask", f"expected shape (h, w) or (h, w, n), got {array.shape}")
    if array.dtype not in (np.bool_, np.uint8) and (
        not np.issubdtype(array.dtype, np.integer)
        or (array.size and (array.min() < 0 or array.max() > 255))
    ):
        raise InputError("mask", f"expected bool or integers in [0, 255], got {array.dtype}")
    h, w = array.shape[:2]
    n = array.shape[2] if array.ndim == 3 else 1
    check_size(h, w, "mask.shape")
    # (h, w, n) in Fortran order is n column-major masks one after the other
    pixels = np.asfortranarray(array.reshape(h, w, n), dtype=np.uint8)
    counts, offsets = rle.encode_masks(pixels.reshape(-1, order="F"), h * w, n)
    sizes = np.full(n, h, dtype=np.int64), np.full(n, w, dtype=np.int64)
    objs = RunLengths(np.frombuffer(counts, np.uint32), np.frombuffer(offsets, np.int64), *sizes)
    coco = objs.to_coco()
    return coco if array.ndim == 3 else coco[0]


def decode(rles: RLE | Sequence[RLE]) -> NDArray[np.uint8]:
    """Binary masks of RLE objects, as ``pycocotools.mask.decode``.

    Parameters
    ----------
    rles : dict or list of n dicts
        RLE objects; those of a list must all have one size.

    Returns
    -------
    ndarray of shape (h, w) for one dict, (h, w, n) for a list, dtype uint8
        0 and 1, in Fortran order as pycocotools; (0, 0, 0) for an empty list.
    """
    single = not isinstance(rles, list)
    batch = _batch(rles, "rles") if isinstance(rles, list) else _one(rles, "rles")
    n = len(batch)
    if n == 0:
        return np.zeros((0, 0, 0), dtype=np.uint8)
    if not single:
        _same_size(batch, "rles")
    h, w = int(batch.heights[0]), int(batch.widths[0])
    out = np.empty(n * h * w, dtype=np.uint8)
    rle.decode_masks(batch.counts, batch.offsets, h * w, out)
    masks = out.reshape((h, w, n), order="F")
    return masks[:, :, 0] if single else masks


def _same_size(batch: RunLengths, where: str) -> None:
    h, w = batch.heights[0], batch.widths[0]
    bad = np.flatnonzero((batch.heights != h) | (batch.widths != w))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"{where}[{i}].size",
            f"[{batch.heights[i]}, {batch.widths[i]}] differs from {where}[0]'s [{h}, {w}]",
        )


def merge(rles: Sequence[RLE], intersect: bool = False) -> RLE:
    """Union (or intersection) of RLE objects of one size, as ``pycocotools.mask.merge``.

    Parameters
    ----------
    rles : list of dicts
    intersect : bool
        False for the union, True for the intersection.

    Returns
    -------
    dict
        ``{"size": [h, w], "counts": bytes}``; ``{"size": [0, 0], "counts": b""}`` for
        an empty list, as pycocotools.
    """
    if not isinstance(rles, (list, tuple)):
        raise InputError("rles", "expected a list of RLE objects")
    batch = _batch(rles, "rles")
    if len(batch) == 0:
        return {"size": [0, 0], "counts": b""}
    _same_size(batch, "rles")
    groups = np.array([0, len(batch)], dtype=np.int64)
    counts, offsets = rle.merge(batch.counts, batch.offsets, groups, bool(intersect))
    merged = RunLengths(
        np.frombuffer(counts, np.uint32),
        np.frombuffer(offsets, np.int64),
        batch.heights[:1],
        batch.widths[:1],
    )
    return merged.to_coco()[0]


def area(rles: RLE | Sequence[RLE]) -> np.uint32 | NDArray[np.uint32]:
    """Pixels in each mask, as ``pycocotools.mask.area``.

    Returns
    -------
    numpy.uint32 for one dict, ndarray of shape (n,) dtype uint32 for a list
    """
    if not isinstance(rles, list):
        return _one(rles, "rles").area()[0]
    return _batch(rles, "rles").area()


def to_bbox(rles: RLE | Sequence[RLE]) -> NDArray[np.float64]:
    """Bounding boxes ``[x, y, w, h]`` of masks, as ``pycocotools.mask.toBbox``.

    Returns
    -------
    ndarray of shape (4,) for one dict, (n, 4) for a list, dtype float64
    """
    if not isinstance(rles, list):
        return _one(rles, "rles").to_bbox()[0]
    return _batch(rles, "rles").to_bbox()


def _boxes(objs: object, where: str) -> NDArray[np.float64] | None:
    """``objs`` as (n, 4) float64 boxes when pycocotools' ``iou`` would read boxes."""
    boxes = isinstance(objs, np.ndarray) or (
        isinstance(objs, list)
        and objs
        and all(isinstance(o, (list, np.ndarray)) and len(o) == 4 for o in objs)
    )
    if not boxes:
        return None
    try:
        array = np.asarray(objs, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(where, "boxes must be numbers, 4 per box") from None
    if array.size == 0:
        array = array.reshape(0, 4)
    elif array.ndim == 1 and array.size == 4:
        array = array.reshape(1, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise InputError(where, f"expected boxes of shape (n, 4), got {array.shape}")
    return np.ascontiguousarray(array)


def iou(dt: object, gt: object, iscrowd: ArrayLike) -> NDArray[np.float64] | list[object]:
    """IoU of detections with ground truths, masks or boxes, as ``pycocotools.mask.iou``.

    Parameters
    ----------
    dt : list of D RLE objects, or boxes (ndarray (D, 4) or list of 4-number lists, xywh)
    gt : list of G RLE objects, or boxes, of the same kind as ``dt``
    iscrowd : array_like of shape (G,)
        Nonzero where the ground truth is a crowd: its IoU is the intersection over the
        detection's area.

    Returns
    -------
    ndarray of shape (D, G), dtype float64, or ``[]`` when D or G is 0 (as pycocotools)
        ``iou[d, g]`` is the IoU of ``dt[d]`` with ``gt[g]``.
    """
    for name, objs in (("dt", dt), ("gt", gt)):
        if not isinstance(objs, (list, tuple, np.ndarray)):
            raise InputError(name, "expected a list of RLE objects, or boxes")
    flags = np.array(iscrowd, dtype=np.uint8).reshape(-1)
    dt_box, gt_box = _boxes(dt, "dt"), _boxes(gt, "gt")
    n_gt = len(gt_box) if gt_box is not None else len(gt)  # type: ignore[arg-type]
    if flags.shape != (n_gt,):
        raise InputError(
            "iscrowd", f"expected {n_gt} flags (one per ground truth), got {flags.size}"
        )
    n_dt = len(dt_box) if dt_box is not None else len(dt)  # type: ignore[arg-type]
    if n_dt == 0 or n_gt == 0:
        return []
    if (dt_box is None) != (gt_box is None):
        raise InputError("dt, gt", "both must be boxes or both RLE objects")
    if dt_box is not None and gt_box is not None:
        out = np.empty((n_dt, n_gt), dtype=np.float64)
        rle.box_iou(dt_box, gt_box, flags, out)
        return out
    dts, gts = _batch(dt, "dt"), _batch(gt, "gt")  # type: ignore[arg-type]
    return pairwise_iou(dts, gts, flags)


def from_polygons(pyobj: object, h: int, w: int) -> RLE | list[RLE]:
    """Compressed RLE objects of polygons, boxes or uncompressed RLE objects, as
    ``pycocotools.mask.frPyObjects``.

    Parameters
    ----------
    pyobj : one of
        - a list of polygons ``[[x0, y0, x1, y1, ...], ...]`` (each at least 3 points):
          one RLE object per polygon (use :func:`merge` to join an object's parts);
        - boxes: ndarray of shape (n, 4) or a list of 4-number lists, xywh;
        - a list of RLE objects with uncompressed counts (or compressed ones);
        - one polygon, one box (flat list of numbers) or one RLE object: one result.
    h, w : int
        The image's height and width (an RLE object's own size must equal them).

    Returns
    -------
    list of dicts, or one dict for one object
        ``{"size": [h, w], "counts": bytes}``.

    Notes
    -----
    Polygons are rasterised as maskApi.c's ``rleFrPoly``: the outline, upsampled 5
    times, is walked pixel by pixel; a pixel is in when the centre of its column cell
    lies between the outline's crossings. A box ``[x, y, bw, bh]`` is the polygon
    ``[x, y, x, y + bh, x + bw, y + bh, x + bw, y]``.
    """
    check_size(h, w, "h, w")
    if isinstance(pyobj, Mapping):
        with _alone("rle"):
            return _rles_of([pyobj], h, w, "rle")[0]
    if isinstance(pyobj, np.ndarray):
        return _boxes_of(pyobj, h, w)
    if not isinstance(pyobj, list) or not pyobj:
        raise InputError("pyobj", "expected polygons, boxes or RLE objects (a non-empty list)")
    first = pyobj[0]
    if isinstance(first, Mapping):
        return _rles_of(pyobj, h, w, "rles")
    if isinstance(first, (list, tuple, np.ndarray)):
        if len(first) == 4:
            return _boxes_of(pyobj, h, w)
        return _polygons_of([[(f"polygons[{i}]", p)] for i, p in enumerate(pyobj)], h, w)
    if len(pyobj) == 4:
        with _alone("boxes"):
            return _boxes_of([pyobj], h, w)[0]
    return _polygons_of([[("polygon", pyobj)]], h, w)[0]


def _rles_of(objs: list[Any], h: int, w: int, where: str) -> list[RLE]:
    n = len(objs)
    heights, widths = np.full(n, h, dtype=np.int64), np.full(n, w, dtype=np.int64)
    for i, obj in enumerate(objs):
        if not isinstance(obj, Mapping):
            raise InputError(f"{where}[{i}]", "expected an RLE object like the first one")
    return RunLengths.from_coco(objs, heights, widths, where=where).to_coco()


def _boxes_of(boxes: object, h: int, w: int) -> list[RLE]:
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("boxes", "expected numbers, 4 per box") from None
    if array.ndim != 2 or array.shape[1] != 4:
        raise InputError("boxes", f"expected shape (n, 4), got {array.shape}")
    bad = np.argwhere(~(np.abs(array) <= MAX_COORDINATE))  # (k, 2): box, number
    if len(bad):
        i, j = bad[0]
        raise InputError(f"boxes[{i}]", f"number {j} is {array[i, j]}, not a finite coordinate")
    polygons = bbox_polygons(array)  # (n, 8)
    return _polygons_of([[(f"boxes[{i}]", p)] for i, p in enumerate(polygons)], h, w)


def _polygons_of(objects: list[LocatedPolygons], h: int, w: int) -> list[RLE]:
    """One RLE object per object of located polygons."""
    if h < 1 or w < 1:
        raise InputError("h, w", f"polygons need an image of at least 1 x 1, got [{h}, {w}]")
    n = len(objects)
    heights, widths = np.full(n, h, dtype=np.int64), np.full(n, w, dtype=np.int64)
    counts, offsets = rasterise(objects, heights, widths)
    return RunLengths(counts, offsets, heights, widths).to_coco()
