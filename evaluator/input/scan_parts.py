"""A results document read by the compiled scanner in parts, one per core.

The scanner (:mod:`evaluator.input._scan`) reads a part of a document from a result's
start to the next part's; :func:`scan_predictions` cuts the document where results may
begin (``_scan.split_points``), reads the parts on threads (the scanner releases the
GIL) and joins their columns. A cut that falls inside a string makes its part fail; the
document is then read whole, which also decides what a document of another shape gets.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from evaluator.input import _scan
from evaluator.threads import threads

#: Smallest part worth a thread of its own.
MIN_PART_BYTES = 4 << 20


def _parts(data: bytes) -> list[tuple[int, int]]:
    """``(start, stop)`` of each part (stop -1: to the end), one when not worth cutting."""
    n_parts = min(threads(), len(data) // MIN_PART_BYTES)
    if n_parts < 2:
        return [(0, -1)]
    cuts = _scan.split_points(data, n_parts)
    return list(zip([0, *cuts], [*cuts, -1], strict=True))


def scan_predictions(data: bytes, n_keypoints: int = 0) -> tuple[Any, ...] | None:
    """``_scan.scan_predictions(data, n_keypoints)``, read in parts on every core.

    Returns
    -------
    tuple or None
        As ``_scan.scan_predictions`` gives it: the count, the image id, category id,
        bbox, score and keypoints columns (buffers of their items), and whether the
        results carry a bbox; None when the document is not of the plain shape.
    """
    parts = _parts(data)
    if len(parts) == 1:
        return _scan.scan_predictions(data, n_keypoints)
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        read = list(pool.map(lambda part: _scan.scan_predictions(data, n_keypoints, *part), parts))
    done = [columns for columns in read if columns is not None]
    # A failed part (a cut inside a string, or not the plain shape), or parts disagreeing
    # on whether results carry a bbox: the whole document decides.
    if len(done) < len(read) or len({columns[6] for columns in done}) > 1:
        return _scan.scan_predictions(data, n_keypoints)
    counts, *column_parts, _ = zip(*done, strict=True)
    joined = [
        np.concatenate([np.frombuffer(memoryview(part), dtype=np.uint8) for part in parts])
        for parts in column_parts
    ]
    return (sum(counts), *joined, done[0][6])


def scan_mask_results(data: bytes) -> list[tuple[Any, ...]] | None:
    """``_scan.scan_mask_results(data)``, read in parts on every core, not yet joined.

    The parts' masks are joined by :func:`join_mask_parts`, so that a caller can let the
    document's bytes go first: the masks' strings are most of a results file.

    Returns
    -------
    list of tuple, or None
        Each part as ``_scan.scan_mask_results`` gives it (one part when the document is
        not worth cutting or was read whole); None when the document is not of the
        plain mask-results shape.
    """
    parts = _parts(data)
    if len(parts) > 1:
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            read = list(pool.map(lambda part: _scan.scan_mask_results(data, *part), parts))
        done = [columns for columns in read if columns is not None]
        # As for box results: a failed part, or parts disagreeing on the bbox, and the
        # whole document decides.
        if len(done) == len(read) and len({columns[5] for columns in done}) == 1:
            return done
    whole = _scan.scan_mask_results(data)
    return None if whole is None else [whole]


def join_mask_parts(parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The columns of :func:`scan_mask_results`' parts as one ``_scan.scan_mask_results``
    result: the strings one after the other, each part's string starts moved along."""
    if len(parts) == 1:
        return parts[0]
    counts, images, categories, boxes, scores, boxed, sizes, blobs, starts = zip(
        *parts, strict=True
    )
    lengths = [memoryview(blob).nbytes for blob in blobs]
    offsets = np.cumsum([0, *lengths[:-1]])
    moved = [
        np.frombuffer(memoryview(s), dtype=np.int64)[1:] + at
        for s, at in zip(starts, offsets, strict=True)
    ]
    joined = [
        np.concatenate([np.frombuffer(memoryview(part), dtype=np.uint8) for part in column])
        for column in (images, categories, boxes, scores)
    ]
    size = np.concatenate([np.frombuffer(memoryview(part), dtype=np.uint8) for part in sizes])
    blob = np.concatenate([np.frombuffer(memoryview(part), dtype=np.uint8) for part in blobs])
    return (
        sum(counts),
        *joined,
        boxed[0],
        size,
        blob,
        np.concatenate([np.zeros(1, dtype=np.int64), *moved]),
    )
