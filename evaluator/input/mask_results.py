"""A results file of masks read in parts by the compiled scanner, on every core.

A segm results file is mostly its masks' strings (279 MB for 500,000 masks, 211 MB of
them strings). The file is mapped, not read; it is cut into parts of about
:data:`PART_BYTES` between two results, and each worker thread scans part after part
straight from the mapping, writing the part's strings to a block of its own (the first
part's straight to the start of the gathered strings), then lets the part's pages go.
Nothing of a part passes through Python on the way (a thread that holds the GIL, the
ground truth's loader, does not hold the scan up; the workers' first parts, of
:data:`FIRST_PART_BYTES`, last through its JSON decode). The parts' columns and strings
are gathered in file order into arrays sized for the whole file, each block given back
as soon as its part is gathered, so the peak holds the strings and a few blocks. The
scan needs nothing of the ground truth; the masks are then checked against their images
(:func:`check_masks`).

A cut is a ``}`` ``,`` ``{`` near an even share of the bytes; whether it falls between
two results only the scan of the part before it can tell (the part's last result must
end there). When one does not, the file is scanned again as one part; when that fails
too, the file is read by the general loader, as a file the scanner does not read.
"""

from __future__ import annotations

import mmap
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.input import _scan
from evaluator.input.ids import index_of
from evaluator.input.result_scan import Text, forget
from evaluator.masks._engine import rle
from evaluator.masks.compressed import measure_batch
from evaluator.threads import threads

__all__ = [
    "ImageSizes",
    "MaskCheck",
    "ScannedMasks",
    "check_masks",
    "image_sizes",
    "scan_mask_file",
]

