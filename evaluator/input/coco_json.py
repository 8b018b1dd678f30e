"""Load and validate COCO ground truth and detection results into columns.

The output types, :class:`~evaluator.input.columns.GroundTruth` and
:class:`~evaluator.input.columns.Predictions`, are those every metric takes.

Files are decoded with a typed msgspec decoder straight into small structs (no
per-object dicts), then turned into NumPy columns. Ids are decoded as integers first;
a file that fails is decoded again letting through what pycocotools scores too
(integral float ids, string image ids: :mod:`evaluator.input.ids`), whose ids are then
checked one by one. When both decoders reject the input, the slow path parses it with
the standard library (which also accepts ``NaN``) and walks it to say exactly what is
wrong and where. Either way the same checks and warnings follow.

Whatever the bytes, loading ends in a result or an :class:`~evaluator.errors.InputError`:
nesting deeper than either parser's stack, integers longer than ``int()`` parses, names
over the limits of :mod:`evaluator.input.limits` and names that are not Unicode text
(lone surrogates) are all refused with their location, and a value quoted in a message
is shortened.

Locations in error messages are JSON paths rooted at ``ground_truth`` or
``predictions``, e.g. ``predictions[17].bbox``.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from operator import attrgetter
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import msgspec
import numpy as np
import numpy.ma  # noqa: F401 (np.unique and np.isin import it at their first call: 10 ms)
from numpy.typing import NDArray

from evaluator.errors import InputError
from evaluator.input.columns import GroundTruth, Predictions
from evaluator.input.ids import (
    IdValue,
    check_id,
    image_id_column,
    index_of,
    int64_column,
    integral,
    kind_of,
    string_ids,
)
from evaluator.input.limits import MAX_CATEGORIES, check_count, check_name, shown
from evaluator.input.result_scan import ScannedResults, scan_results

Source = str | os.PathLike[str] | bytes | dict[str, Any] | list[Any]


# --- fast path: typed structs, generic in the id type: int, then IdValue ----------------------

Id = TypeVar("Id")
Item = TypeVar("Item")


class _Image(msgspec.Struct, Generic[Id], gc=False):
    id: Id


class _Category(msgspec.Struct, Generic[Id], gc=False):
    id: Id
    name: str | None = ""  # null: no name, as absent


class _Annotation(msgspec.Struct, Generic[Id], gc=False):
    id: Id
    image_id: Id
    category_id: Id
    bbox: tuple[float, float, float, float]
    area: float | None = None
    iscrowd: bool | int | msgspec.UnsetType = msgspec.UNSET  # absent: read as 0, with a warning
    ignore: Any = None  # pycocotools overwrites it, so any value scores; see _ignore_column
    difficult: bool | int = 0


class _GroundTruthFile(msgspec.Struct, Generic[Id], gc=False):
    images: list[_Image[Id]]
    categories: list[_Category[Id]]
    annotations: list[_Annotation[Id]] = []


class _Prediction(msgspec.Struct, Generic[Id], gc=False):
    image_id: Id
    category_id: Id
    bbox: tuple[float, float, float, float]
    score: float


class _PredictionFile(msgspec.Struct, Generic[Id], gc=False):
    annotations: list[_Prediction[Id]]


_GT_DECODERS = (
    msgspec.json.Decoder(_GroundTruthFile[int]),
    msgspec.json.Decoder(_GroundTruthFile[IdValue]),
)
_PRED_LIST_DECODERS = (
    msgspec.json.Decoder(list[_Prediction[int]]),
    msgspec.json.Decoder(list[_Prediction[IdValue]]),
)
_PRED_DICT_DECODERS = (
    msgspec.json.Decoder(_PredictionFile[int]),
    msgspec.json.Decoder(_PredictionFile[IdValue]),
)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Decoding builds ~10^6 small objects; generational GC passes over them cost more
    # than the decoding itself.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_bytes(src: str | os.PathLike[str], root: str) -> bytes:
    try:
        return Path(src).read_bytes()
    except FileNotFoundError:
        raise InputError(root, f"file not found: {os.fspath(src)}") from None
    except IsADirectoryError:
        raise InputError(root, f"is a directory, not a JSON file: {os.fspath(src)}") from None


# Both parsers recurse once per level of nesting and raise RecursionError at Python's
# recursion limit (about 1,000 levels); COCO files nest 5 deep at most (polygons).
_TOO_DEEP = "arrays or objects nested too deeply to parse (a COCO file needs fewer than 10 levels)"


def _decode_fast(
    decoders: tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]], data: bytes, root: str
) -> tuple[Any, bool] | None:
    """Decode with the strict, then the lenient typed decoder; None when both refuse.

    Returns
    -------
    document : the decoded structs
    checked : bool
        Whether the ids still need :func:`evaluator.input.ids.integral` (lenient decoder).
    """
    for checked, decoder in enumerate(decoders):
        try:
            with _gc_paused():
                return decoder.decode(data), bool(checked)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            continue  # the next decoder, or the slow path, says more
        except RecursionError:
            raise InputError(root, _TOO_DEEP) from None
    return None


class _LongInteger:
    """An integer literal with more digits than ``int()`` parses (4300 by default).

    Such a number fits no field, but the standard parser raises a ValueError that says
    not where; the slow path keeps it as this marker so the walker can locate it.
    """

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits"


def _parse_int(text: str) -> int | _LongInteger:
    try:
        return int(text)
    except ValueError:  # only the digit limit: the parser hands over valid literals
        return _LongInteger(text)


def _parse_slow(data: bytes, root: str) -> Any:
    """Parse with the standard library to locate syntax errors (and accept NaN)."""
    try:
        return json.loads(data, parse_int=_parse_int)
    except UnicodeDecodeError as exc:
        raise InputError(root, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            root, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise InputError(root, _TOO_DEEP) from None


# --- slow path: walk parsed objects, say what and where -------------------------------------


def _type_name(value: Any) -> str:
    return repr(value) if isinstance(value, _LongInteger) else kind_of(value)


def _get(obj: Any, key: str, loc: str, default: Any = ...) -> Any:
    if key in obj:
        return obj[key]
    if default is ...:
        raise InputError(f"{loc}.{key}", "missing")
    return default


def _as_id(value: Any, loc: str, strings: bool = False) -> IdValue:
    """An id as written (see :func:`evaluator.input.ids.check_id`), not yet an integer."""
    if isinstance(value, _LongInteger):
        raise InputError(loc, f"must fit in 64 bits, got {value!r}")
    return check_id(value, loc, strings)


def _as_number(value: Any, loc: str) -> float:
    if isinstance(value, _LongInteger):
        raise InputError(loc, f"out of range for a 64-bit float, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(loc, f"expected a number, got {_type_name(value)} ({shown(value)})")
    try:
        return float(value)
    except OverflowError:  # an integer beyond 1.8e308
        raise InputError(loc, f"out of range for a 64-bit float, got {shown(value)}") from None


def _as_flag(value: Any, loc: str) -> bool:
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise InputError(loc, f"expected 0, 1, true or false, got {shown(value)}")


def _as_box(value: Any, loc: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise InputError(loc, f"expected 4 numbers [x, y, width, height], got {_type_name(value)}")
    if len(value) != 4:
        raise InputError(loc, f"expected 4 numbers [x, y, width, height], got {len(value)}")
    return tuple(_as_number(v, f"{loc}[{i}]") for i, v in enumerate(value))


def _as_list(value: Any, loc: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(loc, f"expected an array, got {_type_name(value)}")
    return value


def _as_object(value: Any, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(loc, f"expected an object, got {_type_name(value)}")
    return value


def _walk_ground_truth(doc: Any) -> _GroundTruthFile:
    root = "ground_truth"
    doc = _as_object(doc, root)
    images = [
        _Image(id=_as_id(_get(_as_object(img, loc), "id", loc), f"{loc}.id", strings=True))
        for i, img in enumerate(_as_list(_get(doc, "images", root), f"{root}.images"))
        for loc in [f"{root}.images[{i}]"]
    ]
    categories = []
    for i, cat in enumerate(_as_list(_get(doc, "categories", root), f"{root}.categories")):
        loc = f"{root}.categories[{i}]"
        cat = _as_object(cat, loc)
        name = _get(cat, "name", loc, "")
        if name is not None and not isinstance(name, str):
            raise InputError(f"{loc}.name", f"expected a string, got {_type_name(name)}")
        categories.append(_Category(id=_as_id(_get(cat, "id", loc), f"{loc}.id"), name=name))
    annotations = []
    for i, ann in enumerate(_as_list(_get(doc, "annotations", root, []), f"{root}.annotations")):
        loc = f"{root}.annotations[{i}]"
        ann = _as_object(ann, loc)
        area = _get(ann, "area", loc, None)
        iscrowd = _get(ann, "iscrowd", loc, msgspec.UNSET)
        annotations.append(
            _Annotation(
                id=_as_id(_get(ann, "id", loc), f"{loc}.id"),
                image_id=_as_id(_get(ann, "image_id", loc), f"{loc}.image_id", strings=True),
                category_id=_as_id(_get(ann, "category_id", loc), f"{loc}.category_id"),
                bbox=_as_box(_get(ann, "bbox", loc), f"{loc}.bbox"),  # type: ignore[arg-type]
                area=None if area is None else _as_number(area, f"{loc}.area"),
                iscrowd=iscrowd
                if iscrowd is msgspec.UNSET
                else _as_flag(iscrowd, f"{loc}.iscrowd"),
                ignore=_get(ann, "ignore", loc, None),
                difficult=_as_flag(_get(ann, "difficult", loc, 0), f"{loc}.difficult"),
            )
        )
    return _GroundTruthFile(images=images, categories=categories, annotations=annotations)


def _other_kind_hint(result: dict[str, Any]) -> str:
    """A hint when a box-less result is of another evaluation type."""
    if "keypoints" in result:
        return "; these are keypoint results: evaluate them with --iou-type keypoints"
    if "segmentation" in result:
        return "; these are segmentation results: evaluate them with --iou-type segm"
    return ""


def walk_results(doc: Any, read_one: Callable[[dict[str, Any], str], Item]) -> list[Item]:
    """Parsed results (a list, or an object with an ``annotations`` list), each read by
    ``read_one(result, location)``: the slow path, which says what is wrong and where."""
    root = "predictions"
    if isinstance(doc, dict):
        if "annotations" not in doc:
            raise InputError(
                root, "expected a list of results, or an object with an 'annotations' list"
            )
        doc = doc["annotations"]
        root = "predictions.annotations"
    return [
        read_one(_as_object(result, f"{root}[{i}]"), f"{root}[{i}]")
        for i, result in enumerate(_as_list(doc, root))
    ]


def _read_box_result(det: dict[str, Any], loc: str) -> _Prediction[Any]:
    if "bbox" not in det:
        raise InputError(f"{loc}.bbox", f"missing{_other_kind_hint(det)}")
    return _Prediction(
        image_id=_as_id(_get(det, "image_id", loc), f"{loc}.image_id", strings=True),
        category_id=_as_id(_get(det, "category_id", loc), f"{loc}.category_id"),
        bbox=_as_box(det["bbox"], f"{loc}.bbox"),  # type: ignore[arg-type]
        score=_as_number(_get(det, "score", loc), f"{loc}.score"),
    )


# --- structs to columns, value checks -----------------------------------------------------


def _column(items: Sequence[Any], field: str, dtype: Any, loc: str = "") -> NDArray[Any]:
    try:
        return np.fromiter(map(attrgetter(field), items), dtype=dtype, count=len(items))
    except OverflowError:  # an integer id beyond int64
        limit = np.iinfo(np.int64)
        i = next(i for i, o in enumerate(items) if not limit.min <= getattr(o, field) <= limit.max)
        value = getattr(items[i], field)
        raise InputError(
            f"{loc}[{i}].{field}", f"must fit in 64 bits, got {shown(value)}"
        ) from None


@dataclass
class _FloatIds:
    """The ids of one file written as floats: how many, and the first one."""

    count: int = 0
    first: str = ""

    def warning(self, root: str) -> list[str]:
        if not self.count:
            return []
        return [
            f"{root}: {self.count} ids are written as floats (first: {self.first}); read as "
            "the integers they equal"
        ]


def _id_list(
    items: Sequence[Any], field: str, loc: str, floats: _FloatIds, strings: bool = False
) -> list[Any]:
    """A leniently decoded id field as ints (and strings where ``strings``), checked."""
    values, first, count = integral(list(map(attrgetter(field), items)), loc, field, strings)
    if count and not floats.count:
        floats.first = f"{loc}[{first}].{field} = {shown(getattr(items[first], field))}"
    floats.count += count
    return values


def _int_ids(
    items: Sequence[Any], field: str, loc: str, checked: bool, floats: _FloatIds
) -> NDArray[np.int64]:
    """A numeric id field as int64 (``checked``: decoded leniently, so checked here)."""
    if not checked:
        return _column(items, field, np.int64, loc)
    return int64_column(_id_list(items, field, loc, floats), loc, field)


def _ignore_column(anns: Sequence[Any], loc: str, warnings: list[str]) -> NDArray[np.bool_]:
    """``ignore`` as bool: what a truth test reads (absent: False); warns where present.

    pycocotools overwrites the field with ``iscrowd``, so any value scores the same in
    the default mode; only ``mode="corrected"`` reads it.
    """
    values = list(map(attrgetter("ignore"), anns))
    if values.count(None) == len(values):
        return np.zeros(len(values), dtype=bool)
    warnings.append(
        f"{loc}: the 'ignore' field is present; pycocotools overwrites it with 'iscrowd' "
        "(mode='corrected' honours it)"
    )
    odd = [i for i, v in enumerate(values) if v is not None and v not in (0, 1)]
    if odd:
        i = odd[0]
        warnings.append(
            f"{loc}: {len(odd)} annotations have an 'ignore' other than 0, 1, true or false "
            f"(first: {loc}[{i}].ignore = {shown(values[i])}); mode='corrected' reads any "
            "non-zero, non-empty value as ignored"
        )
    return np.fromiter(map(bool, values), dtype=bool, count=len(values))


def _flag_column(items: Sequence[Any], field: str, loc: str) -> NDArray[np.bool_]:
    """A 0/1/true/false field as bool; None or UNSET (absent) reads as False."""
    try:  # integers and booleans only (the rule): one pass at C speed
        values = np.fromiter(map(attrgetter(field), items), dtype=np.int64, count=len(items))
        bad = (values != 0) & (values != 1)
    except (TypeError, OverflowError):  # None, UNSET, or beyond int64
        values, bad = _flag_values(items, field)
    if bad.any():
        i = int(np.argmax(bad))
        value = getattr(items[i], field)
        raise InputError(f"{loc}[{i}].{field}", f"expected 0, 1, true or false, got {shown(value)}")
    return values.astype(bool)


def _flag_values(items: Sequence[Any], field: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """A flag field whose values are not all integers: as int64 (absent: 0), and where a
    value is not 0 or 1."""
    try:
        values = np.fromiter(
            (int(v) if v else 0 for v in map(attrgetter(field), items)),
            dtype=np.int64,
            count=len(items),
        )
        bad = (values != 0) & (values != 1)
    except OverflowError:  # an integer beyond int64 (which msgspec decodes), so no flag
        flags = map(attrgetter(field), items)
        bad = np.fromiter((bool(v) and v != 1 for v in flags), dtype=bool, count=len(items))
        values = np.zeros(len(items), dtype=np.int64)
    return values, bad


def _box_column(items: Sequence[Any]) -> NDArray[np.float64]:
    flat = itertools.chain.from_iterable(o.bbox for o in items)
    return np.fromiter(flat, dtype=np.float64, count=4 * len(items)).reshape(-1, 4)


def _check_boxes(boxes: NDArray[np.float64], loc: str) -> None:
    # One reduction each when the boxes are fine (the rule); row by row only to locate. A
    # NaN or an infinity makes the sum non-finite (so can an overflow: then look closer).
    if boxes.size == 0:
        return
    if not np.isfinite(boxes.sum()) and not np.isfinite(boxes).all():
        i = int(np.argmax(~np.isfinite(boxes).all(axis=1)))
        raise InputError(f"{loc}[{i}].bbox", f"must be finite numbers, got {boxes[i].tolist()}")
    if boxes[:, 2:].min() < 0:
        i = int(np.argmax((boxes[:, 2] < 0) | (boxes[:, 3] < 0)))
        raise InputError(
            f"{loc}[{i}].bbox",
            f"width and height must be >= 0, got {boxes[i].tolist()} ([x, y, width, height])",
        )


def _check_values(values: NDArray[np.float64], loc: str, field: str, minimum: float | None) -> None:
    bad = ~np.isfinite(values)
    if minimum is not None:
        bad |= values < minimum
    if bad.any():
        i = int(np.argmax(bad))
        rule = "a finite number" if minimum is None else f"a finite number >= {minimum:g}"
        raise InputError(f"{loc}[{i}].{field}", f"must be {rule}, got {float(values[i])!r}")


def _duplicates(ids: NDArray[np.int64]) -> NDArray[np.int64]:
    uniq, counts = np.unique(ids, return_counts=True)
    return uniq[counts > 1]


def _preview(values: Sequence[Any], limit: int = 5) -> str:
    listed = ", ".join(shown(v) for v in values[:limit])
    return listed + (", ..." if len(values) > limit else "")


def _check_categories(categories: Sequence[_Category], loc: str) -> None:
    """Their number and names within :mod:`evaluator.input.limits`, names writable."""
    check_count(len(categories), MAX_CATEGORIES, "categories", loc)
    for i, category in enumerate(categories):
        check_name(category.name or "", f"{loc}[{i}].name")


def _image_ids(
    images: Sequence[_Image[Any]], loc: str, checked: bool, floats: _FloatIds
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """The declared image ids (string ids: their sorted positions) and the string ids."""
    if not checked:
        return _column(images, "id", np.int64, loc), ()
    values = _id_list(images, "id", loc, floats, strings=True)
    names = string_ids(values, loc)
    if not names:
        return int64_column(values, loc, "id"), ()
    position = {name: i for i, name in enumerate(names)}
    return np.fromiter((position[v] for v in values), np.int64, len(values)), names


def _ground_truth_columns(doc: _GroundTruthFile[Any], checked: bool) -> GroundTruth:
    """Columns and warnings; ``checked``: the ids were decoded leniently, check them."""
    root = "ground_truth"
    _check_categories(doc.categories, f"{root}.categories")
    warnings: list[str] = []
    floats = _FloatIds()
    image_ids, image_names = _image_ids(doc.images, f"{root}.images", checked, floats)
    dup_images = _duplicates(image_ids).tolist()
    if dup_images:
        dups = [image_names[i] for i in dup_images] if image_names else dup_images
        warnings.append(f"{root}.images: duplicate image ids ({_preview(dups)}); kept once")
    cat_ids_all = _int_ids(doc.categories, "id", f"{root}.categories", checked, floats)
    category_ids, first = np.unique(cat_ids_all, return_index=True)
    if category_ids.size < cat_ids_all.size:
        warnings.append(f"{root}.categories: duplicate category ids; the first name is kept")
    if not category_ids.size:
        warnings.append(f"{root}.categories: empty, so there is nothing to evaluate")
    names = tuple(doc.categories[i].name or "" for i in first.tolist())

    anns = doc.annotations
    loc = f"{root}.annotations"
    boxes = _box_column(anns)
    _check_boxes(boxes, loc)
    areas = _column(anns, "area", np.float64)  # one pass at C speed; None reads as NaN
    missing_area = np.zeros(0, dtype=bool)
    if np.isnan(areas).any():  # absent areas, or NaN ones: tell them apart
        raw_area = [o.area for o in anns]
        missing_area = np.fromiter((a is None for a in raw_area), dtype=bool, count=len(anns))
        areas = np.fromiter((0.0 if a is None else a for a in raw_area), np.float64, len(anns))
    if missing_area.any():
        areas[missing_area] = boxes[missing_area, 2] * boxes[missing_area, 3]
        warnings.append(
            f"{loc}: {int(missing_area.sum())} annotations have no 'area'; width*height is used "
            "(pycocotools would fail)"
        )
    _check_values(areas, loc, "area", 0.0)
    crowd_flags = list(map(attrgetter("iscrowd"), anns))
    no_crowd_flag = np.zeros(0, dtype=bool)
    if crowd_flags.count(msgspec.UNSET):
        no_crowd_flag = np.fromiter((v is msgspec.UNSET for v in crowd_flags), bool, len(anns))
    if no_crowd_flag.any():
        warnings.append(
            f"{loc}: {int(no_crowd_flag.sum())} annotations have no 'iscrowd' (first: "
            f"{loc}[{int(np.argmax(no_crowd_flag))}]); read as 0 (pycocotools would fail)"
        )
    ann_ids = _int_ids(anns, "id", loc, checked, floats)
    ignore = _ignore_column(anns, loc, warnings)
    if (ann_ids == 0).any():
        warnings.append(
            f"{loc}: annotation id 0 found (index {int(np.argmax(ann_ids == 0))}); pycocotools "
            "never counts a match to it (mode='corrected' does)"
        )
    dup_anns = _duplicates(ann_ids)
    if dup_anns.size:
        warnings.append(
            f"{loc}: duplicate annotation ids ({_preview(dup_anns.tolist())}); pycocotools "
            "replaces each "
            "by the last annotation with that id (mode='corrected' keeps them all)"
        )
    if checked:
        values = _id_list(anns, "image_id", loc, floats, strings=True)
        ann_image_ids = image_id_column(values, image_names, image_ids, loc, "image_id")
    else:
        ann_image_ids = _column(anns, "image_id", np.int64, loc)
    ann_category_ids = _int_ids(anns, "category_id", loc, checked, floats)
    unknown_img = ~np.isin(ann_image_ids, image_ids)
    if unknown_img.any():
        i = int(np.argmax(unknown_img))
        warnings.append(
            f"{loc}: {int(unknown_img.sum())} annotations refer to images not in 'images' "
            f"(first: {loc}[{i}].image_id = {shown(anns[i].image_id)}); they are not evaluated"
        )
    unknown_cat = ~np.isin(ann_category_ids, category_ids)
    if unknown_cat.any():
        i = int(np.argmax(unknown_cat))
        warnings.append(
            f"{loc}: {int(unknown_cat.sum())} annotations have categories not in 'categories' "
            f"(first: {loc}[{i}].category_id = {int(ann_category_ids[i])}); they are not evaluated"
        )
    if category_ids.size and (unknown_img | unknown_cat).all():
        what = "the list is empty" if not anns else "none is on a declared image and category"
        warnings.append(
            f"{loc}: no annotation to evaluate ({what}); every stat is -1 (null), as in pycocotools"
        )
    return GroundTruth(
        image_ids=np.unique(image_ids),
        category_ids=category_ids,
        category_names=names,
        ann_ids=ann_ids,
        ann_image_ids=ann_image_ids,
        ann_category_ids=ann_category_ids,
        boxes=boxes,
        areas=areas,
        iscrowd=_flag_column(anns, "iscrowd", loc),
        ignore=ignore,
        difficult=_flag_column(anns, "difficult", loc),
        warnings=tuple(floats.warning(root) + warnings),
        image_names=image_names,
    )


# --- public loaders ----------------------------------------------------------------------------


def load_ground_truth(src: Source | GroundTruth) -> GroundTruth:
    """Load COCO ground truth from a path, JSON bytes or a parsed dict.

    Raises
    ------
    InputError
        With the location of the first problem: malformed JSON, a missing or mistyped
        field, a box that is not 4 finite numbers, a negative width, height or area.
    """
    if isinstance(src, GroundTruth):
        return src
    root = "ground_truth"
    if isinstance(src, dict | list):
        doc, checked = _walk_ground_truth(src), True
    else:
        data = src if isinstance(src, bytes) else _read_bytes(src, root)
        decoded = _decode_fast(_GT_DECODERS, data, root)
        if decoded is None:
            with _gc_paused():
                doc, checked = _walk_ground_truth(_parse_slow(data, root)), True
        else:
            doc, checked = decoded
    with _gc_paused():
        return _ground_truth_columns(doc, checked)


def bbox_branch_boxes(results: Sequence[Any], root: str) -> NDArray[np.float64]:
    """(D, 4) boxes of results read in ``loadRes``' bbox branch (the first result has a
    non-empty ``bbox``, so every result's is read): each must be 4 numbers."""
    for i, result in enumerate(results):
        if result.bbox is None or len(result.bbox) != 4:
            what = "missing" if result.bbox is None else f"{len(result.bbox)} numbers"
            raise InputError(
                f"{root}[{i}].bbox",
                f"{what}; the first result has a 'bbox', so pycocotools reads every result's "
                "[x, y, width, height] (give all results one, or none)",
            )
    return np.array([r.bbox for r in results], dtype=np.float64).reshape(-1, 4)


