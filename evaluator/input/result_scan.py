"""Results files through the compiled scanner: mapped, cut in parts, read over the cores.

The plain shape of a COCO results file (a JSON array of objects with integer
``image_id`` and ``category_id``, a numeric ``score``, a ``bbox`` of 4 numbers and, for
keypoints, ``keypoints`` of ``3 * K`` numbers; other fields are skipped) is read by
:mod:`evaluator.input._scan` straight into columns, with no Python object per result.
A file is mapped into memory rather than copied, cut into parts of a few megabytes, and
the parts are scanned at once on the cores, each into its own rows of columns sized by
counting its ``{``; a part's pages are let go once read. Anything else is left to the
general loaders of :mod:`coco_json` and :mod:`keypoints`, which explain what they refuse.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluator.errors import ENGINE_NOT_BUILT
from evaluator.input.columns import Predictions
from evaluator.threads import run_in_chunks, threads

try:
    from evaluator.input import _scan
except ImportError:  # a checkout used without installing it
    raise ImportError(ENGINE_NOT_BUILT) from None

__all__ = [
    "ScannedResults",
    "forget",
    "map_file",
    "scan_columns",
    "scan_file",
    "scan_plain",
    "scan_results",
]

_PART_BYTES = 1 << 22  # a results file is read in parts of about this size
_FAILED, _AT_STOP, _AT_END = 0, 1, 2  # how a part's scan ends (3: past its stop)
Text = bytes | mmap.mmap


def _cuts(data: Text, parts: int) -> list[tuple[int, int]]:
    """About ``parts`` byte ranges ``(start, stop)`` of a results array, each ending at the
    ``,`` of a ``},`` near an even share of the bytes (stop -1: to the end). Whether each
    ``,`` is between two results only the scan of the part before it can tell."""
    bounds, start = [], 0
    for i in range(1, parts):
        comma = data.find(b"},", max(i * len(data) // parts, start)) + 1
        if comma == 0:
            break
        bounds.append((start, comma))
        start = comma + 1
    return [*bounds, (start, -1)]


def forget(data: Text, start: int, stop: int) -> None:
    """Let a mapped file's bytes ``start:stop`` leave memory (read again if touched)."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        first = start - start % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, first, stop - first)


def scan_columns(data: Text, n_keypoints: int, parts: int) -> tuple[int, bool, list[Any]] | None:
    """Plain results read by the compiled scanner in ``parts`` parts, the parts spread
    over the cores; a mapped file's pages are let go once read.

    Returns the count, whether the results carry a bbox, and the image id, category id,
    box, score and keypoint columns (int64 (R,), int64 (R,), float64 (R, 4), float64 (R,),
    float64 (R, K, 3)), rows beyond the count unused; None when the document is not of
    the plain shape.
    """
    cuts = _cuts(data, parts)
    spans = [(start, len(data) if stop < 0 else stop) for start, stop in cuts]
    rows = [0] * len(cuts)

    def count(first: int, last: int) -> None:  # a bound on each part's results: its '{'
        for i in range(first, last):
            rows[i] = _scan.count_byte(data, ord("{"), *spans[i])
            forget(data, *spans[i])

    work = np.array([stop - start for start, stop in spans], dtype=np.int64)
    run_in_chunks(count, work)
    total = sum(rows)
    columns = [
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty((total, 4), np.float64),
        np.empty(total, np.float64),
        np.empty((total, n_keypoints, 3), np.float64),
    ]
    firsts = np.r_[0, np.cumsum(rows)].tolist()
    outcomes: list[tuple[int, int, int]] = [(0, -1, 0)] * len(cuts)

    def scan(first: int, last: int) -> None:
        for i in range(first, last):
            part = [column[firsts[i] : firsts[i + 1]] for column in columns]
            outcomes[i] = _scan.scan_results_part(data, n_keypoints, *cuts[i], *part)
            forget(data, *spans[i])

    run_in_chunks(scan, work)
    statuses = [status for _, _, status in outcomes]
    if statuses != [_AT_STOP] * (len(cuts) - 1) + [_AT_END]:
        del columns
        if statuses[0] == _FAILED or len(cuts) == 1:
            return None  # the first part reads as one scan of the whole would
        return scan_columns(data, n_keypoints, 1)  # a cut fell inside a result
    boxed = {flag for _, flag, _ in outcomes if flag >= 0}
    if len(boxed) > 1:
        return None  # a bbox on some results only: the general loader explains
    counts = [n for n, _, _ in outcomes]
    if counts[:-1] != rows[:-1]:  # rows left unused before the last part's
        keep = np.concatenate([np.arange(f, f + n) for f, n in zip(firsts, counts)])
        columns = [column[keep] for column in columns]
    return sum(counts), boxed == {1}, columns


def scan_plain(data: Text, n_keypoints: int) -> Predictions | None:
    """Results in the plain shape, read by the compiled scanner; else None.

    Box results (``n_keypoints`` 0) need a ``bbox`` each. Keypoint results carry
    ``keypoints`` of ``3 * K`` numbers and a ``bbox`` on every result or on none; without
    one, the scanner sets each result's box to the extent of its keypoints, as loadRes
    does. Only finite numbers are read.
    """
    parts = max(len(data) // _PART_BYTES, threads() if len(data) > _PART_BYTES else 1)
    scanned = scan_columns(data, n_keypoints, parts)
    if scanned is None:
        return None
    n, boxed, (image_ids, category_ids, boxes, scores, keypoints) = scanned
    columns = (image_ids[:n], category_ids[:n], boxes[:n], scores[:n])
    if not n_keypoints:
        return Predictions(*columns)
    areas = None
    if not boxed:  # the keypoints' extent: its area is the one the results are judged by
        with np.errstate(over="ignore", invalid="ignore"):
            areas = columns[2][:, 2] * columns[2][:, 3]
    return Predictions(*columns, keypoints=keypoints[:n], areas=areas)


def map_file(path: str | os.PathLike[str]) -> mmap.mmap | None:
    """A file mapped into memory, read-only (none of it copied); None when it cannot be
    mapped (missing, empty, not a file: the general reader says why)."""
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed below, once mapped)
    except OSError:
        return None
    with file:
        try:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None


def scan_file(path: str | os.PathLike[str], n_keypoints: int) -> Predictions | None:
    """:func:`scan_plain` on a file mapped into memory; None too when it cannot be
    mapped."""
    data = map_file(path)
    if data is None:
        return None
    with data:
        return scan_plain(data, n_keypoints)


@dataclass(frozen=True)
class ScannedResults:
    """Results scanned before their ground truth is loaded.

    Attributes
    ----------
    source : path or bytes
        Where they came from, for the general loader when ``plain`` cannot be used (a
        file is read again then).
    plain : Predictions or None
        Their columns when they have the plain shape (:func:`scan_plain`); used unless the
        ground truth's image ids are strings, and checked against it as any results.
    """

    source: str | os.PathLike[str] | bytes
    plain: Predictions | None


def scan_results(src: str | os.PathLike[str] | bytes, n_keypoints: int = 0) -> ScannedResults:
    """Scan results into columns, without the ground truth (nothing is raised: a file
    that cannot be read is left to the general loader to report).

    The scanner releases the GIL, so this can run on another thread while the ground
    truth loads; the loaders take the outcome as their ``src``.

    Parameters
    ----------
    src : path or bytes
    n_keypoints : int
        K for keypoint results, 0 for box results (which need a ``bbox`` each).
    """
    if isinstance(src, bytes):
        return ScannedResults(src, scan_plain(src, n_keypoints))
    return ScannedResults(src, scan_file(src, n_keypoints))
