"""Keypoints for a keypoints evaluation: read beside the columns of :mod:`coco_json`.

Ground truth: each annotation's ``keypoints`` (``3 * K`` numbers, ``x, y, v`` with
visibility ``v`` in 0/1/2) and ``num_keypoints``, read as pycocotools reads them.

Results: ``{"image_id", "category_id", "keypoints", "score"}``, ``bbox`` optional. As
pycocotools' ``loadRes``, the *first* result decides the box every result is judged by
(its area sets the area range an unmatched result falls in): its own ``bbox`` when the
first result has one, else the box spanned by its keypoints, all K of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Generic, Literal, TypeVar

import msgspec
import numpy as np
from numpy.typing import NDArray

from evaluator.errors import InputError
from evaluator.input import _scan
from evaluator.input.coco_json import (
    GroundTruth,
    Predictions,
    Source,
    _as_id,
    _as_list,
    _as_number,
    _as_object,
    _column,
    _decode_fast,
    _gc_paused,
    _get,
    _parse_slow,
    _prediction_ids,
    _read_bytes,
    bbox_branch_boxes,
    load_ground_truth,
    load_predictions,
    read_results,
)
from evaluator.input.ids import IdValue
from evaluator.input.result_scan import ScannedResults, scan_results

Id = TypeVar("Id")


class _KeypointFields(msgspec.Struct, gc=False):
    keypoints: list[float] | None = None
    # pycocotools only compares it with 0: any number, a boolean, or null (never 0).
    num_keypoints: float | bool | None | msgspec.UnsetType = msgspec.UNSET


class _Skeleton(msgspec.Struct, gc=False):
    keypoints: Any = None  # the keypoints' names, when the category lists them


class _KeypointFile(msgspec.Struct, gc=False):
    categories: list[_Skeleton] = []
    annotations: list[_KeypointFields] = []


class _RawKeypointFields(msgspec.Struct, gc=False):
    keypoints: msgspec.Raw = msgspec.Raw(b"null")  # the JSON as written, for the scanner
    num_keypoints: float | bool | None | msgspec.UnsetType = msgspec.UNSET


class _RawKeypointFile(msgspec.Struct, gc=False):
    categories: list[_Skeleton] = []
    annotations: list[_RawKeypointFields] = []


class _KeypointResult(msgspec.Struct, Generic[Id], gc=False):
    image_id: Id
    category_id: Id
    keypoints: list[float]
    score: float
    bbox: list[float] | None = None  # [] reads as absent, as in loadRes


class _KeypointResultFile(msgspec.Struct, Generic[Id], gc=False):
    annotations: list[_KeypointResult[Id]]


_GT_DECODERS = (msgspec.json.Decoder(_KeypointFile), msgspec.json.Decoder(_KeypointFile))
_RAW_GT_DECODER = msgspec.json.Decoder(_RawKeypointFile)
_LIST_DECODERS = (
    msgspec.json.Decoder(list[_KeypointResult[int]]),
    msgspec.json.Decoder(list[_KeypointResult[IdValue]]),
)
_DICT_DECODERS = (
    msgspec.json.Decoder(_KeypointResultFile[int]),
    msgspec.json.Decoder(_KeypointResultFile[IdValue]),
)


def _keypoint_list(value: Any, loc: str) -> list[float]:
    return [_as_number(v, f"{loc}[{i}]") for i, v in enumerate(_as_list(value, loc))]


def _walk_keypoint_fields(doc: Any) -> _KeypointFile:
    root = "ground_truth"
    fields = []
    doc = _as_object(doc, root)
    skeletons = [
        _Skeleton(keypoints=category.get("keypoints") if isinstance(category, dict) else None)
        for category in _as_list(_get(doc, "categories", root, []), f"{root}.categories")
    ]
    for i, ann in enumerate(_as_list(_get(doc, "annotations", root, []), f"{root}.annotations")):
        loc = f"{root}.annotations[{i}]"
        ann = _as_object(ann, loc)
        keypoints = _get(ann, "keypoints", loc, None)
        count = _get(ann, "num_keypoints", loc, msgspec.UNSET)
        if count is not msgspec.UNSET and count is not None and not isinstance(count, bool):
            count = _as_number(count, f"{loc}.num_keypoints")
        if keypoints is not None:
            keypoints = _keypoint_list(keypoints, f"{loc}.keypoints")
        fields.append(_KeypointFields(keypoints=keypoints, num_keypoints=count))
    return _KeypointFile(categories=skeletons, annotations=fields)


def _keypoint_array(
    lists: Sequence[list[float] | None], n_keypoints: int, loc: str
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(N, K, 3) keypoints (zeros where absent), checked, and which ones were present."""
    present = np.fromiter((k is not None for k in lists), dtype=bool, count=len(lists))
    lengths = np.fromiter((len(k) if k is not None else 0 for k in lists), np.int64, len(lists))
    wrong = present & (lengths != 3 * n_keypoints)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise InputError(
            f"{loc}[{i}].keypoints",
            f"expected {3 * n_keypoints} numbers (x, y, v for each of {n_keypoints} keypoints, "
            f"one per OKS sigma), got {int(lengths[i])}; other skeletons need their own "
            "oks_sigmas",
        )
    flat = np.zeros((len(lists), 3 * n_keypoints), dtype=np.float64)
    if present.any():
        rows = [k for k in lists if k is not None]
        flat[present] = np.array(rows, dtype=np.float64).reshape(-1, 3 * n_keypoints)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{loc}[{i}].keypoints", "must be finite numbers (found NaN or inf)")
    return flat.reshape(-1, n_keypoints, 3), present


