"""Masks for a segm evaluation: read beside the columns of :mod:`coco_json`.

Ground truth: each annotation's ``segmentation`` (polygons, or an RLE object with
compressed or uncompressed counts) as pycocotools' ``annToRLE`` reads it, at the size
of its image (``height`` and ``width`` in ``images``); an RLE's ``size`` must be its
image's.

Results: ``{"image_id", "category_id", "segmentation", "score"}``, ``bbox`` optional.
As pycocotools' ``loadRes``, the *first* result decides the area every result is judged
by (the area range an unmatched result falls in): its ``bbox``'s width * height when the
first result has a non-empty ``bbox`` (then every result needs one), else the mask's
area. Polygon results, on which ``loadRes`` crashes, are rasterised as ground truth is,
with a warning.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Generic, Literal, TypeVar

import msgspec
import numpy as np
from numpy.typing import NDArray

from evaluator.errors import InputError
from evaluator.input.coco_json import (
    GroundTruth,
    Predictions,
    Source,
    _Annotation,
    _as_id,
    _as_list,
    _as_number,
    _as_object,
    _Category,
    _column,
    _decode_fast,
    _gc_paused,
    _get,
    _ground_truth_columns,
    _Image,
    _parse_slow,
    _prediction_ids,
    _read_bytes,
    bbox_branch_boxes,
    load_ground_truth,
    load_predictions,
    read_results,
    refuse_unknown_images,
)
from evaluator.input.ids import IdValue, check_id, integral
from evaluator.input.mask_results import (
    ImageSizes,
    ScannedMasks,
    check_masks,
    image_sizes,
    scan_mask_file,
)
from evaluator.input.result_scan import map_file
from evaluator.masks import RunLengths
from evaluator.masks._engine import rle
from evaluator.masks.compressed import CompressedMasks
from evaluator.masks.parse import check_size

Id = TypeVar("Id")
_ABSENT = msgspec.UNSET
# The mask of an annotation that is never evaluated (its image is not declared).
_NO_MASK = {"size": [0, 0], "counts": []}
_NO_MASK_TEXT = msgspec.Raw(b'{"size": [0, 0], "counts": []}')


class _SizedImage(msgspec.Struct, gc=False):
    id: Any
    height: Any = None
    width: Any = None


class _Segmentation(msgspec.Struct, gc=False):
    segmentation: Any = _ABSENT


class _SegmentationFile(msgspec.Struct, gc=False):
    images: list[_SizedImage]
    annotations: list[_Segmentation] = []


class _SegmentationText(msgspec.Struct, gc=False):
    segmentation: msgspec.Raw = msgspec.Raw()  # empty: absent


class _SegmentationTextFile(msgspec.Struct, gc=False):
    images: list[_SizedImage]
    annotations: list[_SegmentationText] = []


class _MaskResult(msgspec.Struct, Generic[Id], gc=False):
    image_id: Id
    category_id: Id
    score: float
    segmentation: Any = _ABSENT  # absent: the bbox as a polygon, when loadRes reads boxes
    bbox: list[float] | None = None  # [] reads as absent, as in loadRes


class _MaskResultFile(msgspec.Struct, Generic[Id], gc=False):
    annotations: list[_MaskResult[Id]]


class _MaskedImage(_Image[Id], Generic[Id], gc=False):
    height: Any = None
    width: Any = None


class _MaskedAnnotation(_Annotation[Id], Generic[Id], gc=False):
    segmentation: msgspec.Raw = msgspec.Raw()  # empty: absent


class _MaskedGroundTruthFile(msgspec.Struct, Generic[Id], gc=False):
    """The box loader's ground truth with each image's size and each annotation's
    segmentation as its JSON text: both read in one decode."""

    images: list[_MaskedImage[Id]]
    categories: list[_Category[Id]]
    annotations: list[_MaskedAnnotation[Id]] = []


_MASKED_GT_DECODERS = (
    msgspec.json.Decoder(_MaskedGroundTruthFile[int]),
    msgspec.json.Decoder(_MaskedGroundTruthFile[IdValue]),
)
_GT_DECODERS = (
    msgspec.json.Decoder(_SegmentationFile),
    msgspec.json.Decoder(_SegmentationFile),
)
_GT_TEXT_DECODERS = (
    msgspec.json.Decoder(_SegmentationTextFile),
    msgspec.json.Decoder(_SegmentationTextFile),
)
_LIST_DECODERS = (
    msgspec.json.Decoder(list[_MaskResult[int]]),
    msgspec.json.Decoder(list[_MaskResult[IdValue]]),
)
_DICT_DECODERS = (
    msgspec.json.Decoder(_MaskResultFile[int]),
    msgspec.json.Decoder(_MaskResultFile[IdValue]),
)


def _walk_segmentations(doc: Any) -> _SegmentationFile:
    root = "ground_truth"
    doc = _as_object(doc, root)
    images = []
    for i, image in enumerate(_as_list(_get(doc, "images", root), f"{root}.images")):
        loc = f"{root}.images[{i}]"
        image = _as_object(image, loc)
        images.append(
            _SizedImage(
                id=_get(image, "id", loc),
                height=_get(image, "height", loc, None),
                width=_get(image, "width", loc, None),
            )
        )
    anns = []
    for i, ann in enumerate(_as_list(_get(doc, "annotations", root, []), f"{root}.annotations")):
        ann = _as_object(ann, f"{root}.annotations[{i}]")
        anns.append(_Segmentation(segmentation=ann.get("segmentation", _ABSENT)))
    return _SegmentationFile(images=images, annotations=anns)


def _without_segmentation(document: _SegmentationFile | _SegmentationTextFile) -> list[int]:
    """The annotations that have no ``segmentation`` (as JSON text: an empty one)."""
    if isinstance(document, _SegmentationTextFile):
        lengths = np.fromiter(
            (len(a.segmentation) for a in document.annotations),
            dtype=np.int64,
            count=len(document.annotations),
        )
        return np.flatnonzero(lengths == 0).tolist()
    return [i for i, a in enumerate(document.annotations) if a.segmentation is _ABSENT]


def _segmentation_file(
    src: dict[str, Any] | list[Any] | bytes, as_text: bool = True
) -> _SegmentationFile | _SegmentationTextFile:
    """The images and segmentations of the ground truth: with ``as_text`` each
    segmentation as its JSON text when the fast decoder reads the file, else as Python
    objects."""
    if isinstance(src, dict | list):
        return _walk_segmentations(src)
    decoded = _decode_fast(_GT_TEXT_DECODERS if as_text else _GT_DECODERS, src, "ground_truth")
    if decoded is None:
        with _gc_paused():
            return _walk_segmentations(_parse_slow(src, "ground_truth"))
    document: _SegmentationFile | _SegmentationTextFile = decoded[0]
    return document


def _image_sizes(
    images: Sequence[_SizedImage], gt: GroundTruth
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Declared images' keys (sorted, as ``gt.image_ids``), heights and widths.

    A repeated image id takes its last entry's size, as pycocotools' index does.
    """
    root = "ground_truth.images"
    ids = [check_id(image.id, f"{root}[{i}].id", strings=True) for i, image in enumerate(images)]
    values, _, _ = integral(ids, root, "id", strings=True)
    position = {name: k for k, name in enumerate(gt.image_names)}
    sizes: dict[int, tuple[int, int]] = {}
    for i, (value, image) in enumerate(zip(values, images, strict=True)):
        for field in ("height", "width"):
            if getattr(image, field) is None:
                raise InputError(
                    f"{root}[{i}].{field}",
                    "missing; a segm evaluation reads each image's height and width (the "
                    "size of its masks)",
                )
        h, w = check_size(_whole(image.height), _whole(image.width), f"{root}[{i}] (height, width)")
        sizes[position[value] if isinstance(value, str) else int(value)] = (h, w)
    keys = np.array(sorted(sizes), dtype=np.int64)
    heights = np.array([sizes[k][0] for k in keys.tolist()], dtype=np.int64)
    widths = np.array([sizes[k][1] for k in keys.tolist()], dtype=np.int64)
    return keys, heights, widths