ResultDecoders = tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]


def read_results(
    src: Source,
    list_decoders: ResultDecoders,
    dict_decoders: ResultDecoders,
    read_one: Callable[[dict[str, Any], str], Item],
) -> tuple[list[Item], str, bool]:
    """Results as structs, the root of their locations, and whether their ids need checks.

    Bytes and files are decoded by the typed decoders (a list of results, or an object
    whose ``annotations`` the decoded object holds); what they refuse, and parsed JSON,
    is walked by ``read_one``, which locates the problem.
    """
    if isinstance(src, list | dict):
        with _gc_paused():
            items = walk_results(src, read_one)
        return items, "predictions.annotations" if isinstance(src, dict) else "predictions", True
    data = src if isinstance(src, bytes) else _read_bytes(src, "predictions")
    is_object = _holds_object(data)
    root = "predictions.annotations" if is_object else "predictions"
    decoded = _decode_fast(dict_decoders if is_object else list_decoders, data, "predictions")
    if decoded is None:
        with _gc_paused():
            return walk_results(_parse_slow(data, "predictions"), read_one), root, True
    doc, checked = decoded
    return (doc.annotations if is_object else doc), root, checked


def _prediction_ids(
    items: Sequence[Any], root: str, gt: GroundTruth, checked: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Image ids in the ground truth's key space, category ids, and the float-id warning."""
    if not checked and not gt.image_names:
        return (
            _column(items, "image_id", np.int64, root),
            _column(items, "category_id", np.int64, root),
            [],
        )
    floats = _FloatIds()
    values = _id_list(items, "image_id", root, floats, strings=True)
    image_ids = image_id_column(values, gt.image_names, gt.image_ids, root, "image_id")
    category_ids = _int_ids(items, "category_id", root, True, floats)
    return image_ids, category_ids, floats.warning(root)


def _unknown_image(value: Any, gt: GroundTruth) -> str:
    """What to say about an image id the ground truth lacks (``value`` as written)."""
    hint = ""
    if gt.image_names and not isinstance(value, str):
        hint = f"; the ground truth's image ids are strings ({_preview(gt.image_names, 3)})"
    elif isinstance(value, str) and not gt.image_names:
        hint = "; the ground truth's image ids are integers"
    return f"unknown image id {shown(value)} (not in the ground truth's images{hint}"


def refuse_unknown_images(
    image_ids: NDArray[np.int64],
    gt: GroundTruth,
    root: str = "predictions",
    written: Sequence[Any] | None = None,
) -> None:
    """InputError at the first result whose image the ground truth lacks (pycocotools
    refuses these too); ``written``: the results as read, for the id as it was written."""
    unknown = ~index_of(gt.image_ids, image_ids)[1]
    if unknown.any():
        i = int(np.argmax(unknown))
        value = written[i].image_id if written is not None else int(image_ids[i])
        raise InputError(
            f"{root}[{i}].image_id",
            f"{_unknown_image(value, gt)}; {int(unknown.sum())} results in all)",
        )


def _holds_object(data: bytes) -> bool:
    """Whether a JSON document is an object (rather than a list)."""
    return data[:64].lstrip().startswith(b"{")


def _predictions_from_array(array: NDArray[Any]) -> tuple[NDArray[Any], ...]:
    """Columns of an (n, 7) array ``[image_id, x, y, w, h, score, category_id]``."""
    if array.ndim != 2 or array.shape[1] != 7:
        raise InputError(
            "predictions",
            f"expected an array of shape (n, 7) [image_id, x, y, w, h, score, category_id], "
            f"got {array.shape}",
        )
    values = np.asarray(array, dtype=np.float64)
    ids = values[:, [0, 6]]
    if not np.array_equal(ids, np.round(ids)):
        raise InputError("predictions", "columns 0 (image_id) and 6 (category_id) must be integers")
    return (
        values[:, 0].astype(np.int64),
        values[:, 6].astype(np.int64),
        np.ascontiguousarray(values[:, 1:5]),
        np.ascontiguousarray(values[:, 5]),
    )


def load_predictions(
    src: Source | NDArray[Any] | Predictions | ScannedResults,
    gt: GroundTruth,
    unknown_categories: Literal["drop", "error"] = "drop",
) -> Predictions:
    """Load COCO detection results and check them against the ground truth.

    Parameters
    ----------
    src : path, bytes, list of dicts, dict with an ``annotations`` list, ndarray (n, 7), \
or ScannedResults
        Results as COCO writes them: ``{"image_id", "category_id", "bbox", "score"}``
        (a :class:`~evaluator.input.result_scan.ScannedResults`: already scanned).
    gt : GroundTruth
    unknown_categories : {"drop", "error"}
        What to do with results whose category is not in the ground truth: pycocotools
        drops them silently; ``"drop"`` drops them with a warning.

    Returns
    -------
    Predictions
        Every result, in input order (positions are the input's; the metrics leave
        out the unknown categories), with the warnings.

    Raises
    ------
    InputError
        Malformed input, non-finite or negative values, an image id that is not in the
        ground truth (pycocotools refuses these too), or with ``unknown_categories="error"``
        an unknown category id.
    """
    root = "predictions"
    written: Sequence[Any] | None = None  # the image ids as written, for messages
    if isinstance(src, Predictions):
        preds = src
    elif isinstance(src, np.ndarray):
        if gt.image_names:
            raise InputError(
                root,
                "the ground truth's image ids are strings, which an array cannot hold; "
                "give the results as COCO JSON",
            )
        image_ids, category_ids, boxes, scores = _predictions_from_array(src)
        preds = Predictions(image_ids, category_ids, boxes, scores)
    else:
        plain = None  # string image ids in the ground truth: the general loader maps them
        if isinstance(src, ScannedResults):
            plain = None if gt.image_names else src.plain
            src = src.source
        elif not isinstance(src, list | dict) and not gt.image_names:
            plain = scan_results(src).plain
        if plain is not None:
            preds = plain
        else:
            items, root, checked = read_results(
                src, _PRED_LIST_DECODERS, _PRED_DICT_DECODERS, _read_box_result
            )
            image_ids, category_ids, float_ids = _prediction_ids(items, root, gt, checked)
            written = items
            boxes = _box_column(items)
            scores = _column(items, "score", np.float64)
            preds = Predictions(image_ids, category_ids, boxes, scores, tuple(float_ids))
    if preds.areas is None:  # else the loader derived them (keypoint extents, mask boxes)
        _check_boxes(preds.boxes, root)
    _check_values(preds.scores, root, "score", None)
    warnings = list(preds.warnings)
    refuse_unknown_images(preds.image_ids, gt, root, written)
    unknown_cat = ~index_of(gt.category_ids, preds.category_ids)[1]
    if unknown_cat.any():
        i = int(np.argmax(unknown_cat))
        where = f"{root}[{i}].category_id"
        if unknown_categories == "error":
            raise InputError(
                where,
                f"unknown category id {int(preds.category_ids[i])} (not in the ground truth's "
                f"categories; {int(unknown_cat.sum())} results in all)",
            )
        warnings.append(
            f"{root}: {int(unknown_cat.sum())} results have categories not in the ground truth "
            f"(first: {where} = {int(preds.category_ids[i])}); they are dropped"
        )
    if not len(preds):
        warnings.append(f"{root}: no results; every AP is 0")
    return replace(preds, warnings=tuple(warnings))
