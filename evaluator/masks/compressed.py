"""Masks kept as COCO's compressed RLE strings, decoded only where they are compared.

A results file of 500,000 masks holds about 140 million runs: half a gigabyte decoded.
pycocotools decodes each image's masks when it compares them; :class:`CompressedMasks`
does the same in the compiled kernel: the strings are checked, measured (area, box) once,
and decoded again only for the pairs whose boxes overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluator.errors import InputError
from evaluator.masks._engine import rle
from evaluator.masks.runs import RunLengths
from evaluator.threads import run_in_chunks

__all__ = [
    "CompressedMasks",
    "Groups",
    "MaskBatch",
    "group_iou_into",
    "measure_into",
    "pair_iou_into",
]


@dataclass(frozen=True, eq=False)
class CompressedMasks:
    """``n`` masks as compressed RLE strings in one blob, checked and measured.

    Attributes
    ----------
    blob : bytes or memoryview
        The strings one after the other (pycocotools' alphabet, ASCII 48 to 111); any
        read-only block of bytes, such as the results scanner's, without a copy.
    starts : ndarray of shape (n + 1,), dtype int64
        Mask ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    heights, widths : ndarray of shape (n,), dtype int64
    areas : ndarray of shape (n,), dtype uint32
        Pixels in each mask (pycocotools' ``area``).
    boxes : ndarray of shape (n, 4), dtype float64
        Each mask's ``xywh`` box (pycocotools' ``toBbox``).
    """

    blob: bytes | memoryview
    starts: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]
    areas: NDArray[np.uint32]
    boxes: NDArray[np.float64]

    @classmethod
    def from_strings(
        cls,
        blob: bytes | memoryview,
        starts: ArrayLike,
        heights: ArrayLike,
        widths: ArrayLike,
        *,
        where: str = "segmentations",
    ) -> CompressedMasks:
        """Check and measure the strings of a blob.

        Raises
        ------
        InputError
            At ``where[i].counts``: a string that does not decode, or whose counts do not
            sum to its height * width.
        """
        start = np.ascontiguousarray(starts, dtype=np.int64)
        h = np.ascontiguousarray(heights, dtype=np.int64)
        w = np.ascontiguousarray(widths, dtype=np.int64)
        areas = np.empty(h.shape[0], dtype=np.uint32)
        boxes = np.empty((h.shape[0], 4), dtype=np.float64)
        view = memoryview(blob)
        problems: list[tuple[int, str]] = []  # (index, problem) of each chunk's first

        def measure(first: int, last: int) -> None:
            lo, hi = int(start[first]), int(start[last])
            problem = measure_into(
                view[lo:hi], start[first : last + 1] - lo, h[first:last], w[first:last],
                areas[first:last], boxes[first:last],
            )  # fmt: skip
            if problem is not None:
                problems.append((first + problem[0], problem[1]))

        run_in_chunks(measure, np.diff(start) + 1)  # work: characters per string
        if problems:
            index, problem = min(problems)
            raise InputError(f"{where}[{index}].counts", problem)
        return cls.of_measured(view, start, h, w, areas, boxes)

    @classmethod
    def of_measured(
        cls,
        blob: bytes | memoryview,
        starts: NDArray[np.int64],
        heights: NDArray[np.int64],
        widths: NDArray[np.int64],
        areas: NDArray[np.uint32],
        boxes: NDArray[np.float64],
    ) -> CompressedMasks:
        """Masks whose strings :func:`measure_into` checked and measured, without a copy
        (the columns are made read-only)."""
        for column in (starts, heights, widths, areas, boxes):
            column.flags.writeable = False
        return cls(blob, starts, heights, widths, areas, boxes)

    def __len__(self) -> int:
        return int(self.heights.shape[0])

    def area(self) -> NDArray[np.uint32]:
        """Pixels in each mask: ndarray of shape (n,), dtype uint32."""
        return self.areas

    def to_bbox(self) -> NDArray[np.float64]:
        """Each mask's box: ndarray of shape (n, 4), dtype float64, ``[x, y, w, h]``."""
        return self.boxes

    def take(self, rows: ArrayLike) -> CompressedMasks:
        """The masks at ``rows`` (array_like of int, shape (m,)), in that order."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        lengths = np.diff(self.starts)[rows]  # (m,)
        starts = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        source = np.repeat(self.starts[rows] - starts[:-1], lengths) + np.arange(starts[-1])
        blob = np.frombuffer(self.blob, dtype=np.uint8)[source].tobytes()
        return CompressedMasks(
            blob, starts, self.heights[rows], self.widths[rows], self.areas[rows], self.boxes[rows]
        )


MaskBatch = RunLengths | CompressedMasks


def measure_into(
    blob: bytes | memoryview,
    starts: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    areas: NDArray[np.uint32],
    boxes: NDArray[np.float64],
) -> tuple[int, str] | None:
    """Check the strings of a blob and write their areas and boxes, on this thread.

    Parameters
    ----------
    blob : bytes or memoryview
    starts : ndarray of shape (n + 1,), dtype int64
        String ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    heights, widths : ndarray of shape (n,), dtype int64
    areas : ndarray of shape (n,), dtype uint32
    boxes : ndarray of shape (n, 4), dtype float64
        Written: each mask's area and ``xywh`` box, up to the first bad string.

    Returns
    -------
    (index, problem) or None
        The first string that does not decode, or whose counts do not sum to its
        height * width, and why.
    """
    try:
        rle.measure_strings(blob, starts, heights, widths, areas, boxes)
    except ValueError as error:  # ValueError(index, problem) from the kernel
        index, problem = error.args
        return int(index), str(problem)
    return None


def pair_iou_into(
    dt: MaskBatch,
    dt_box: NDArray[np.float64],
    gt: RunLengths,
    gt_box: NDArray[np.float64],
    crowd: NDArray[np.uint8],
    pair_dt: NDArray[np.int64],
    pair_gt: NDArray[np.int64],
    out: NDArray[np.float64],
) -> None:
    """The IoU of listed (detection, ground truth) mask pairs, as pycocotools' ``iou``.

    Parameters
    ----------
    dt : RunLengths or CompressedMasks
    dt_box : ndarray of shape (len(dt), 4), dtype float64
        ``dt.to_bbox()``.
    gt : RunLengths
    gt_box : ndarray of shape (len(gt), 4), dtype float64
        ``gt.to_bbox()``.
    crowd : ndarray of shape (len(gt),), dtype uint8
    pair_dt, pair_gt : ndarray of shape (P,), dtype int64
        Rows of each pair's masks; pairs of one detection are best kept together.
    out : ndarray of shape (P,), dtype float64
        Written: each pair's IoU (over the detection's area for a crowd).
    """
    if isinstance(dt, CompressedMasks):
        rle.pair_iou_strings(
            dt.blob, dt.starts, dt_box, gt.counts, gt.offsets, gt_box, crowd,
            pair_dt, pair_gt, out,
        )  # fmt: skip
    else:
        rle.pair_iou(
            dt.counts, dt.offsets, dt_box, gt.counts, gt.offsets, gt_box, crowd,
            pair_dt, pair_gt, out,
        )  # fmt: skip


class Groups(NamedTuple):
    """Groups of (detection, ground truth) pairs: group k pairs the masks
    ``det_rows[det_start[k]:det_start[k + 1]]`` with ``gt_rows[gt_lo[k]:gt_hi[k]]``; its
    IoUs start at ``block_start[k]``, detection-major. Contiguous int64 arrays."""

    det_rows: NDArray[np.int64]
    gt_rows: NDArray[np.int64]
    det_start: NDArray[np.int64]
    gt_lo: NDArray[np.int64]
    gt_hi: NDArray[np.int64]
    block_start: NDArray[np.int64]


def group_iou_into(
    dt: MaskBatch,
    dt_measures: tuple[NDArray[np.float64], NDArray[np.uint32]],
    gt: RunLengths,
    gt_measures: tuple[NDArray[np.float64], NDArray[np.uint32]],
    crowd: NDArray[np.uint8],
    groups: Groups,
    out: NDArray[np.float64],
    first: int,
    last: int,
) -> None:
    """The IoU of every (detection, ground truth) pair of groups ``first`` to ``last - 1``,
    as pycocotools' ``iou``, each detection's mask decoded once.

    Parameters
    ----------
    dt : RunLengths or CompressedMasks
        The detections' masks.
    dt_measures : (ndarray (len(dt), 4) float64, ndarray (len(dt),) uint32)
        ``dt.to_bbox()`` and ``dt.area()``.
    gt : RunLengths
        The ground truth's masks, each of its detections' size.
    gt_measures : (ndarray (len(gt), 4) float64, ndarray (len(gt),) uint32)
        ``gt.to_bbox()`` and ``gt.area()``.
    crowd : ndarray of shape (len(gt),), dtype uint8
        Crowd flag of each ground-truth mask.
    groups : Groups
    out : ndarray of dtype float64
        Written: each pair's IoU (over the detection's area for a crowd).
    first, last : int
    """
    compressed = isinstance(dt, CompressedMasks)
    data, starts = (dt.blob, dt.starts) if compressed else (dt.counts, dt.offsets)  # type: ignore[union-attr]
    rle.group_iou(
        data, starts, compressed, *dt_measures, gt.counts, gt.offsets, *gt_measures, gt.heights,
        crowd, *groups, out, first, last,
    )  # fmt: skip
