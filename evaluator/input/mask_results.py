"""A results file of masks read in chunks by the compiled scanner, on every core.

A segm results file is mostly its masks' strings (279 MB for 500,000 masks, 211 MB of
them strings). Reading it whole and then scanning it holds the file and the strings at
once; here the file is read a chunk at a time, each chunk cut between two results and
closed as a JSON array of its own, and the chunks are scanned on worker threads (the
scanner releases the GIL) while the next ones are read. The scanner moves a chunk's
strings to its start, in place; its columns and those strings are copied into blocks
sized for the whole file as soon as it is done, so the peak holds the strings and a few
chunks. The scan needs nothing of the ground truth; the masks are then
checked against their images (:func:`check_masks`).

A cut between results is the last ``}`` ``,`` ``{`` of a chunk outside any string or
nested value; a cut anywhere else leaves one of the two chunks unbalanced (a string or
a value left open), which the scanner refuses, and the file is then read by the general
loader, as a file the scanner does not read.
"""

from __future__ import annotations

import io
import mmap
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.input import _scan
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

CHUNK_BYTES = 1 << 23  # 8 MB of the file per chunk
_TAIL = 1 << 16  # where the last cut is looked for first: the chunk's last 64 KB
_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*(?=\{)")

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


def scan_mask_file(file: io.BufferedIOBase, size: int) -> ScannedMasks | None:
    """The columns of an open results file of masks, or None when the scanner does not
    read it (then the general loader does).

    Parameters
    ----------
    file : binary file open for reading, at its start
    size : int
        Its length in bytes.
    """
    gathered = _Gathered(size)
    workers = threads()
    blocks = _Blocks()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Future[tuple[Any, ...] | None], mmap.mmap]] = deque()
        for block, chunk in _chunks(file, size, blocks):
            # the columns come back as buffers of the scanner's, the strings at the
            # chunk's start (moved there in place: no memory of their own)
            pending.append((pool.submit(_scan.scan_mask_results, chunk), block))
            del chunk  # the worker holds it until it is scanned
            while len(pending) > workers or (pending and pending[0][0].done()):
                future, done = pending.popleft()
                if not gathered.add(future.result(), done):
                    for future, _ in pending:
                        future.cancel()
                    return None
                blocks.free.append(done)  # its strings are gathered: read the next chunk in
        while pending:
            future, done = pending.popleft()
            if not gathered.add(future.result(), done):
                return None
    del blocks
    rle.release_freed()  # the chunks' columns, freed on the worker threads
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
    """Blocks of memory mapped from the OS for the chunks: a few, each reused once its
    chunk is scanned (a new block costs the OS zeroing its pages), all unmapped when the
    last view of them goes (freed blocks of a few megabytes from the heap would stay with
    the process)."""

    def __init__(self) -> None:
        self.free: list[mmap.mmap] = []

    def take(self, size: int) -> mmap.mmap:
        """A block of at least ``size`` bytes."""
        while self.free:
            block = self.free.pop()
            if len(block) >= size:
                return block
        return mmap.mmap(-1, max(size, CHUNK_BYTES + _TAIL))


def _chunks(
    file: io.BufferedIOBase, size: int, blocks: _Blocks
) -> Iterator[tuple[mmap.mmap, memoryview]]:
    """The ``size`` bytes of a file in chunks of about :data:`CHUNK_BYTES`, each cut
    between two results and closed as a JSON array (``[`` before, ``]`` after, except
    where the file has its own): each chunk's block (to give back to ``blocks`` once the
    chunk is scanned) and the chunk in it."""
    carry = b""  # the start of the next chunk: "[" and the results after the last cut
    left = size
    while True:
        block = blocks.take(len(carry) + min(CHUNK_BYTES, left))
        block[: len(carry)] = carry
        got = file.readinto(memoryview(block)[len(carry) : len(carry) + min(CHUNK_BYTES, left)])
        left -= got
        end = len(carry) + got
        cut = None if left <= 0 or got == 0 else _last_cut(block, end)
        if cut is None:
            if left <= 0 or got == 0:  # the end of the file
                yield block, memoryview(block)[:end]
                return
            carry = block[:end]  # no cut yet (a result longer than a chunk): read on
            blocks.free.append(block)
            continue
        close, start = cut
        carry = b"[" + block[start:end]
        block[close] = ord("]")  # in place of the space or comma after the "}"
        yield block, memoryview(block)[: close + 1]


def _last_cut(text: mmap.mmap, end: int) -> tuple[int, int] | None:
    """(just after the ``}``, the ``{``) of the last cut in ``text[:end]``, or None."""
    last = None
    for lo in sorted({max(end - _TAIL, 0), 0}, reverse=True):
        for last in _CUT.finditer(text, lo, end):  # noqa: B007 (the last one is kept)
            pass
        if last is not None:
            return last.start() + 1, last.end()
    return None


def image_sizes(
    image_ids: NDArray[np.int64], sizes: ImageSizes
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Whether each image id is one of ``sizes``' keys, and its height and width (0 if not)."""
    keys, heights, widths = sizes
    if keys.size == 0:
        zeros = np.zeros(image_ids.shape[0], dtype=np.int64)
        return np.zeros(image_ids.shape[0], dtype=bool), zeros, zeros
    at = np.minimum(np.searchsorted(keys, image_ids), keys.shape[0] - 1)
    known = keys[at] == image_ids
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
    """The chunks' columns gathered in file order into blocks sized for the whole file
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

    def add(self, scanned: tuple[Any, ...] | None, chunk: mmap.mmap) -> bool:
        """Append a chunk's columns, as the scanner gives them, and its strings (at the
        start of ``chunk``); False when it did not read the chunk."""
        if scanned is None:
            return False
        (
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
        ) = scanned
        n = self.n
        if n + m > self.starts.shape[0] - 1:  # not a plain file after all: room anyway
            self._grow(n + m)
        raw = (image_raw, category_raw, box_raw, score_raw, size_raw, totals)
        for column, values in zip(self.columns.values(), raw, strict=True):
            column[n : n + m] = np.frombuffer(values, column.dtype).reshape(m, *column.shape[1:])
        starts = np.frombuffer(start_raw, dtype=np.int64)
        used = int(self.starts[n])
        self.blob[used : used + length] = np.frombuffer(chunk, dtype=np.uint8, count=length)
        self.starts[n + 1 : n + m + 1] = starts[1:] + used
        self.n += m
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
        """The file's columns; None when the results mix chunks with and without a
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
