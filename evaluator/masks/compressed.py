"""Masks kept as COCO's compressed RLE strings, decoded only where they are compared.

A results file of 500,000 masks holds about 140 million runs: half a gigabyte decoded.
pycocotools decodes each image's masks when it compares them; :class:`CompressedMasks`
does the same in the compiled kernel: the strings are checked once, measured (area, box)
when asked, and decoded again for the groups of pairs they are compared in, once each.
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
    "measure_batch",
    "measure_into",
    "pair_iou_into",
]


@dataclass(frozen=True, eq=False)
class CompressedMasks:
    """``n`` masks as compressed RLE strings in one blob, checked, measured when asked.

    Attributes
    ----------
    blob : bytes or memoryview
        The strings one after the other (pycocotools' alphabet, ASCII 48 to 111); any
        read-only block of bytes, such as the results scanner's, without a copy.
    starts : ndarray of shape (n + 1,), dtype int64
        Mask ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    heights, widths : ndarray of shape (n,), dtype int64
    areas : ndarray of shape (n,), dtype uint32, or None
        Pixels in each mask (pycocotools' ``area``); None until :meth:`area` or
        :meth:`to_bbox` measures them.
    boxes : ndarray of shape (n, 4), dtype float64, or None
        Each mask's ``xywh`` box (pycocotools' ``toBbox``), likewise.
    """

    blob: bytes | memoryview
    starts: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]
    areas: NDArray[np.uint32] | None = None
    boxes: NDArray[np.float64] | None = None

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
        view = memoryview(blob)
        areas, boxes, problem = measure_batch(view, start, h, w)
        if problem is not None:
            raise InputError(f"{where}[{problem[0]}].counts", problem[1])
        return cls.of_checked(view, start, h, w, (areas, boxes))

    @classmethod
    def of_checked(
        cls,
        blob: bytes | memoryview,
        starts: NDArray[np.int64],
        heights: NDArray[np.int64],
        widths: NDArray[np.int64],
        measures: tuple[NDArray[np.uint32], NDArray[np.float64]] | None = None,
    ) -> CompressedMasks:
        """Masks whose strings were checked (as the results scanner reads them, or by
        :func:`measure_into`), without a copy (the columns are made read-only);
        ``measures``: their (areas, boxes), when measured."""
        columns = (starts, heights, widths, *(measures or ()))
        for column in columns:
            column.flags.writeable = False
        return cls(blob, *columns)

    def __len__(self) -> int:
        return int(self.heights.shape[0])

    def area(self) -> NDArray[np.uint32]:
        """Pixels in each mask: ndarray of shape (n,), dtype uint32."""
        return self._measures()[0]

    def to_bbox(self) -> NDArray[np.float64]:
        """Each mask's box: ndarray of shape (n, 4), dtype float64, ``[x, y, w, h]``."""
        return self._measures()[1]

    def _measures(self) -> tuple[NDArray[np.uint32], NDArray[np.float64]]:
        """(areas, boxes), measured now when they were not."""
        if self.areas is None or self.boxes is None:
            view = memoryview(self.blob)
            areas, boxes, _ = measure_batch(view, self.starts, self.heights, self.widths)
            for name, column in (("areas", areas), ("boxes", boxes)):
                column.flags.writeable = False
                object.__setattr__(self, name, column)
            return areas, boxes
        return self.areas, self.boxes

    def take(self, rows: ArrayLike) -> CompressedMasks:
        """The masks at ``rows`` (array_like of int, shape (m,)), in that order."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        lengths = np.diff(self.starts)[rows]  # (m,)
        starts = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        source = np.repeat(self.starts[rows] - starts[:-1], lengths) + np.arange(starts[-1])
        blob = np.frombuffer(self.blob, dtype=np.uint8)[source].tobytes()
        measured = self.areas is not None and self.boxes is not None
        return CompressedMasks(
            blob,
            starts,
            self.heights[rows],
            self.widths[rows],
            self.areas[rows] if measured else None,  # type: ignore[index]
            self.boxes[rows] if measured else None,  # type: ignore[index]
        )


MaskBatch = RunLengths | CompressedMasks


def measure_batch(
    view: memoryview,
    starts: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
) -> tuple[NDArray[np.uint32], NDArray[np.float64], tuple[int, str] | None]:
    """(areas, boxes, first problem) of the strings of a blob, measured on every core."""
    areas = np.empty(heights.shape[0], dtype=np.uint32)
    boxes = np.empty((heights.shape[0], 4), dtype=np.float64)
    problems: list[tuple[int, str]] = []  # (index, problem) of each chunk's first

    def measure(first: int, last: int) -> None:
        lo, hi = int(starts[first]), int(starts[last])
        problem = measure_into(
            view[lo:hi], starts[first : last + 1] - lo, heights[first:last], widths[first:last],
            areas[first:last], boxes[first:last],
        )  # fmt: skip
        if problem is not None:
            problems.append((first + problem[0], problem[1]))

    run_in_chunks(measure, np.diff(starts) + 1)  # work: characters per string
    return areas, boxes, min(problems) if problems else None


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

    The masks' runs are compared only in the columns both boxes span (their areas give
    the union); the pairs are cut into ranges that run on every core.
    """
    dt_area, gt_area = dt.area(), gt.area()
    gt_side = (gt.counts, gt.offsets, gt_box, gt_area, gt.heights, crowd)

    def run(first: int, last: int) -> None:
        pairs = pair_dt[first:last], pair_gt[first:last], out[first:last]
        if isinstance(dt, CompressedMasks):
            rle.pair_iou_strings(dt.blob, dt.starts, dt_box, dt_area, *gt_side, *pairs)
        else:
            rle.pair_iou(dt.counts, dt.offsets, dt_box, dt_area, *gt_side, *pairs)

    run_in_chunks(run, int(pair_dt.shape[0]))


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
    dt_measures: tuple[NDArray[np.float64], NDArray[np.uint32]] | None,
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
    dt_measures : (ndarray (len(dt), 4) float64, ndarray (len(dt),) uint32), or None
        ``dt.to_bbox()`` and ``dt.area()``; None: each detection's taken from its runs
        where its group has ground truth (those of the other groups are never needed).
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
    dt_box, dt_area = dt_measures or (np.zeros((0, 4)), np.zeros(0, dtype=np.uint32))
    rle.group_iou(
        data, starts, compressed, dt_box, dt_area, gt.counts, gt.offsets, *gt_measures,
        gt.heights, gt.widths, crowd, *groups, out, first, last,
    )  # fmt: skip