PART_BYTES = 1 << 22  # 4 MB of the file per part
# The workers' first parts: they scan on without the GIL while the ground truth's loader
# holds it (its JSON decode, some 50 ms at COCO's scale).
FIRST_PART_BYTES = 1 << 25
_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*(?=\{)")
_FAILED, _AT_STOP, _AT_END = 0, 1, 2  # how a part's scan ends (3: past its stop)

#: An image's (keys (k,), heights (k,), widths (k,)) of the ground truth, int64.
ImageSizes = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True)
class ScannedMasks:
    """The columns of a plain results file of masks, as scanned (nothing checked yet).

    Attributes
    ----------
    image_ids, category_ids : ndarray of shape (n,), dtype int64
    boxes : ndarray of shape (n, 4), dtype float64
        Each result's ``bbox`` (zeros when the results have none).
    scores : ndarray of shape (n,), dtype float64
    boxed : bool
        Whether the results carry a ``bbox`` (all of them do, or none).
    given_sizes : ndarray of shape (n, 2), dtype int64
        Each segmentation's ``size``, as written.
    blob : memoryview
        The masks' compressed strings one after the other.
    starts : ndarray of shape (n + 1,), dtype int64
        Mask ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    totals : ndarray of shape (n,), dtype int64
        The sum of each string's counts (its image's height * width, when it is right),
        or ``-k`` where the string does not decode, for the reason
        ``_scan.STRING_PROBLEMS[k]``.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    boxed: bool
    given_sizes: NDArray[np.int64]
    blob: memoryview
    starts: NDArray[np.int64]
    totals: NDArray[np.int64]


@dataclass(frozen=True)
class MaskCheck:
    """The scanned masks against their images.

    Attributes
    ----------
    heights, widths : ndarray of shape (n,), dtype int64
        The size of each result's image (0 for an image the ground truth lacks).
    wrong_size : int or None
        The first result whose segmentation's ``size`` is not its image's.
    problem : tuple of (int, str), or None
        The first mask whose string does not decode at its image's size, and why.
    measures : (areas (n,) uint32, boxes (n, 4) float64), or None
        Each mask's area and ``xywh`` box, for results without a ``bbox``; None for
        results with one: their masks are only checked (the evaluation measures those it
        compares, a fraction of them).
    """

    heights: NDArray[np.int64]
    widths: NDArray[np.int64]
    wrong_size: int | None
    problem: tuple[int, str] | None
    measures: tuple[NDArray[np.uint32], NDArray[np.float64]] | None


def scan_mask_file(data: Text) -> ScannedMasks | None:
    """The columns of a results file of masks (mapped, or bytes), or None when the scanner
    does not read it (then the general loader does)."""
    cuts = _cuts(data, threads())
    scanned = _scan_parts(data, cuts)
    if scanned is None and len(cuts) > 1:
        scanned = _scan_parts(data, [(0, -1)])  # a cut fell inside a result
    rle.release_freed()  # the parts' columns, freed on the worker threads
    return scanned


def _cuts(data: Text, first: int) -> list[tuple[int, int]]:
    """Byte ranges ``(start, stop)``, every one but the last ending after a ``}`` followed
    by ``,`` and ``{`` (where the next starts); the last one's stop is -1 (to the end).
    The ``first`` ones (one per worker) are about :data:`FIRST_PART_BYTES` long, the
    others about :data:`PART_BYTES`."""
    cuts: list[tuple[int, int]] = []
    start = share = 0
    while True:
        size = FIRST_PART_BYTES if len(cuts) < first else PART_BYTES
        share += size
        if share >= len(data):
            return [*cuts, (start, -1)]
        cut = _CUT.search(data, max(share, start), share + size)
        if cut is not None:
            cuts.append((start, cut.start() + 1))
            start = cut.end()


def _scan_parts(data: Text, cuts: list[tuple[int, int]]) -> ScannedMasks | None:
    """The parts ``cuts`` of ``data`` scanned on the worker threads and gathered in order;
    None when one of them did not end where it should (a cut fell inside a result, or the
    file is not of the plain shape)."""
    spans = [(len(data) if stop < 0 else stop) - start for start, stop in cuts]
    workers = threads()
    blocks = _Blocks(min(workers + 1, len(cuts)))
    gathered = _Gathered(len(data))

    def scan(k: int) -> tuple[Any, ...] | None:
        # the first part's strings are the file's first: written where they stay
        strings = gathered.blob.data if k == 0 else blocks.take(k, spans[k])
        if strings is None:  # the gathering stopped
            return None
        start, stop = cuts[k]
        outcome = _scan.scan_mask_part(data, start, stop, strings)
        forget(data, start, start + spans[k])
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            outcomes = [pool.submit(scan, k) for k in range(len(cuts))]
            for k, outcome in enumerate(outcomes):
                expected = _AT_END if k == len(cuts) - 1 else _AT_STOP
                scanned = outcome.result()  # then its block is the slot's
                block = None if k == 0 else blocks.block(k)
                if not gathered.add(scanned, expected, block):
                    return None
                blocks.give_back(k)
        finally:
            blocks.close()
    return gathered.result()


def check_masks(scanned: ScannedMasks, sizes: ImageSizes) -> MaskCheck:
    """Check the scanned masks against their images' sizes (the scanner decoded each
    string and summed its counts); measure them, on every core, when the results have no
    ``bbox`` (their boxes and areas are then the mask's)."""
    _, heights, widths = image_sizes(scanned.image_ids, sizes)
    given = scanned.given_sizes
    wrong = np.flatnonzero((given[:, 0] != heights) | (given[:, 1] != widths))[:1]
    totals = scanned.totals
    bad = np.flatnonzero(totals != heights * widths)[:1]
    problem = None
    if bad.size:
        code = int(totals[bad[0]])
        why = _scan.STRING_PROBLEMS[-code] if code < 0 else rle.WRONG_SUM
        problem = int(bad[0]), why
    measures = None
    if not scanned.boxed and problem is None:
        areas, boxes, _ = measure_batch(scanned.blob, scanned.starts, heights, widths)
        measures = areas, boxes
    return MaskCheck(heights, widths, int(wrong[0]) if wrong.size else None, problem, measures)


class _Blocks:
    """Blocks of memory for the parts' strings, mapped from the OS (each unmapped when the
    last view of it goes): part ``k`` writes to block ``k % count``, once part
    ``k - count`` is gathered, so that the workers run at most ``count`` parts ahead of
    the gathering."""

    def __init__(self, count: int) -> None:
        self._blocks: list[mmap.mmap | None] = [None] * count
        self._gathered = 0  # the parts gathered so far
        self._closed = False
        self._changed = threading.Condition()

    def take(self, k: int, size: int) -> mmap.mmap | None:
        """Part ``k``'s block of ``size`` bytes or a little more, once it is free; None
        once the gathering has stopped."""
        count = len(self._blocks)
        with self._changed:
            self._changed.wait_for(lambda: self._closed or k < self._gathered + count)
            if self._closed:
                return None
        block = self._blocks[k % count]  # only part k uses this slot now
        if block is None or not size <= len(block) <= 2 * size:  # a first part's is larger
            block = self._blocks[k % count] = mmap.mmap(-1, max(size, 1))
        return block

    def block(self, k: int) -> mmap.mmap:
        """The block part ``k`` wrote to (it has been taken)."""
        block = self._blocks[k % len(self._blocks)]
        assert block is not None
        return block

    def give_back(self, k: int) -> None:
        """Part ``k`` is gathered: its block is free for part ``k + count``."""
        with self._changed:
            self._gathered = k + 1
            self._changed.notify_all()

    def close(self) -> None:
        """Stop handing out blocks: the parts still to scan are skipped."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def image_sizes(
    image_ids: NDArray[np.int64], sizes: ImageSizes
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Whether each image id is one of ``sizes``' keys, and its height and width (0 if not)."""
    keys, heights, widths = sizes
    if keys.size == 0:
        zeros = np.zeros(image_ids.shape[0], dtype=np.int64)
        return np.zeros(image_ids.shape[0], dtype=bool), zeros, zeros
    at, known = index_of(keys, image_ids)
    return known, np.where(known, heights[at], 0), np.where(known, widths[at], 0)


# A plain result has at least its five keys, the segmentation's two, and a value for each.
_MIN_RESULT_BYTES = len(
    '{"image_id":0,"category_id":0,"score":0,"segmentation":{"size":[0,0],"counts":""}}'
)
_ROW_COLUMNS = {
    "image_ids": (np.int64, ()),
    "category_ids": (np.int64, ()),
    "boxes": (np.float64, (4,)),
    "scores": (np.float64, ()),
    "given_sizes": (np.int64, (2,)),
    "totals": (np.int64, ()),
}


class _Gathered:
    """The parts' columns gathered in file order into blocks sized for the whole file
    (the pages never written cost no memory): no copy of them all at the end."""

    def __init__(self, size: int) -> None:
        rows = size // _MIN_RESULT_BYTES + 1
        self.columns = {
            name: np.empty((rows, *shape), dtype=dtype)
            for name, (dtype, shape) in _ROW_COLUMNS.items()
        }
        self.blob = np.empty(max(size, 1), dtype=np.uint8)
        self.starts = np.zeros(rows + 1, dtype=np.int64)
        self.n = 0
        self.boxed: set[bool] = set()

    def add(self, outcome: tuple[Any, ...] | None, expected: int, block: mmap.mmap | None) -> bool:
        """Append a part's columns, as the scanner gives them, and its strings (at the
        start of ``block``; None: the first part's, written to the blob's start); False
        when it was not scanned or did not end as ``expected``."""
        if outcome is None:
            return False
        (
            status,
            m,
            image_raw,
            category_raw,
            box_raw,
            score_raw,
            boxed,
            size_raw,
            length,
            start_raw,
            totals,
        ) = outcome
        if status != expected:
            return False
        n = self.n
        if n + m > self.starts.shape[0] - 1:  # not a plain file after all: room anyway
            self._grow(n + m)
        raw = (image_raw, category_raw, box_raw, score_raw, size_raw, totals)
        for column, values in zip(self.columns.values(), raw, strict=True):
            column[n : n + m] = np.frombuffer(values, column.dtype).reshape(m, *column.shape[1:])
        starts = np.frombuffer(start_raw, dtype=np.int64)
        used = int(self.starts[n])
        if block is not None:
            self.blob[used : used + length] = np.frombuffer(block, dtype=np.uint8, count=length)
        self.starts[n + 1 : n + m + 1] = starts[1:] + used
        self.n += m
        if boxed >= 0:  # -1: no result in the part
            self.boxed.add(bool(boxed))
        return True

    def _grow(self, rows: int) -> None:
        for name, column in self.columns.items():
            grown = np.empty((2 * rows, *column.shape[1:]), dtype=column.dtype)
            grown[: self.n] = column[: self.n]
            self.columns[name] = grown
        starts = np.zeros(2 * rows + 1, dtype=np.int64)
        starts[: self.n + 1] = self.starts[: self.n + 1]
        self.starts = starts

    def result(self) -> ScannedMasks | None:
        """The file's columns; None when the results mix parts with and without a
        ``bbox`` (the scanner refuses such a file too)."""
        if len(self.boxed) > 1:
            return None
        n = self.n
        strings = self.blob[: int(self.starts[n])]
        strings.flags.writeable = False
        rows = {name: column[:n] for name, column in self.columns.items()}
        return ScannedMasks(
            image_ids=rows["image_ids"],
            category_ids=rows["category_ids"],
            boxes=rows["boxes"],
            scores=rows["scores"],
            boxed=self.boxed != {False},
            given_sizes=rows["given_sizes"],
            blob=strings.data,
            starts=self.starts[: n + 1],
            totals=rows["totals"],
        )
