"""A batch of COCO run-length encoded masks as columns, and its vectorised operations.

The evaluation engine works on :class:`RunLengths` without a Python object per mask:
the counts of every mask in one flat uint32 array, cut by int64 offsets. Areas, boxes
and IoU run on the runs in C (maskApi.c's algorithms), never on decoded bitmaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluator.errors import InputError
from evaluator.masks._engine import rle
from evaluator.masks.parse import (
    MAX_AREA,
    Columns,
    check_columns,
    check_size,
    parse_json_segmentations,
    parse_segmentations,
)
from evaluator.threads import run_in_chunks

__all__ = ["RunLengths", "pairwise_iou"]


@dataclass(frozen=True, eq=False)
class RunLengths:
    """``n`` masks in COCO's run-length encoding, as four columns (checked on creation).

    Mask ``i`` is ``heights[i]`` x ``widths[i]`` pixels; its runs are
    ``counts[offsets[i]:offsets[i + 1]]``, alternately background and foreground, the
    first one background (possibly of length 0), over the pixels in column-major order
    (down each column, then the next column), and they sum to ``heights[i] * widths[i]``.

    Parameters
    ----------
    counts : ndarray of shape (N,), dtype uint32
        The runs of every mask, one mask after the other.
    offsets : ndarray of shape (n + 1,), dtype int64
        Where each mask's runs start in ``counts``; ``offsets[n] == N``.
    heights, widths : ndarray of shape (n,), dtype int64
        Each mask's size; ``heights * widths <= 2**32 - 1``.

    Raises
    ------
    InputError
        When the columns disagree (shapes, offsets, counts that do not sum to the size).
    """

    counts: NDArray[np.uint32]
    offsets: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]

    def __post_init__(self) -> None:
        columns = check_columns(self.counts, self.offsets, self.heights, self.widths)
        for name, column in columns._asdict().items():
            column.flags.writeable = False
            object.__setattr__(self, name, column)

    @classmethod
    def _of_valid(cls, columns: Columns) -> RunLengths:
        """A batch of columns this package built and checked itself (the kernels decode,
        rasterise and sum-check every mask), taken without a second check or copy: at
        COCO's scale the counts run to hundreds of megabytes."""
        made = cls.__new__(cls)
        for name, column in columns._asdict().items():
            column.flags.writeable = False
            object.__setattr__(made, name, column)
        return made

    @classmethod
    def from_coco(
        cls,
        segmentations: Sequence[object],
        heights: ArrayLike | None = None,
        widths: ArrayLike | None = None,
        *,
        where: str = "segmentations",
    ) -> RunLengths:
        """The masks of COCO segmentations, as pycocotools' ``annToRLE`` reads them.

        Parameters
        ----------
        segmentations : sequence of length n
            Each one of: an RLE object ``{"size": [h, w], "counts": ...}`` with compressed
            (str or bytes) or uncompressed (list of ints) counts; a compressed counts
            string alone; a list of polygons ``[[x0, y0, x1, y1, ...], ...]``, rasterised
            as ``frPyObjects`` and merged (union) as ``merge``.
        heights, widths : array_like of shape (n,), optional
            The size of each segmentation's image; needed for polygons and bare strings.
            When given, an RLE object's ``size`` must equal it.
        where : str
            The name of ``segmentations`` in error messages (``where[i].counts``).

        Returns
        -------
        RunLengths
            ``n`` masks, in the order of ``segmentations``.

        Raises
        ------
        InputError
            With the location of the first segmentation that cannot be read.
        """
        h = w = None
        if (heights is None) != (widths is None):
            raise InputError(where, "give both heights and widths, or neither")
        if heights is not None and widths is not None:
            h = np.ascontiguousarray(heights, dtype=np.int64)
            w = np.ascontiguousarray(widths, dtype=np.int64)
            for i in np.flatnonzero((h < 0) | (w < 0) | (h * w > MAX_AREA))[:1]:
                check_size(int(h[i]), int(w[i]), f"{where}[{i}] (its image's size)")
            if h.shape != (len(segmentations),) or w.shape != h.shape:
                raise InputError(
                    where, f"heights and widths must have shape ({len(segmentations)},)"
                )
        return cls._of_valid(parse_segmentations(segmentations, h, w, where))

    @classmethod
    def from_json(
        cls,
        texts: Sequence[msgspec.Raw | bytes],
        heights: NDArray[np.int64],
        widths: NDArray[np.int64],
        *,
        where: str = "segmentations",
    ) -> RunLengths:
        """:meth:`from_coco` of segmentations given as their JSON text (as
        ``msgspec.Raw`` keeps them), read without a Python object per polygon coordinate.

        ``heights`` and ``widths`` (int64, shape (n,)) are the images' sizes, already
        checked with :func:`evaluator.masks.parse.check_size`; the errors are
        :meth:`from_coco`'s.
        """
        return cls._of_valid(parse_json_segmentations(texts, heights, widths, where))

    def __len__(self) -> int:
        return len(self.heights)

    def take(self, rows: ArrayLike) -> RunLengths:
        """The masks at ``rows`` (array_like of int, shape (m,)), in that order."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        lengths = np.diff(self.offsets)[rows]  # (m,)
        offsets = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        source = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])
        columns = Columns(self.counts[source], offsets, self.heights[rows], self.widths[rows])
        return RunLengths._of_valid(columns)

    def area(self) -> NDArray[np.uint32]:
        """Pixels in each mask: ndarray of shape (n,), dtype uint32 (pycocotools' ``area``)."""
        out = np.empty(len(self), dtype=np.uint32)

        def run(first: int, last: int) -> None:
            counts, offsets = self._runs_of(first, last)
            rle.area(counts, offsets, out[first:last])

        run_in_chunks(run, np.diff(self.offsets) + 1)
        return out

    def to_bbox(self) -> NDArray[np.float64]:
        """Each mask's bounding box: ndarray of shape (n, 4), dtype float64, ``[x, y, w, h]``.

        As pycocotools' ``toBbox``: ``[0, 0, 0, 0]`` for a mask without runs of pixels.
        """
        out = np.empty((len(self), 4), dtype=np.float64)

        def run(first: int, last: int) -> None:
            counts, offsets = self._runs_of(first, last)
            h, w = self.heights[first:last], self.widths[first:last]
            rle.to_bbox(counts, offsets, h, w, out[first:last])

        run_in_chunks(run, np.diff(self.offsets) + 1)
        return out

    def _runs_of(self, first: int, last: int) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
        """The counts and offsets (from 0) of masks ``first`` to ``last - 1``."""
        start = int(self.offsets[first])
        counts = self.counts[start : int(self.offsets[last])]
        return counts, self.offsets[first : last + 1] - start

    def to_coco(self) -> list[dict[str, object]]:
        """Each mask as a compressed COCO RLE object ``{"size": [h, w], "counts": bytes}``."""
        strings = rle.encode_strings(self.counts, self.offsets)
        return [
            {"size": [int(h), int(w)], "counts": s}
            for h, w, s in zip(self.heights, self.widths, strings)
        ]


def pairwise_iou(dt: RunLengths, gt: RunLengths, crowd: ArrayLike) -> NDArray[np.float64]:
    """IoU of every detection mask with every ground-truth mask, as pycocotools' ``iou``.

    Parameters
    ----------
    dt : RunLengths of D masks
    gt : RunLengths of G masks, all of the detections' size
    crowd : array_like of shape (G,)
        Nonzero for a crowd ground truth (converted as ``np.array(crowd, dtype=np.uint8)``).

    Returns
    -------
    iou : ndarray of shape (D, G), dtype float64
        ``iou[d, g] = |dt[d] ∩ gt[g]| / |dt[d] ∪ gt[g]|``, or ``/ |dt[d]|`` when ``gt[g]``
        is a crowd; 0 when the boxes of the two do not overlap (pycocotools' shortcut).

    Raises
    ------
    InputError
        When ``crowd`` does not have G flags, or two masks differ in size (pycocotools
        would give -1 there, where their boxes overlap).

    Notes
    -----
    As maskApi.c's ``rleIou``: the box IoU first, and where it is positive, the
    intersection and union counted along both masks' runs, ``double(i) / double(u)``.
    """
    flags = np.array(crowd, dtype=np.uint8).reshape(-1)
    if flags.shape != (len(gt),):
        raise InputError(
            "crowd", f"expected {len(gt)} flags (one per ground truth), got {flags.size}"
        )
    out = np.zeros((len(dt), len(gt)), dtype=np.float64)
    if len(dt) == 0 or len(gt) == 0:
        return out
    _check_same_size(dt, gt)
    rle.iou(
        dt.counts,
        dt.offsets,
        dt.to_bbox(),
        gt.counts,
        gt.offsets,
        gt.to_bbox(),
        flags,
        out,
        0,
        len(dt),
    )
    return out


def _check_same_size(dt: RunLengths, gt: RunLengths) -> None:
    """InputError naming the first mask whose size differs from ``gt[0]``'s."""
    h, w = gt.heights[0], gt.widths[0]
    for name, batch in (("gt", gt), ("dt", dt)):
        bad = np.flatnonzero((batch.heights != h) | (batch.widths != w))
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"{name}[{i}].size",
                f"[{batch.heights[i]}, {batch.widths[i]}] differs from gt[0]'s [{h}, {w}]",
            )