def _check_skeletons(categories: Sequence[_Skeleton], n_keypoints: int) -> None:
    """InputError unless every category that names its keypoints names K of them."""
    for i, category in enumerate(categories):
        names = category.keypoints
        if isinstance(names, list) and names and len(names) != n_keypoints:
            raise InputError(
                f"ground_truth.categories[{i}].keypoints",
                f"{len(names)} keypoints named, but {n_keypoints} OKS sigmas given (the "
                f"default is COCO's 17-keypoint person); pass oks_sigmas for this skeleton",
            )


def _ground_truth_fields(src: Source, n_keypoints: int) -> list[_KeypointFields]:
    """Each annotation's keypoint fields, once the categories' skeletons agree with K."""
    if isinstance(src, dict | list):
        document = _walk_keypoint_fields(src)
    else:
        data = src if isinstance(src, bytes) else _read_bytes(src, "ground_truth")
        decoded = _decode_fast(_GT_DECODERS, data, "ground_truth")
        if decoded is None:
            with _gc_paused():
                document = _walk_keypoint_fields(_parse_slow(data, "ground_truth"))
        else:
            document = decoded[0]
    _check_skeletons(document.categories, n_keypoints)
    return document.annotations


def _scanned_ground_truth(
    data: bytes, n_keypoints: int
) -> tuple[list[_RawKeypointFields], NDArray[np.float64], NDArray[np.bool_]] | None:
    """The annotations' fields, their (N, K, 3) keypoints and which have any, each
    annotation's keypoints read by the compiled scanner from the JSON as written (no
    Python number per keypoint); None unless all are null or 3 * K finite numbers."""
    try:
        with _gc_paused():
            document = _RAW_GT_DECODER.decode(data)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None  # the general path says what is wrong
    _check_skeletons(document.categories, n_keypoints)
    fields = document.annotations
    rows = b"[" + b",".join([f.keypoints for f in fields]) + b"]"
    keypoints = np.empty((len(fields), n_keypoints, 3), dtype=np.float64)
    present = np.empty(len(fields), dtype=np.bool_)
    if not _scan.scan_number_rows(rows, 3 * n_keypoints, keypoints, present.view(np.uint8)):
        return None
    return fields, keypoints, present


def load_keypoint_ground_truth(src: Source | GroundTruth, n_keypoints: int) -> GroundTruth:
    """COCO ground truth with each annotation's keypoints.

    Parameters
    ----------
    src : path, JSON bytes, COCO dict, or GroundTruth (returned as it is when it holds
        keypoints)
    n_keypoints : int
        K, the keypoints per object (the number of OKS sigmas).

    Returns
    -------
    GroundTruth
        With ``keypoints`` (N, K, 3) and ``num_keypoints`` (N,). An annotation without
        ``keypoints`` has none labelled; one without ``num_keypoints`` gets the count of
        its labelled keypoints (pycocotools would fail on either; both warn).

    Raises
    ------
    InputError
        Keypoints that are not ``3 * K`` finite numbers, a visibility outside 0, 1, 2.
    """
    if isinstance(src, GroundTruth):
        if src.keypoints is not None and src.keypoints.shape[1] != n_keypoints:
            raise InputError(
                "ground_truth.keypoints",
                f"{src.keypoints.shape[1]} keypoints per object, expected {n_keypoints}",
            )
        if src.keypoints is not None:
            return src
        raise InputError("ground_truth", "no keypoints loaded (load with iou_type='keypoints')")
    if not isinstance(src, dict | list | bytes):
        src = _read_bytes(src, "ground_truth")
    gt = load_ground_truth(src)
    loc = "ground_truth.annotations"
    scanned = _scanned_ground_truth(src, n_keypoints) if isinstance(src, bytes) else None
    fields: Sequence[_KeypointFields | _RawKeypointFields]
    if scanned is None:
        fields = _ground_truth_fields(src, n_keypoints)
        keypoints, present = _keypoint_array([f.keypoints for f in fields], n_keypoints, loc)
    else:
        fields, keypoints, present = scanned
    visibility = keypoints[:, :, 2]
    odd = ~np.isin(visibility, (0, 1, 2)).all(axis=1)
    if odd.any():
        i = int(np.argmax(odd))
        k = int(np.argmax(~np.isin(visibility[i], (0, 1, 2))))
        raise InputError(
            f"{loc}[{i}].keypoints[{3 * k + 2}]",
            f"a visibility flag must be 0, 1 or 2, got {visibility[i, k]:g}",
        )
    labelled = (visibility > 0).sum(axis=1)
    given = np.fromiter((f.num_keypoints is not msgspec.UNSET for f in fields), bool, len(fields))
    written = np.fromiter(
        (np.nan if f.num_keypoints in (None, msgspec.UNSET) else f.num_keypoints for f in fields),
        np.float64,
        len(fields),
    )
    counts = np.where(given, written, labelled)
    warnings = list(gt.warnings)
    if not present.all():
        i = int(np.argmax(~present))
        warnings.append(
            f"{loc}: {int((~present).sum())} annotations have no 'keypoints' (first: {loc}[{i}]); "
            "read as none labelled, so they are ignored (pycocotools would fail)"
        )
    if not given.all():
        i = int(np.argmax(~given))
        warnings.append(
            f"{loc}: {int((~given).sum())} annotations have no 'num_keypoints' (first: "
            f"{loc}[{i}]); the count of labelled keypoints is used (pycocotools would fail)"
        )
    return replace(gt, keypoints=keypoints, num_keypoints=counts, warnings=tuple(warnings))


