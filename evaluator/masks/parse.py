"""COCO segmentations (RLE objects, compressed strings, polygons) into run-length columns.

One pass over the Python objects sorts them by form and checks each once, with its
location; the compiled kernels then decode the strings and rasterise the polygons of
the whole batch, and the pieces are put back in input order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray

from evaluator.errors import InputError
from evaluator.masks._engine import rle
from evaluator.threads import run_in_chunks

__all__ = [
    "MAX_AREA",
    "MAX_COORDINATE",
    "Columns",
    "LocatedPolygons",
    "bbox_polygons",
    "check_columns",
    "check_size",
    "parse_json_segmentations",
    "parse_segmentations",
    "rasterise",
    "rasterise_columns",
    "rasterised_pieces",
]

#: Counts are uint32: an image may have at most this many pixels.
MAX_AREA = 2**32 - 1
# rleFrPoly rounds 5 * v + .5 to a C int and subtracts such ints: beyond this bound the
# arithmetic overflows (undefined in C), so such coordinates are refused.
MAX_COORDINATE = 2e8


class Columns(NamedTuple):
    """A batch of run lengths, as :class:`evaluator.masks.RunLengths` holds it."""

    counts: NDArray[np.uint32]
    offsets: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_size(height: object, width: object, where: str) -> tuple[int, int]:
    """``(height, width)`` as ints, or InputError at ``where`` when they cannot be a mask's."""
    if not (_is_int(height) and _is_int(width)):
        raise InputError(where, f"expected [height, width] integers, got [{height!r}, {width!r}]")
    h, w = int(height), int(width)  # type: ignore[call-overload]
    if h < 0 or w < 0:
        raise InputError(where, f"height and width must be >= 0, got [{h}, {w}]")
    if h * w > MAX_AREA:
        raise InputError(where, f"{h} x {w} pixels is more than RLE counts hold (2**32 - 1)")
    return h, w


def _size_of(obj: Mapping[str, object], where: str) -> tuple[int, int]:
    size = obj.get("size")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise InputError(f"{where}.size", f"expected [height, width], got {size!r:.60}")
    return check_size(size[0], size[1], f"{where}.size")


def _uncompressed(counts: object, area: int, where: str) -> NDArray[np.uint32]:
    """Checked uncompressed counts: integers in [0, 2**32) that sum to ``area``."""
    try:
        array = np.asarray(counts)
    except (TypeError, ValueError, OverflowError):
        array = np.asarray([], dtype=object)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise InputError(where, "expected a list of integers or a compressed RLE string")
    if array.size and (array.min() < 0 or array.max() > MAX_AREA):
        raise InputError(where, "a count outside 0 to 2**32 - 1")
    if int(array.sum(dtype=np.uint64)) != area:
        raise InputError(where, f"the counts sum to {int(array.sum())}, not height * width {area}")
    return array.astype(np.uint32)


#: Masks of one form: their positions in the batch, and their (counts, offsets).
Piece = tuple[NDArray[np.int64], NDArray[np.uint32], NDArray[np.int64]]


#: An object's polygons, each with its location for error messages.
LocatedPolygons = Sequence[tuple[str, object]]