def _whole(value: Any) -> Any:
    """An integral float (``53.0``, what dumping NumPy values gives) as the int it equals,
    as pycocotools reads an image's size; anything else as it is, for the size check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@contextmanager
def _inside_segmentation(root: str) -> Iterator[None]:
    """Mask errors located at ``root[i]...`` moved inside the object's ``segmentation``
    (``root[i].segmentation.counts``)."""
    try:
        yield
    except InputError as error:
        inside = re.match(rf"({re.escape(root)}\[\d+\])(.*)$", error.location)
        if inside is None:
            raise
        raise InputError(f"{inside[1]}.segmentation{inside[2]}", error.problem) from None


def _masks(
    segmentations: Sequence[object],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    root: str,
) -> RunLengths:
    """:meth:`RunLengths.from_coco`, its errors located inside ``segmentation``."""
    with _inside_segmentation(root):
        return RunLengths.from_coco(segmentations, heights, widths, where=root)


def _columns_without_boxes(
    src: dict[str, Any] | list[Any] | bytes,
) -> tuple[GroundTruth, NDArray[np.int64]]:
    """The ground truth's columns, and the annotations that had no ``bbox``.

    pycocotools' segm evaluation never reads an annotation's ``bbox``; the box loader
    needs one, so a missing one is filled with zeros here (the caller puts the mask's box
    there). Only files that lack a bbox take this slower path.
    """
    try:
        return load_ground_truth(src), np.zeros(0, dtype=np.int64)
    except InputError as error:
        if not (error.location.endswith(".bbox") and error.problem == "missing"):
            raise
    doc = json.loads(src) if isinstance(src, bytes) else copy.deepcopy(src)
    anns = doc.get("annotations") if isinstance(doc, dict) else None
    boxless = [i for i, a in enumerate(anns or []) if isinstance(a, dict) and "bbox" not in a]
    for i in boxless:
        anns[i]["bbox"] = [0.0, 0.0, 0.0, 0.0]  # type: ignore[index]
    return load_ground_truth(doc), np.array(boxless, dtype=np.int64)


def _ground_truth_and_segmentations(
    src: dict[str, Any] | list[Any] | bytes,
) -> tuple[GroundTruth, NDArray[np.int64], _SegmentationFile | _SegmentationTextFile]:
    """The ground truth's columns, the annotations that had no ``bbox``, and its images'
    sizes and segmentations: JSON bytes the fast decoder reads (every annotation with a
    ``bbox``) in one decode, anything else by the box loader and then the segmentation
    reader (:func:`_columns_without_boxes`, :func:`_segmentation_file`)."""
    if isinstance(src, bytes):
        decoded = _decode_fast(_MASKED_GT_DECODERS, src, "ground_truth")
        if decoded is not None:
            doc, checked = decoded
            with _gc_paused():
                gt = _ground_truth_columns(doc, checked)
            # its images and annotations have the fields the segmentation reader's have
            sized = _SegmentationTextFile(images=doc.images, annotations=doc.annotations)
            return gt, np.zeros(0, dtype=np.int64), sized
    gt, boxless = _columns_without_boxes(src)
    return gt, boxless, _segmentation_file(src)


def _annotation_masks(
    src: dict[str, Any] | list[Any] | bytes,
    annotations: Sequence[_Segmentation | _SegmentationText],
    known: NDArray[np.bool_],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
) -> RunLengths:
    """Each annotation's mask (an empty one where ``known`` is False: its image is not
    declared), read from the JSON text of the segmentations when the fast decoder gave
    it; a segmentation it does not decode (a number beyond its range) sends the file to
    the general reader, as for the rest of the document."""
    loc = "ground_truth.annotations"
    if annotations and isinstance(annotations[0].segmentation, msgspec.Raw):
        texts = [
            a.segmentation if ok else _NO_MASK_TEXT
            for a, ok in zip(annotations, known.tolist(), strict=True)
        ]
        try:
            with _inside_segmentation(loc):
                return RunLengths.from_json(texts, heights, widths, where=loc)
        except msgspec.MsgspecError:
            annotations = _segmentation_file(src, as_text=False).annotations
    segmentations = [
        a.segmentation if ok else _NO_MASK
        for a, ok in zip(annotations, known.tolist(), strict=True)
    ]
    return _masks(segmentations, heights, widths, loc)


def load_segmentation_ground_truth(src: Source | GroundTruth) -> GroundTruth:
    """COCO ground truth with each annotation's mask.

    Parameters
    ----------
    src : path, JSON bytes, COCO dict, or GroundTruth (returned as it is when it holds
        masks)

    Returns
    -------
    GroundTruth
        With ``masks``: one per annotation, at its image's size (an annotation on an
        undeclared image, never evaluated, gets an empty 0 x 0 mask).

    Raises
    ------
    InputError
        A missing ``segmentation``, an image without ``height`` or ``width``, and the
        mask errors of :meth:`RunLengths.from_coco` (a string that does not decode,
        counts that do not sum to height * width, a polygon of fewer than 6 numbers or an
        odd count, a NaN coordinate, an RLE ``size`` that is not its image's).
    """
    if isinstance(src, GroundTruth):
        if src.masks is None:
            raise InputError("ground_truth", "no masks loaded (load with iou_type='segm')")
        return src
    rle.map_large_blocks()  # else blocks of megabytes freed on worker threads stay
    if not isinstance(src, dict | list | bytes):
        src = _read_bytes(src, "ground_truth")
    gt, boxless, document = _ground_truth_and_segmentations(src)
    loc = "ground_truth.annotations"
    annotations: Sequence[_Segmentation | _SegmentationText] = document.annotations
    for i in _without_segmentation(document)[:1]:
        raise InputError(
            f"{loc}[{i}].segmentation",
            "missing; a segm evaluation needs each annotation's mask (polygons or RLE)",
        )
    keys, image_heights, image_widths = _image_sizes(document.images, gt)
    known, heights, widths = image_sizes(gt.ann_image_ids, (keys, image_heights, image_widths))
    masks = _annotation_masks(src, annotations, known, heights, widths)
    del document, annotations
    rle.release_freed()  # what the rasteriser's threads freed
    sizes = np.stack([image_heights, image_widths], axis=1)
    if boxless.size:  # their masks' boxes stand in: a segm evaluation never reads them
        boxes = gt.boxes.copy()
        boxes[boxless] = masks.take(boxless).to_bbox()
        warning = (
            f"{loc}: {boxless.size} annotations have no 'bbox' (first: {loc}[{boxless[0]}]); "
            "their masks' boxes are used (pycocotools' segm evaluation does not read it)"
        )
        gt = replace(gt, boxes=boxes, warnings=(*gt.warnings, warning))
    return replace(gt, masks=masks, image_sizes=sizes)


def _read_mask_result(det: dict[str, Any], loc: str) -> _MaskResult[Any]:
    bbox = _get(det, "bbox", loc, None)
    if bbox is not None:
        bbox = [_as_number(v, f"{loc}.bbox[{j}]") for j, v in enumerate(_as_list(bbox, loc))]
    return _MaskResult(
        image_id=_as_id(_get(det, "image_id", loc), f"{loc}.image_id", strings=True),
        category_id=_as_id(_get(det, "category_id", loc), f"{loc}.category_id"),
        score=_as_number(_get(det, "score", loc), f"{loc}.score"),
        segmentation=det.get("segmentation", _ABSENT),
        bbox=bbox,
    )


def _result_segmentations(
    results: Sequence[_MaskResult[Any]], boxes: NDArray[np.float64] | None, root: str
) -> list[object]:
    """Each result's segmentation; in loadRes' bbox branch (``boxes`` given) a result
    without one gets its box as a 4-point polygon, as loadRes makes it."""
    segmentations: list[object] = []
    for i, result in enumerate(results):
        if result.segmentation is not _ABSENT:
            segmentations.append(result.segmentation)
        elif boxes is None:
            raise InputError(
                f"{root}[{i}].segmentation",
                "missing; a segm evaluation needs each result's mask (or a bbox on every "
                "result, which is then scored as a rectangle, as pycocotools does)",
            )
        else:
            x, y, w, h = boxes[i].tolist()
            segmentations.append([[x, y, x, y + h, x + w, y + h, x + w, y]])
    return segmentations


def _odd_results_warnings(results: Sequence[_MaskResult[Any]], boxed: bool, root: str) -> list[str]:
    """Warnings for results pycocotools reads otherwise or not at all."""
    warnings = []
    boxes_only = [i for i, r in enumerate(results) if r.segmentation is _ABSENT]
    if boxes_only:
        warnings.append(
            f"{root}: {len(boxes_only)} results have no segmentation (first: "
            f"{root}[{boxes_only[0]}]); their boxes are scored as masks, as pycocotools does"
        )
    if not boxed:  # loadRes' segm branch reads each mask's area, which needs compressed RLE
        for form, test in (
            ("polygon", lambda s: isinstance(s, list)),
            (
                "uncompressed RLE",
                lambda s: isinstance(s, dict) and isinstance(s.get("counts"), list),
            ),
        ):
            odd = [i for i, r in enumerate(results) if test(r.segmentation)]
            if odd:
                warnings.append(
                    f"{root}: {len(odd)} results have {form} segmentations (first: "
                    f"{root}[{odd[0]}].segmentation); read at their image's size as ground "
                    "truth is (pycocotools' loadRes fails on them when the first result has "
                    "no bbox)"
                )
    return warnings


def _scanned_predictions(scanned: ScannedMasks, gt: GroundTruth) -> Predictions:
    """The columns of mask results the compiled scanner read, checked against the images.

    The scanner reads the plain shape: a JSON array of objects with integer ``image_id``
    and ``category_id``, a numeric ``score``, a ``segmentation`` that is a compressed RLE
    object, and a ``bbox`` of 4 numbers on every result or on none: what detectron2 and
    mmdetection write. The masks stay compressed (:class:`CompressedMasks`).
    """
    root = "predictions"
    # Unknown images first (load_predictions' own check): their masks have no size.
    refuse_unknown_images(scanned.image_ids, gt)
    check = check_masks(scanned, _image_size_columns(gt))
    heights, widths = check.heights, check.widths
    if check.wrong_size is not None:
        i = check.wrong_size
        raise InputError(
            f"{root}[{i}].segmentation.size",
            f"{scanned.given_sizes[i].tolist()} differs from the image's "
            f"{[int(heights[i]), int(widths[i])]}",
        )
    if check.problem is not None:
        index, problem = check.problem
        raise InputError(f"{root}[{index}].segmentation.counts", problem)
    masks = CompressedMasks.of_checked(
        scanned.blob, scanned.starts, heights, widths, check.measures
    )
    boxes, areas = scanned.boxes, None
    if not scanned.boxed:
        boxes, areas = masks.to_bbox(), masks.area().astype(np.float64)
    return Predictions(
        scanned.image_ids, scanned.category_ids, boxes, scanned.scores, masks=masks, areas=areas
    )


def _image_size_columns(gt: GroundTruth) -> ImageSizes:
    """The ground truth's image keys and their heights and widths."""
    if gt.image_sizes is None:
        raise InputError("ground_truth", "no masks loaded (load with iou_type='segm')")
    return gt.image_ids, gt.image_sizes[:, 0], gt.image_sizes[:, 1]


def _scan_results(src: str | os.PathLike[str] | bytes) -> ScannedMasks | None:
    """:func:`scan_mask_file` of a path or of JSON bytes; None also when the file cannot
    be mapped (the general loader then says why)."""
    if isinstance(src, bytes):
        return scan_mask_file(src)
    data = map_file(src)
    if data is None:
        return None
    with data:
        return scan_mask_file(data)


def load_segmentation_inputs(
    gt_src: Source | GroundTruth,
    pred_src: Source | Predictions,
    unknown_categories: Literal["drop", "error"] = "drop",
) -> tuple[GroundTruth, Predictions]:
    """:func:`load_segmentation_ground_truth` then :func:`load_segmentation_predictions`,
    a results file (or bytes) read and scanned on a second thread while the ground truth
    loads (the scanner needs nothing of it; the masks are checked against it after). The
    outcome, errors included, is that of the two calls in turn.

    Returns
    -------
    GroundTruth, Predictions
    """
    if not isinstance(pred_src, str | os.PathLike | bytes):
        gt = load_segmentation_ground_truth(gt_src)
        return gt, load_segmentation_predictions(pred_src, gt, unknown_categories)
    rle.map_large_blocks()  # before the scan's first blocks
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_scan_results, pred_src)
        gt = load_segmentation_ground_truth(gt_src)
        scanned = scanning.result()
    del scanning  # it holds the columns too
    return gt, _load_predictions(pred_src, gt, unknown_categories, scanned)