def _read_keypoint_result(det: dict[str, Any], loc: str) -> _KeypointResult[Any]:
    bbox = _get(det, "bbox", loc, None)
    return _KeypointResult(
        image_id=_as_id(_get(det, "image_id", loc), f"{loc}.image_id", strings=True),
        category_id=_as_id(_get(det, "category_id", loc), f"{loc}.category_id"),
        keypoints=_keypoint_list(_get(det, "keypoints", loc), f"{loc}.keypoints"),
        score=_as_number(_get(det, "score", loc), f"{loc}.score"),
        bbox=None if bbox is None else _keypoint_list(bbox, f"{loc}.bbox"),
    )


def _result_boxes(
    results: Sequence[_KeypointResult[Any]], keypoints: NDArray[np.float64], root: str
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Each result's box and area as ``loadRes`` sets them (see the module's docstring).

    Returns the (D, 4) boxes and, when they are spanned by the keypoints, the (D,) areas
    (None: the given boxes' width * height).
    """
    if results and results[0].bbox:
        return bbox_branch_boxes(results, root), None
    return _spanned(keypoints)


def _spanned(keypoints: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(D, 4) ``xywh`` boxes spanned by all K keypoints of each result, and their (D,)
    areas ``(x1 - x0) * (y1 - y0)``, as loadRes computes them (inf or NaN where the
    extent overflows a double, as there)."""
    x, y = keypoints[:, :, 0], keypoints[:, :, 1]
    x0, y0 = x.min(axis=1, initial=np.inf), y.min(axis=1, initial=np.inf)
    x1, y1 = x.max(axis=1, initial=-np.inf), y.max(axis=1, initial=-np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        width, height = x1 - x0, y1 - y0
        return np.stack([x0, y0, width, height], axis=1), width * height


def load_keypoint_predictions(
    src: Source | Predictions | ScannedResults,
    gt: GroundTruth,
    n_keypoints: int,
    unknown_categories: Literal["drop", "error"] = "drop",
) -> Predictions:
    """Keypoint results as columns, checked against the ground truth.

    Parameters
    ----------
    src : path, bytes, list of dicts, dict with an ``annotations`` list, Predictions
        (with ``keypoints``), or ScannedResults (from :func:`.result_scan.scan_results`)
    gt : GroundTruth
    n_keypoints : int
    unknown_categories : {"drop", "error"}
        As :func:`evaluator.input.coco_json.load_predictions`.

    Returns
    -------
    Predictions
        With ``keypoints`` (D, K, 3) and ``boxes`` as ``loadRes`` derives them.

    Raises
    ------
    InputError
        Keypoints that are not ``3 * K`` finite numbers, a bbox on some results but not
        on the first, and whatever :func:`load_predictions` refuses.
    """
    if isinstance(src, Predictions):
        if src.keypoint_column().shape[1:] != (n_keypoints, 3):
            raise InputError("predictions.keypoints", f"expected shape (D, {n_keypoints}, 3)")
        return load_predictions(src, gt, unknown_categories)
    if not isinstance(src, list | dict):
        # String image ids in the ground truth: the general loader maps them.
        if isinstance(src, ScannedResults):
            plain = None if gt.image_names else src.plain
            src = src.source
        else:
            plain = None if gt.image_names else scan_results(src, n_keypoints).plain
        if plain is not None:
            return load_predictions(plain, gt, unknown_categories)
        src = src if isinstance(src, bytes) else _read_bytes(src, "predictions")
    results, root, checked = read_results(
        src, _LIST_DECODERS, _DICT_DECODERS, _read_keypoint_result
    )
    keypoints, _ = _keypoint_array([r.keypoints for r in results], n_keypoints, root)
    image_ids, category_ids, float_ids = _prediction_ids(results, root, gt, checked)
    boxes, areas = _result_boxes(results, keypoints, root)
    preds = Predictions(
        image_ids,
        category_ids,
        boxes,
        _column(results, "score", np.float64),
        tuple(float_ids),
        keypoints=keypoints,
        areas=areas,
    )
    return load_predictions(preds, gt, unknown_categories)