def _flatten_polygons(
    objects: Sequence[LocatedPolygons],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """(coords, poly_start, object_start) of objects, each a non-empty list of polygons."""
    lengths, polygons, where = [], [], []
    for parts in objects:
        for location, polygon in parts:
            if not isinstance(polygon, (list, tuple, np.ndarray)):
                raise InputError(location, "a polygon is a list of numbers x0, y0, x1, y1, ...")
            n = len(polygon)
            if n < 6 or n % 2:
                raise InputError(
                    location,
                    f"a polygon needs an even count of at least 6 numbers (3 points), got {n}",
                )
            lengths.append(n)
            polygons.append(polygon)
            where.append(location)
    poly_start = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=poly_start[1:])
    try:
        coords = np.fromiter(
            itertools.chain.from_iterable(polygons), dtype=np.float64, count=int(poly_start[-1])
        )
    except (TypeError, ValueError):
        for location, polygon in zip(where, polygons):
            try:
                np.asarray(polygon, dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(location, "coordinates must be numbers") from None
        raise
    bad = np.flatnonzero(~(np.abs(coords) <= MAX_COORDINATE))
    if bad.size:
        p = int(np.searchsorted(poly_start, bad[0], side="right")) - 1
        value = float(coords[bad[0]])
        problem = "NaN" if np.isnan(value) else f"{value!r}, beyond ±{MAX_COORDINATE:.0e}"
        raise InputError(where[p], f"coordinate {int(bad[0] - poly_start[p])} is {problem}")
    object_start = np.zeros(len(objects) + 1, dtype=np.int64)
    np.cumsum([len(parts) for parts in objects], out=object_start[1:])
    return coords, poly_start, object_start


def rasterise(
    objects: Sequence[LocatedPolygons], heights: NDArray[np.int64], widths: NDArray[np.int64]
) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """(counts, offsets) of objects made of polygons, as pycocotools' annToRLE: each
    polygon rasterised as ``frPyObjects``, an object's polygons joined as ``merge``.

    ``objects[i]`` is a non-empty list of (location, polygon) on a ``heights[i]`` x
    ``widths[i]`` image (at least 1 x 1, checked by the caller).
    """
    return rasterise_columns(*_flatten_polygons(objects), heights, widths)


def rasterise_columns(
    coords: NDArray[np.float64],
    poly_start: NDArray[np.int64],
    object_start: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """:func:`rasterise` of checked polygons as columns, on every core (the parameters
    are :func:`rasterised_pieces`')."""
    chunks = rasterised_pieces(coords, poly_start, object_start, heights, widths)
    counts = np.concatenate([c for _, c, _ in chunks]) if chunks else np.zeros(0, np.uint32)
    shift = np.cumsum([0] + [int(o[-1]) for _, _, o in chunks[:-1]])
    offsets = np.concatenate([[0]] + [o[1:] + s for (_, _, o), s in zip(chunks, shift)])
    return counts, offsets.astype(np.int64)


def rasterised_pieces(
    coords: NDArray[np.float64],
    poly_start: NDArray[np.int64],
    object_start: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
) -> list[Piece]:
    """:func:`rasterise` of checked polygons, on every core, as the pieces each thread
    made (in order): put together where they go, they are copied once.

    Parameters
    ----------
    coords : ndarray of shape (2 * points,), dtype float64
        x0, y0, x1, y1, ... of every polygon, finite, within ``MAX_COORDINATE``.
    poly_start : ndarray of shape (P + 1,), dtype int64
        Polygon p is ``coords[poly_start[p]:poly_start[p + 1]]`` (6 numbers or more, even).
    object_start : ndarray of shape (n + 1,), dtype int64
        Object i has polygons ``object_start[i]`` to ``object_start[i + 1] - 1`` (one or more).
    heights, widths : ndarray of shape (n,), dtype int64
        Each object's image, at least 1 x 1.

    Returns
    -------
    list of (rows, counts, offsets)
        Objects ``rows`` (int64 (m,), consecutive) as a batch: counts uint32, offsets
        int64 (m + 1,).
    """
    parts: dict[int, Piece] = {}

    def run(first: int, last: int) -> None:  # objects first..last-1, on one thread
        p0, p1 = int(object_start[first]), int(object_start[last])
        c0, c1 = int(poly_start[p0]), int(poly_start[p1])
        counts, offsets = rle.polygons(
            coords[c0:c1], poly_start[p0 : p1 + 1] - c0, object_start[first : last + 1] - p0,
            np.ascontiguousarray(heights[first:last]), np.ascontiguousarray(widths[first:last]),
        )  # fmt: skip
        rows = np.arange(first, last, dtype=np.int64)
        parts[first] = rows, np.frombuffer(counts, np.uint32), np.frombuffer(offsets, np.int64)

    coordinates = poly_start[object_start[1:]] - poly_start[object_start[:-1]]  # per object
    run_in_chunks(run, coordinates + 1)
    return [parts[first] for first in sorted(parts)]


def bbox_polygons(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """The polygon rleFrBbox rasterises for each xywh box: ``(n, 8)`` float64.

    ``[x, y, x, y + h, x + w, y + h, x + w, y]``, the sums in float64 as maskApi.c.
    """
    x, y = boxes[:, 0], boxes[:, 1]
    xe, ye = x + boxes[:, 2], y + boxes[:, 3]  # (n,)
    return np.stack([x, y, x, ye, xe, ye, xe, y], axis=1)  # (n, 8)


class _Forms:
    """The segmentations of a batch sorted by form, each with its position."""

    def __init__(self) -> None:
        self.strings: list[str | bytes] = []
        self.string_at: list[int] = []
        self.polygons: list[LocatedPolygons] = []
        self.polygon_at: list[int] = []
        self.uncompressed: list[NDArray[np.uint32]] = []
        self.uncompressed_at: list[int] = []

    def add(self, i: int, obj: object, size: NDArray[np.int64], image: bool, where: str) -> None:
        """File segmentation ``i``; ``size`` holds its image's [h, w] (``image``: given),
        and receives the RLE object's own size."""
        location = f"{where}[{i}]"
        if isinstance(obj, Mapping):
            if "counts" not in obj:
                raise InputError(location, "an RLE object needs 'size' and 'counts'")
            h, w = _size_of(obj, location)
            if image and (h, w) != (size[0], size[1]):
                raise InputError(
                    f"{location}.size", f"[{h}, {w}] differs from the image's {size.tolist()}"
                )
            size[:] = h, w
            counts = obj["counts"]
            if isinstance(counts, (str, bytes)):
                self.strings.append(counts)
                self.string_at.append(i)
            else:
                self.uncompressed.append(_uncompressed(counts, h * w, f"{location}.counts"))
                self.uncompressed_at.append(i)
        elif not image:
            raise InputError(location, "expected an RLE object with 'size' and 'counts'")
        elif isinstance(obj, (str, bytes)):
            self.strings.append(obj)
            self.string_at.append(i)
        elif isinstance(obj, (list, tuple)) and obj:
            if size[0] < 1 or size[1] < 1:
                raise InputError(
                    location, f"polygons need an image of at least 1 x 1, not {size.tolist()}"
                )
            self.polygons.append([(f"{location}[{j}]", p) for j, p in enumerate(obj)])
            self.polygon_at.append(i)
        else:
            raise InputError(
                location, "expected an RLE object, an RLE string or a non-empty list of polygons"
            )

    def pieces(self, sizes: NDArray[np.int64], where: str) -> list[Piece]:
        """Each form's masks decoded, rasterised or gathered; ``sizes`` (2, n)."""
        pieces = []
        if self.strings:
            at = np.asarray(self.string_at, dtype=np.int64)
            h, w = np.ascontiguousarray(sizes[0, at]), np.ascontiguousarray(sizes[1, at])
            try:
                raw_counts, raw_offsets = rle.decode_strings(self.strings, h, w)
            except ValueError as error:  # ValueError(index, problem) from the kernel
                index, problem = error.args
                raise InputError(f"{where}[{at[index]}].counts", problem) from None
            counts = np.frombuffer(raw_counts, np.uint32)
            pieces.append((at, counts, np.frombuffer(raw_offsets, np.int64)))
        if self.polygons:
            at = np.asarray(self.polygon_at, dtype=np.int64)
            h, w = np.ascontiguousarray(sizes[0, at]), np.ascontiguousarray(sizes[1, at])
            pieces.append((at, *rasterise(self.polygons, h, w)))
        if self.uncompressed:
            offsets = np.zeros(len(self.uncompressed) + 1, dtype=np.int64)
            np.cumsum([len(c) for c in self.uncompressed], out=offsets[1:])
            at = np.asarray(self.uncompressed_at, dtype=np.int64)
            pieces.append((at, np.concatenate(self.uncompressed), offsets))
        return pieces


def parse_segmentations(
    segmentations: Sequence[object],
    heights: NDArray[np.int64] | None,
    widths: NDArray[np.int64] | None,
    where: str,
) -> Columns:
    """Columns of the masks of ``segmentations``; see ``RunLengths.from_coco``.

    ``heights`` and ``widths`` (both or neither) are the images' sizes, already checked
    with :func:`check_size`.
    """
    n = len(segmentations)
    sizes = np.zeros((2, n), dtype=np.int64)  # (2, n): heights, widths
    image = heights is not None and widths is not None
    if heights is not None and widths is not None:
        sizes[0], sizes[1] = heights, widths
    forms = _Forms()
    for i, obj in enumerate(segmentations):
        forms.add(i, obj, sizes[:, i], image, where)
    counts, offsets = _in_input_order(forms.pieces(sizes, where), n)
    return Columns(counts, offsets, sizes[0].copy(), sizes[1].copy())


def parse_json_segmentations(
    texts: Sequence[msgspec.Raw | bytes],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    where: str,
) -> Columns:
    """:func:`parse_segmentations` of segmentations given as their JSON text.

    The lists of polygons (text starting with ``[``) are read by the compiled reader, to
    the doubles a JSON reader gives, without a Python object per coordinate; the others
    are decoded and read as :func:`parse_segmentations` reads them. When a list of
    polygons is not plain (too few numbers, an odd count, a coordinate out of range, an
    image smaller than 1 x 1), all are decoded, for :func:`parse_segmentations` to say
    where and why.

    Parameters
    ----------
    texts : sequence of n msgspec.Raw or bytes
        Each segmentation's JSON text, valid JSON.
    heights, widths : ndarray of shape (n,), dtype int64
        The images' sizes, already checked with :func:`check_size`.
    where : str
    """
    n = len(texts)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n), out=starts[1:])
    parsed = rle.parse_polygons(b"".join(texts), starts)
    if parsed is None:
        return _decoded(texts, heights, widths, where)
    coords = np.frombuffer(parsed[0], np.float64)
    poly_start, object_start = (
        np.frombuffer(parsed[1], np.int64),
        np.frombuffer(parsed[2], np.int64),
    )
    is_polygons = np.frombuffer(parsed[3], np.bool_)
    at = np.flatnonzero(is_polygons)
    if np.any((heights[at] < 1) | (widths[at] < 1)):
        return _decoded(texts, heights, widths, where)
    sizes = np.stack([heights, widths]).astype(np.int64)  # (2, n)
    forms = _Forms()
    for i in np.flatnonzero(~is_polygons).tolist():
        forms.add(i, msgspec.json.decode(texts[i]), sizes[:, i], True, where)
    pieces = forms.pieces(sizes, where)
    if at.size:
        h, w = np.ascontiguousarray(heights[at]), np.ascontiguousarray(widths[at])
        objects = np.append(object_start[at], object_start[-1])  # non-lists have none
        for rows, counts, offsets in rasterised_pieces(coords, poly_start, objects, h, w):
            pieces.append((at[rows], counts, offsets))
    del parsed, coords, poly_start, object_start  # the polygons are rasterised
    counts, offsets = _in_input_order(pieces, n)
    return Columns(counts, offsets, sizes[0].copy(), sizes[1].copy())


def _decoded(
    texts: Sequence[msgspec.Raw | bytes],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    where: str,
) -> Columns:
    """:func:`parse_segmentations` of the decoded texts."""
    decoded = [msgspec.json.decode(text) for text in texts]
    return parse_segmentations(decoded, heights, widths, where)


def _in_input_order(pieces: list[Piece], n: int) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """One batch from sub-batches ``(positions, counts, offsets)`` that cover ``range(n)``.

    The list is emptied as the pieces are placed, each let go once copied: the batch and
    all of its pieces are never held at once.
    """
    lengths = np.zeros(n, dtype=np.int64)
    for at, _, offsets in pieces:
        lengths[at] = np.diff(offsets)
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    if len(pieces) == 1 and np.array_equal(pieces[0][0], np.arange(n)):
        return pieces[0][1], out_offsets
    out = np.empty(int(out_offsets[-1]), dtype=np.uint32)
    pieces.reverse()  # popped from the end, in order
    while pieces:
        at, counts, offsets = pieces.pop()
        rle.place(
            np.ascontiguousarray(counts, dtype=np.uint32),
            np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(at, dtype=np.int64),
            out_offsets,
            out,
        )
    return out, out_offsets


def check_columns(counts: object, offsets: object, heights: object, widths: object) -> Columns:
    """Copies of the four columns in their dtypes, checked once: counts integers in
    [0, 2**32); offsets from 0 to ``len(counts)``, non-decreasing; sizes >= 0 with at most
    2**32 - 1 pixels; every mask's counts summing to its height * width. The copies are
    the batch's own, so that no one changes them after the check. Raises InputError."""
    raw = np.asarray(counts)
    if raw.size and not (
        np.issubdtype(raw.dtype, np.integer) and raw.min() >= 0 and raw.max() <= MAX_AREA
    ):
        raise InputError("RunLengths.counts", "counts must be integers in [0, 2**32)")
    c = np.array(raw, dtype=np.uint32, order="C")
    o = np.array(offsets, dtype=np.int64, order="C")
    h = np.array(heights, dtype=np.int64, order="C")
    w = np.array(widths, dtype=np.int64, order="C")
    n = h.shape[0] if h.ndim == 1 else -1
    if c.ndim != 1 or o.shape != (n + 1,) or w.shape != (n,):
        raise InputError(
            "RunLengths",
            f"expected counts (N,), offsets (n + 1,), heights and widths (n,); got "
            f"{c.shape}, {o.shape}, {h.shape}, {w.shape}",
        )
    if o[0] != 0 or o[-1] != len(c) or np.any(np.diff(o) < 0):
        raise InputError("RunLengths.offsets", "must run from 0 to len(counts), never down")
    too_big = (h > MAX_AREA) | (w > MAX_AREA) | (h * w > MAX_AREA)  # no int64 overflow
    bad = np.flatnonzero((h < 0) | (w < 0) | too_big)
    if bad.size:
        raise InputError(f"RunLengths[{bad[0]}]", "a size below 0 or above 2**32 - 1 pixels")
    total = np.zeros(len(c) + 1, dtype=np.uint64)
    np.cumsum(c, dtype=np.uint64, out=total[1:])
    bad = np.flatnonzero(total[o[1:]] - total[o[:-1]] != (h * w).astype(np.uint64))
    if bad.size:
        raise InputError(f"RunLengths[{bad[0]}]", rle.WRONG_SUM)
    return Columns(c, o, h, w)
