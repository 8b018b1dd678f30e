"""A results file of masks read in chunks by the compiled scanner, on every core.

A segm results file is mostly its masks' strings (279 MB for 500,000 masks, 211 MB of
them strings). Reading it whole and then scanning it holds the file and the strings at
once; here the file is read a chunk at a time, each chunk cut between two results and
closed as a JSON array of its own, and the chunks are scanned and their masks measured
on worker threads (the kernels release the GIL) while the next ones are read. Each
chunk's strings are copied into one block as soon as it is done, so the peak holds the
strings and a few chunks.

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
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from evaluator.input import _scan
from evaluator.masks._engine import rle
from evaluator.masks.compressed import check_into, measure_into
from evaluator.threads import threads

__all__ = ["ImageSizes", "ScannedMasks", "image_sizes", "scan_mask_file"]

CHUNK_BYTES = 1 << 23  # 8 MB of the file per chunk
_TAIL = 1 << 16  # where the last cut is looked for first: the chunk's last 64 KB
_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*(?=\{)")

#: An image's (keys (k,), heights (k,), widths (k,)) of the ground truth, int64.
ImageSizes = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True)
class ScannedMasks:
    """The columns of a plain results file of masks.

    Attributes
    ----------
    image_ids, category_ids : ndarray of shape (n,), dtype int64
    boxes : ndarray of shape (n, 4), dtype float64
        Each result's ``bbox`` (zeros when the results have none).
    scores : ndarray of shape (n,), dtype float64
    boxed : bool
        Whether the results carry a ``bbox`` (all of them do, or none).
    heights, widths : ndarray of shape (n,), dtype int64
        The size of each result's image (0 for an image the ground truth lacks).
    blob : memoryview
        The masks' compressed strings one after the other.
    starts : ndarray of shape (n + 1,), dtype int64
        Mask ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    areas : ndarray of shape (n,), dtype uint32, or None
    mask_boxes : ndarray of shape (n, 4), dtype float64, or None
        Each mask's area and ``xywh`` box, up to the first string that does not decode;
        None for results with a ``bbox``: their masks are only checked (the evaluation
        measures those it compares, a fraction of them).
    wrong_size : tuple of (int, list of int), or None
        The first result whose segmentation's ``size`` is not its image's, and that size.
    problem : tuple of (int, str), or None
        The first mask whose string does not decode at its image's size, and why.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    boxed: bool
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]
    blob: memoryview
    starts: NDArray[np.int64]
    areas: NDArray[np.uint32] | None
    mask_boxes: NDArray[np.float64] | None
    wrong_size: tuple[int, list[int]] | None
    problem: tuple[int, str] | None


def scan_mask_file(file: io.BufferedIOBase, size: int, sizes: ImageSizes) -> ScannedMasks | None:
    """The columns of an open results file of masks, or None when the scanner does not
    read it (then the general loader does).

    Parameters
    ----------
    file : binary file open for reading, at its start
    size : int
        Its length in bytes.
    sizes : (keys, heights, widths)
        The ground truth's images (keys sorted) and their sizes.
    """
    gathered = _Gathered(size)
    workers = threads()
    blocks = _Blocks()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Future[ScannedMasks | None], mmap.mmap]] = deque()
        for block, chunk in _chunks(file, size, blocks):
            pending.append((pool.submit(_scan_chunk, chunk, sizes), block))
            del chunk  # the worker holds it until it is scanned
            while len(pending) > workers or (pending and pending[0][0].done()):
                future, done = pending.popleft()
                blocks.free.append(done)
                if not gathered.add(future.result()):
                    for future, _ in pending:
                        future.cancel()
                    return None
        while pending:
            if not gathered.add(pending.popleft()[0].result()):
                return None
    del blocks
    rle.release_freed()  # the chunks' columns, freed on the worker threads
    return gathered.result()


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


def _scan_chunk(chunk: memoryview, sizes: ImageSizes) -> ScannedMasks | None:
    """One chunk's columns, its masks checked and measured (on a worker thread), or None."""
    # any buffer will do; its columns are read as the buffers they are
    scanned: tuple[Any, ...] | None = _scan.scan_mask_results(cast(bytes, chunk))
    if scanned is None:
        return None
    n, image_raw, category_raw, box_raw, score_raw, boxed, size_raw, strings, start_raw = scanned
    image_ids = np.frombuffer(image_raw, dtype=np.int64)
    _, heights, widths = image_sizes(image_ids, sizes)
    given = np.frombuffer(size_raw, dtype=np.int64).reshape(n, 2)
    wrong = np.flatnonzero((given[:, 0] != heights) | (given[:, 1] != widths))[:1]
    starts = np.frombuffer(start_raw, dtype=np.int64)
    areas = mask_boxes = None
    if boxed:
        problem = check_into(strings, starts, heights, widths)
    else:
        areas, mask_boxes = np.zeros(n, dtype=np.uint32), np.zeros((n, 4), dtype=np.float64)
        problem = measure_into(strings, starts, heights, widths, areas, mask_boxes)
    return ScannedMasks(
        image_ids,
        np.frombuffer(category_raw, dtype=np.int64),
        np.frombuffer(box_raw, dtype=np.float64).reshape(n, 4),
        np.frombuffer(score_raw, dtype=np.float64),
        bool(boxed),
        heights,
        widths,
        memoryview(strings),
        starts,
        areas,
        mask_boxes,
        (int(wrong[0]), given[wrong[0]].tolist()) if wrong.size else None,
        problem,
    )


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
    "heights": (np.int64, ()),
    "widths": (np.int64, ()),
    "areas": (np.uint32, ()),
    "mask_boxes": (np.float64, (4,)),
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
        self.wrong_size: tuple[int, list[int]] | None = None
        self.problem: tuple[int, str] | None = None

    def add(self, part: ScannedMasks | None) -> bool:
        """Append a chunk's columns; False when the scanner did not read it."""
        if part is None:
            return False
        n, m = self.n, part.image_ids.shape[0]
        if n + m > self.starts.shape[0] - 1:  # not a plain file after all: room anyway
            self._grow(n + m)
        for name, column in self.columns.items():
            values = getattr(part, name)
            if values is not None:  # the masks' measures: only without a bbox
                column[n : n + m] = values
        used = int(self.starts[n])
        length = int(part.starts[-1])
        self.blob[used : used + length] = np.frombuffer(part.blob, dtype=np.uint8)
        self.starts[n + 1 : n + m + 1] = part.starts[1:] + used
        self.n += m
        self.boxed.add(part.boxed)
        if self.wrong_size is None and part.wrong_size is not None:
            self.wrong_size = (n + part.wrong_size[0], part.wrong_size[1])
        if self.problem is None and part.problem is not None:
            self.problem = (n + part.problem[0], part.problem[1])
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
        boxed = self.boxed != {False}
        return ScannedMasks(
            image_ids=rows["image_ids"],
            category_ids=rows["category_ids"],
            boxes=rows["boxes"],
            scores=rows["scores"],
            boxed=boxed,
            heights=rows["heights"],
            widths=rows["widths"],
            blob=strings.data,
            starts=self.starts[: n + 1],
            areas=None if boxed else rows["areas"],
            mask_boxes=None if boxed else rows["mask_boxes"],
            wrong_size=self.wrong_size,
            problem=self.problem,
        )
