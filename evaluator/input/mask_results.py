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
from evaluator.masks.compressed import measure_into
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
    given_sizes : ndarray of shape (n, 2), dtype int64
        Each segmentation's ``size``, as written.
    heights, widths : ndarray of shape (n,), dtype int64
        The size of each result's image (0 for an image the ground truth lacks).
    blob : memoryview
        The masks' compressed strings one after the other.
    starts : ndarray of shape (n + 1,), dtype int64
        Mask ``i`` is ``blob[starts[i]:starts[i + 1]]``.
    areas : ndarray of shape (n,), dtype uint32
    mask_boxes : ndarray of shape (n, 4), dtype float64
        Each mask's area and ``xywh`` box, up to the first string that does not decode.
    problem : tuple of (int, str), or None
        The first mask whose string does not decode at its image's size, and why.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    boxed: bool
    given_sizes: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]
    blob: memoryview
    starts: NDArray[np.int64]
    areas: NDArray[np.uint32]
    mask_boxes: NDArray[np.float64]
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
    blob = np.empty(max(size, 1), dtype=np.uint8)  # pages never written cost no memory
    parts: list[ScannedMasks] = []
    used = 0
    workers = threads()
    blocks = _Blocks()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Future[ScannedMasks | None], mmap.mmap]] = deque()
        for block, chunk in _chunks(file, size, blocks):
            pending.append((pool.submit(_scan_chunk, chunk, sizes), block))
            del chunk  # the worker holds it until it is scanned
            while len(pending) > workers or (pending and pending[0][0].done()):
                future, done = pending.popleft()
                part = future.result()
                blocks.free.append(done)
                if part is None:
                    for future, _ in pending:
                        future.cancel()
                    return None
                used = _keep(part, blob, used, parts)
        while pending:
            part = pending.popleft()[0].result()
            if part is None:
                return None
            used = _keep(part, blob, used, parts)
    joined = _joined(parts, blob, used)
    del parts
    rle.release_freed()  # the chunks' columns, freed on the worker threads
    return joined


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
    """One chunk's columns, its masks measured (on a worker thread), or None."""
    # any buffer will do; its columns are read as the buffers they are
    scanned: tuple[Any, ...] | None = _scan.scan_mask_results(cast(bytes, chunk))
    if scanned is None:
        return None
    n, image_raw, category_raw, box_raw, score_raw, boxed, size_raw, strings, start_raw = scanned
    image_ids = np.frombuffer(image_raw, dtype=np.int64)
    _, heights, widths = image_sizes(image_ids, sizes)
    starts = np.frombuffer(start_raw, dtype=np.int64)
    areas = np.zeros(n, dtype=np.uint32)
    mask_boxes = np.zeros((n, 4), dtype=np.float64)
    problem = measure_into(strings, starts, heights, widths, areas, mask_boxes)
    return ScannedMasks(
        image_ids,
        np.frombuffer(category_raw, dtype=np.int64),
        np.frombuffer(box_raw, dtype=np.float64).reshape(n, 4),
        np.frombuffer(score_raw, dtype=np.float64),
        bool(boxed),
        np.frombuffer(size_raw, dtype=np.int64).reshape(n, 2),
        heights,
        widths,
        memoryview(strings),
        starts,
        areas,
        mask_boxes,
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


def _keep(part: ScannedMasks, blob: NDArray[np.uint8], used: int, parts: list[ScannedMasks]) -> int:
    """Copy a chunk's strings into ``blob`` at ``used``, keep its other columns (its
    strings then go); the new end of the strings."""
    length = int(part.starts[-1])
    blob[used : used + length] = np.frombuffer(part.blob, dtype=np.uint8)
    parts.append(_without_strings(part))
    return used + length


def _without_strings(part: ScannedMasks) -> ScannedMasks:
    """``part`` with an empty ``blob`` (its strings are kept elsewhere)."""
    return ScannedMasks(
        part.image_ids,
        part.category_ids,
        part.boxes,
        part.scores,
        part.boxed,
        part.given_sizes,
        part.heights,
        part.widths,
        memoryview(b""),
        part.starts,
        part.areas,
        part.mask_boxes,
        part.problem,
    )


def _joined(parts: list[ScannedMasks], blob: NDArray[np.uint8], used: int) -> ScannedMasks | None:
    """The chunks' columns as one; None when the results mix chunks with and without a
    ``bbox`` (the scanner refuses such a file too)."""
    if len({part.boxed for part in parts}) > 1:
        return None
    rows = np.cumsum([0] + [part.image_ids.shape[0] for part in parts])
    shift = np.cumsum([0] + [int(part.starts[-1]) for part in parts])
    starts = np.concatenate(
        [[0]] + [part.starts[1:] + offset for part, offset in zip(parts, shift, strict=False)]
    ).astype(np.int64)
    problems = [
        (int(first) + part.problem[0], part.problem[1])
        for part, first in zip(parts, rows, strict=False)
        if part.problem is not None
    ]
    strings = blob[:used]
    strings.flags.writeable = False

    def column(name: str) -> NDArray[Any]:
        return np.concatenate([getattr(part, name) for part in parts])

    return ScannedMasks(
        column("image_ids"),
        column("category_ids"),
        column("boxes"),
        column("scores"),
        bool(parts[0].boxed) if parts else True,
        column("given_sizes"),
        column("heights"),
        column("widths"),
        strings.data,
        starts,
        column("areas"),
        column("mask_boxes"),
        min(problems) if problems else None,
    )
