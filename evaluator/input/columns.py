"""Ground truth and detections as aligned columns: the one pair of types every metric takes.

:class:`GroundTruth` and :class:`Predictions` hold COCO's vocabulary (declared images and
categories, then one entry per annotation or result). The COCO loader
(:mod:`evaluator.input.coco_json`) and the VOC text loader
(:mod:`evaluator.input.voc_text`) produce them; COCO matching, VOC AP, TIDE and the
confusion matrix read them. Arrays from elsewhere enter through
:meth:`GroundTruth.from_arrays` and :meth:`Predictions.from_arrays`, which validate them
once (located :class:`~evaluator.errors.InputError`), store boxes as ``xywh`` float64
and make every array read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluator.errors import InputError
from evaluator.geometry.boxes import BoxFormat, box_convert
from evaluator.input.limits import check_name
from evaluator.masks import RunLengths
from evaluator.masks.compressed import MaskBatch


def readonly(array: NDArray[Any]) -> NDArray[Any]:
    """``array`` itself, made read-only (the columns are shared, never written)."""
    array.setflags(write=False)
    return array


def _id_array(values: ArrayLike, location: str, n: int | None) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.size == 0:
        array = array.reshape(0).astype(np.int64)  # [] arrives as float64
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise InputError(
            location, f"expected a 1-d array of integers, got shape {array.shape} {array.dtype}"
        )
    if n is not None and array.shape[0] != n:
        raise InputError(location, f"expected {n} values, got {array.shape[0]}")
    return readonly(array.astype(np.int64))


def _flag_array(values: ArrayLike | None, location: str, n: int) -> NDArray[np.bool_]:
    if values is None:
        return readonly(np.zeros(n, dtype=bool))
    array = np.asarray(values)
    if array.size == 0:
        array = array.reshape(0).astype(bool)  # [] arrives as float64
    if array.shape != (n,) or not (array.dtype == bool or np.issubdtype(array.dtype, np.integer)):
        raise InputError(
            location, f"expected {n} booleans (or 0/1), got shape {array.shape} {array.dtype}"
        )
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(array, (0, 1)))[0])
        raise InputError(f"{location}[{bad}]", f"expected 0 or 1, got {array[bad]}")
    return readonly(array.astype(bool))


def _float_array(values: ArrayLike, location: str) -> NDArray[np.float64]:
    try:
        return np.array(values, dtype=np.float64)  # a copy: it is made read-only later
    except (TypeError, ValueError) as error:
        raise InputError(location, f"expected numbers ({error})") from None


def _box_array(values: ArrayLike, location: str, n: int, fmt: BoxFormat) -> NDArray[np.float64]:
    array = _float_array(values, location)
    if array.size == 0:
        array = array.reshape(0, 4)
    if array.shape != (n, 4):
        raise InputError(location, f"expected shape ({n}, 4), got {array.shape}")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InputError(
            f"{location}[{bad}]", f"expected finite numbers, got {array[bad].tolist()}"
        )
    xywh = box_convert(array, fmt, "xywh").astype(np.float64)
    negative = (xywh[:, 2] < 0) | (xywh[:, 3] < 0)
    if negative.any():
        bad = int(np.flatnonzero(negative)[0])
        raise InputError(
            f"{location}[{bad}]", f"width and height must be >= 0, got {array[bad].tolist()} {fmt}"
        )
    return readonly(xywh)


def _score_array(values: ArrayLike, location: str, n: int) -> NDArray[np.float64]:
    array = _float_array(values, location)
    if array.size == 0:
        array = array.reshape(0)
    if array.shape != (n,):
        raise InputError(location, f"expected {n} numbers, got shape {array.shape}")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InputError(f"{location}[{bad}]", f"expected a finite number, got {array[bad]}")
    return readonly(array)


def _declared_categories(
    category: NDArray[np.int64], names: Mapping[int, str] | None, location: str
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Sorted category ids (those of the boxes and of ``names``) and their names."""
    names = dict(names or {})
    named = _id_array(list(names), location, None)
    for key, value in names.items():
        if not isinstance(value, str):
            raise InputError(f"{location}[{key}]", f"expected a string, got {type(value).__name__}")
        check_name(value, f"{location}[{key}]")
    category_ids = readonly(np.union1d(category, named))
    return category_ids, tuple(names.get(k, "") for k in category_ids.tolist())


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Ground truth as columns: declared images and categories, then the annotations.

    Build one with :func:`evaluator.input.coco_json.load_ground_truth` (COCO JSON) or
    :meth:`from_arrays`.

    Attributes
    ----------
    image_ids : ndarray of shape (I,), dtype int64
        Declared image ids, sorted, unique; with string ids, their positions in
        ``image_names``.
    category_ids : ndarray of shape (K,), dtype int64
        Declared category ids, sorted, unique.
    category_names : tuple of str, length K
        Name of each category (``""`` when none is given).
    ann_ids, ann_image_ids, ann_category_ids : ndarray of shape (N,), dtype int64
        One entry per annotation, in input order (nothing is dropped here). An annotation
        whose image or category is not declared is not evaluated.
    boxes : ndarray of shape (N, 4), dtype float64
        ``[x, y, width, height]``.
    areas : ndarray of shape (N,), dtype float64
        The ``area`` field (COCO: the segment's area), ``width * height`` when absent.
    iscrowd, ignore, difficult : ndarray of shape (N,), dtype bool
        The ``iscrowd``, ``ignore`` and (VOC) ``difficult`` fields, False when absent.
    warnings : tuple of str
        Valid-but-suspicious input found while loading.
    image_names : tuple of str
        The string image ids, sorted (pycocotools' image order); ``()`` when the ids are
        integers. Results are matched to images through them.
    keypoints : ndarray of shape (N, K, 3), dtype float64, or None
        ``x, y, visibility`` of each annotation's keypoints; None unless loaded for a
        keypoints evaluation (:mod:`evaluator.input.keypoints`).
    num_keypoints : ndarray of shape (N,), dtype float64, or None
        The ``num_keypoints`` field as written (NaN for null); pycocotools only compares
        it with 0, and an annotation whose count equals 0 is ignored.
    masks : RunLengths of N masks, or None
        Each annotation's mask at its image's size, when loaded for a segm evaluation
        (:mod:`evaluator.input.segmentation`).
    image_sizes : ndarray of shape (I, 2), dtype int64, or None
        ``height, width`` of each image of ``image_ids``, loaded with the masks.

    Notes
    -----
    ``len(gt)`` is the number of annotations. ``image``, ``category`` and ``bbox`` are
    read-only aliases of ``ann_image_ids``, ``ann_category_ids`` and ``boxes``, the names
    of the former ``GroundTruthArrays``, kept for users' scripts.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    category_names: tuple[str, ...]
    ann_ids: NDArray[np.int64]
    ann_image_ids: NDArray[np.int64]
    ann_category_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    areas: NDArray[np.float64]
    iscrowd: NDArray[np.bool_]
    ignore: NDArray[np.bool_]
    difficult: NDArray[np.bool_]
    warnings: tuple[str, ...] = ()
    image_names: tuple[str, ...] = ()
    keypoints: NDArray[np.float64] | None = None
    num_keypoints: NDArray[np.float64] | None = None
    masks: RunLengths | None = None
    image_sizes: NDArray[np.int64] | None = None

    @classmethod
    def from_arrays(
        cls,
        image: ArrayLike,
        category: ArrayLike,
        bbox: ArrayLike,
        *,
        difficult: ArrayLike | None = None,
        iscrowd: ArrayLike | None = None,
        fmt: BoxFormat = "xywh",
        images: ArrayLike | None = None,
        category_names: Mapping[int, str] | None = None,
        name: str = "ground_truth",
    ) -> GroundTruth:
        """Ground-truth boxes given as aligned arrays, validated once.

        Parameters
        ----------
        image : array_like of int, shape (n,)
            Image key of each box (any integers; only equality matters).
        category : array_like of int, shape (n,)
            Category id of each box.
        bbox : array_like of float, shape (n, 4)
            Boxes in ``fmt``; stored as ``xywh``.
        difficult : array_like of bool, shape (n,), optional
            VOC ``difficult`` flags; all False when omitted.
        iscrowd : array_like of bool, shape (n,), optional
            COCO crowd flags; all False when omitted.
        fmt : {"xywh", "xyxy", "cxcywh"}
            Format of ``bbox``.
        images : array_like of int, optional
            Further images to declare (images without objects); the images of the boxes
            are always declared.
        category_names : mapping of int to str, optional
            Further categories to declare, with their names; the categories of the boxes
            are always declared (named ``""`` unless named here).
        name : str
            Prefix of error locations, e.g. ``"ground_truth.bbox[3]"``.

        Returns
        -------
        GroundTruth
            Every array read-only; annotation ids ``1..n`` in input order, ``areas`` the
            boxes' ``width * height``, ``ignore`` all False.

        Raises
        ------
        InputError
            On a wrong shape or dtype, a non-finite coordinate or a negative width or
            height, located as ``f"{name}.{argument}[{index}]"``.
        """
        image_ = _id_array(image, f"{name}.image", None)
        n = image_.shape[0]
        category_ = _id_array(category, f"{name}.category", n)
        boxes = _box_array(bbox, f"{name}.bbox", n, fmt)
        extra_images = _id_array([] if images is None else images, f"{name}.images", None)
        difficult_ = _flag_array(difficult, f"{name}.difficult", n)
        iscrowd_ = _flag_array(iscrowd, f"{name}.iscrowd", n)
        category_ids, names = _declared_categories(
            category_, category_names, f"{name}.category_names"
        )
        return cls(
            image_ids=readonly(np.union1d(image_, extra_images)),
            category_ids=category_ids,
            category_names=names,
            ann_ids=readonly(np.arange(1, n + 1, dtype=np.int64)),
            ann_image_ids=image_,
            ann_category_ids=category_,
            boxes=boxes,
            areas=readonly(boxes[:, 2] * boxes[:, 3]),
            iscrowd=iscrowd_,
            ignore=readonly(np.zeros(n, dtype=bool)),
            difficult=difficult_,
        )

    def __len__(self) -> int:
        return int(self.ann_ids.shape[0])

    @property
    def n_annotations(self) -> int:
        return int(self.ann_ids.shape[0])

    def mask_column(self) -> RunLengths:
        """``masks``, or an InputError when they were not loaded."""
        if self.masks is None:
            raise InputError("ground_truth", "no masks loaded (load with iou_type='segm')")
        return self.masks

    def keypoint_columns(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``keypoints`` and ``num_keypoints``, or an InputError when they were not loaded."""
        if self.keypoints is None or self.num_keypoints is None:
            raise InputError("ground_truth", "no keypoints loaded (load with iou_type='keypoints')")
        return self.keypoints, self.num_keypoints

    @property
    def image(self) -> NDArray[np.int64]:
        """Alias of ``ann_image_ids`` (the former ``GroundTruthArrays.image``)."""
        return self.ann_image_ids

    @property
    def category(self) -> NDArray[np.int64]:
        """Alias of ``ann_category_ids`` (the former ``GroundTruthArrays.category``)."""
        return self.ann_category_ids

    @property
    def bbox(self) -> NDArray[np.float64]:
        """Alias of ``boxes`` (the former ``GroundTruthArrays.bbox``)."""
        return self.boxes

    def declared_only(self) -> GroundTruth:
        """The annotations on a declared image and category: ``self`` when that is all.

        VOC AP and the confusion matrix score these; COCO matching applies its own
        selection (pycocotools' duplicate-id rule needs every annotation).
        """
        declared = np.isin(self.ann_image_ids, self.image_ids) & np.isin(
            self.ann_category_ids, self.category_ids
        )  # (N,)
        if declared.all():
            return self
        return replace(
            self,
            ann_ids=self.ann_ids[declared],
            ann_image_ids=self.ann_image_ids[declared],
            ann_category_ids=self.ann_category_ids[declared],
            boxes=self.boxes[declared],
            areas=self.areas[declared],
            iscrowd=self.iscrowd[declared],
            ignore=self.ignore[declared],
            difficult=self.difficult[declared],
            keypoints=None if self.keypoints is None else self.keypoints[declared],
            num_keypoints=None if self.num_keypoints is None else self.num_keypoints[declared],
            masks=None if self.masks is None else self.masks.take(np.flatnonzero(declared)),
        )


@dataclass(frozen=True, eq=False)
class Predictions:
    """Detections (COCO results) as columns, in input order.

    Build one with :func:`evaluator.input.coco_json.load_predictions` (COCO results,
    checked against a :class:`GroundTruth`) or :meth:`from_arrays`.

    Attributes
    ----------
    image_ids : ndarray of shape (D,), dtype int64
        Image of each detection, in the ground truth's key space.
    category_ids : ndarray of shape (D,), dtype int64
        Category id of each detection.
    boxes : ndarray of shape (D, 4), dtype float64
        ``[x, y, width, height]``.
    scores : ndarray of shape (D,), dtype float64
        Confidence; higher ranks first.
    warnings : tuple of str
        Valid-but-suspicious input found while loading.
    keypoints : ndarray of shape (D, K, 3), dtype float64, or None
        Each result's keypoints, when loaded for a keypoints evaluation.
    areas : ndarray of shape (D,), dtype float64, or None
        The area each result is judged by (which area range it falls in) when it is not
        its box's width * height: the keypoints' extent, a mask's area. Such boxes were
        derived by the loader and may hold inf where a keypoint extent overflows.
    masks : RunLengths or CompressedMasks of D masks, or None
        Each result's mask, when loaded for a segm evaluation (compressed strings stay
        compressed until compared).

    Notes
    -----
    ``len(preds)`` is ``D``. ``image``, ``category``, ``bbox`` and ``score`` are
    read-only aliases of ``image_ids``, ``category_ids``, ``boxes`` and ``scores``, the
    names of the former ``DetectionArrays``, kept for users' scripts.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    warnings: tuple[str, ...] = ()
    keypoints: NDArray[np.float64] | None = None
    areas: NDArray[np.float64] | None = None
    masks: MaskBatch | None = None

    @classmethod
    def from_arrays(
        cls,
        image: ArrayLike,
        category: ArrayLike,
        bbox: ArrayLike,
        score: ArrayLike,
        *,
        fmt: BoxFormat = "xywh",
        name: str = "detections",
    ) -> Predictions:
        """Detections given as aligned arrays, validated once.

        Parameters
        ----------
        image : array_like of int, shape (n,)
            Image key of each detection, in the same key space as the ground truth.
        category : array_like of int, shape (n,)
            Category id of each detection.
        bbox : array_like of float, shape (n, 4)
            Boxes in ``fmt``; stored as ``xywh``.
        score : array_like of float, shape (n,)
            Confidence; higher ranks first. Must be finite.
        fmt : {"xywh", "xyxy", "cxcywh"}
            Format of ``bbox``.
        name : str
            Prefix of error locations, e.g. ``"detections.score[7]"``.

        Returns
        -------
        Predictions
            Every array read-only.

        Raises
        ------
        InputError
            On a wrong shape or dtype, a non-finite value or a negative width or height,
            located as ``f"{name}.{argument}[{index}]"``.
        """
        image_ = _id_array(image, f"{name}.image", None)
        n = image_.shape[0]
        return cls(
            image_ids=image_,
            category_ids=_id_array(category, f"{name}.category", n),
            boxes=_box_array(bbox, f"{name}.bbox", n, fmt),
            scores=_score_array(score, f"{name}.score", n),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def mask_column(self) -> MaskBatch:
        """``masks``, or an InputError when they were not loaded."""
        if self.masks is None:
            raise InputError("predictions", "no masks loaded (load with iou_type='segm')")
        return self.masks

    def keypoint_column(self) -> NDArray[np.float64]:
        """``keypoints``, or an InputError when they were not loaded."""
        if self.keypoints is None:
            raise InputError("predictions", "no keypoints loaded (load with iou_type='keypoints')")
        return self.keypoints

    @property
    def image(self) -> NDArray[np.int64]:
        """Alias of ``image_ids`` (the former ``DetectionArrays.image``)."""
        return self.image_ids

    @property
    def category(self) -> NDArray[np.int64]:
        """Alias of ``category_ids`` (the former ``DetectionArrays.category``)."""
        return self.category_ids

    @property
    def bbox(self) -> NDArray[np.float64]:
        """Alias of ``boxes`` (the former ``DetectionArrays.bbox``)."""
        return self.boxes

    @property
    def score(self) -> NDArray[np.float64]:
        """Alias of ``scores`` (the former ``DetectionArrays.score``)."""
        return self.scores

    def of_declared_categories(self, gt: GroundTruth) -> Predictions:
        """The detections of a category ``gt`` declares: ``self`` when that is all.

        COCO evaluation leaves the others out, as pycocotools does; VOC AP and the
        confusion matrix score every detection they are given, so the COCO pipeline
        passes them this.
        """
        known = np.isin(self.category_ids, gt.category_ids)  # (D,)
        if known.all():
            return self
        return replace(
            self,
            image_ids=self.image_ids[known],
            category_ids=self.category_ids[known],
            boxes=self.boxes[known],
            scores=self.scores[known],
            keypoints=None if self.keypoints is None else self.keypoints[known],
            areas=None if self.areas is None else self.areas[known],
            masks=None if self.masks is None else self.masks.take(np.flatnonzero(known)),
        )


# The former column types' names, kept for users' scripts: they build the types above.
GroundTruthArrays = GroundTruth.from_arrays
DetectionArrays = Predictions.from_arrays