def load_segmentation_predictions(
    src: Source | Predictions,
    gt: GroundTruth,
    unknown_categories: Literal["drop", "error"] = "drop",
) -> Predictions:
    """Mask results as columns, checked against the ground truth.

    Parameters
    ----------
    src : path, bytes, list of dicts, dict with an ``annotations`` list, or Predictions
        (with ``masks``)
    gt : GroundTruth
        Loaded by :func:`load_segmentation_ground_truth` (its images' sizes are read
        again from ``src``'s images, so give the same ground truth).
    unknown_categories : {"drop", "error"}
        As :func:`evaluator.input.coco_json.load_predictions`.

    Returns
    -------
    Predictions
        With ``masks``; ``boxes`` and ``areas`` as ``loadRes`` sets them.

    Raises
    ------
    InputError
        A result on an unknown image, a mask that cannot be read or whose ``size`` is
        not its image's, a bbox on some results but not on the first, and whatever
        :func:`load_predictions` refuses.
    """
    scanned = None
    if isinstance(src, str | os.PathLike | bytes) and gt.image_sizes is not None:
        scanned = None if gt.image_names else _scan_results(src)
    return _load_predictions(src, gt, unknown_categories, scanned)


def _load_predictions(
    src: Source | Predictions,
    gt: GroundTruth,
    unknown_categories: Literal["drop", "error"],
    scanned: ScannedMasks | None,
) -> Predictions:
    """:func:`load_segmentation_predictions`, with what the scanner read of a file or
    bytes ``src`` (None: it does not read it)."""
    if isinstance(src, Predictions):
        if src.masks is None:
            raise InputError("predictions", "no masks loaded (load with iou_type='segm')")
        return load_predictions(src, gt, unknown_categories)
    sizes = _image_size_columns(gt)
    if not isinstance(src, list | dict):
        # A file is scanned in parts, never read whole (its strings alone stay).
        if scanned is not None and not gt.image_names:
            return load_predictions(_scanned_predictions(scanned, gt), gt, unknown_categories)
        del scanned
        src = src if isinstance(src, bytes) else _read_bytes(src, "predictions")
    results, root, checked = read_results(src, _LIST_DECODERS, _DICT_DECODERS, _read_mask_result)
    image_ids, category_ids, float_ids = _prediction_ids(results, root, gt, checked)
    scores = _column(results, "score", np.float64)
    # Unknown images first (load_predictions' own check): their masks have no size.
    refuse_unknown_images(image_ids, gt, root, results)
    _, heights, widths = image_sizes(image_ids, sizes)
    boxed = bool(results) and bool(results[0].bbox)  # loadRes' bbox branch
    given = bbox_branch_boxes(results, root) if boxed else None
    segmentations = _result_segmentations(results, given, root)
    masks = _masks(segmentations, heights, widths, root)
    warnings = list(float_ids) + _odd_results_warnings(results, boxed, root)
    if given is not None:
        boxes, areas = given, None
    else:
        boxes, areas = masks.to_bbox(), masks.area().astype(np.float64)
    preds = Predictions(
        image_ids, category_ids, boxes, scores, tuple(warnings), masks=masks, areas=areas
    )
    return load_predictions(preds, gt, unknown_categories)
