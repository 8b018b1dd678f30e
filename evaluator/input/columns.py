"""Ground truth and detections as aligned, validated, read-only columns.

The column types that VOC AP, the confusion matrix and the VOC text loader share:
validated once at the boundary (located :class:`~evaluator.errors.InputError`), boxes
stored as ``xywh`` float64, every array read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluator.errors import InputError
from evaluator.geometry.boxes import BoxFormat, box_convert


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


@dataclass(frozen=True, eq=False, init=False)
class GroundTruthArrays:
    """Ground-truth boxes as aligned columns, validated once.

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
    name : str
        Prefix of error locations, e.g. ``"ground_truth.bbox[3]"``.

    Raises
    ------
    InputError
        On a wrong shape or dtype, a non-finite coordinate or a negative width or height.
    """

    image: NDArray[np.int64]
    category: NDArray[np.int64]
    bbox: NDArray[np.float64]
    difficult: NDArray[np.bool_]
    iscrowd: NDArray[np.bool_]

    def __init__(
        self,
        image: ArrayLike,
        category: ArrayLike,
        bbox: ArrayLike,
        *,
        difficult: ArrayLike | None = None,
        iscrowd: ArrayLike | None = None,
        fmt: BoxFormat = "xywh",
        name: str = "ground_truth",
    ) -> None:
        image_ = _id_array(image, f"{name}.image", None)
        n = image_.shape[0]
        object.__setattr__(self, "image", image_)
        object.__setattr__(self, "category", _id_array(category, f"{name}.category", n))
        object.__setattr__(self, "bbox", _box_array(bbox, f"{name}.bbox", n, fmt))
        object.__setattr__(self, "difficult", _flag_array(difficult, f"{name}.difficult", n))
        object.__setattr__(self, "iscrowd", _flag_array(iscrowd, f"{name}.iscrowd", n))

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @classmethod
    def from_checked(
        cls,
        image: NDArray[np.int64],
        category: NDArray[np.int64],
        bbox: NDArray[np.float64],
        difficult: NDArray[np.bool_],
        iscrowd: NDArray[np.bool_],
    ) -> GroundTruthArrays:
        """Columns the loader has already checked (xywh boxes), taken as they are."""
        return _unchecked(
            cls, image=image, category=category, bbox=bbox, difficult=difficult, iscrowd=iscrowd
        )


@dataclass(frozen=True, eq=False, init=False)
class DetectionArrays:
    """Detections as aligned columns, validated once.

    Parameters
    ----------
    image : array_like of int, shape (n,)
        Image key of each detection, in the same key space as the ground truth.
    category : array_like of int, shape (n,)
    bbox : array_like of float, shape (n, 4)
        Boxes in ``fmt``; stored as ``xywh``.
    score : array_like of float, shape (n,)
        Confidence; higher ranks first. Must be finite.
    fmt : {"xywh", "xyxy", "cxcywh"}
    name : str
        Prefix of error locations, e.g. ``"detections.score[7]"``.

    Raises
    ------
    InputError
        On a wrong shape or dtype, a non-finite value or a negative width or height.
    """

    image: NDArray[np.int64]
    category: NDArray[np.int64]
    bbox: NDArray[np.float64]
    score: NDArray[np.float64]

    def __init__(
        self,
        image: ArrayLike,
        category: ArrayLike,
        bbox: ArrayLike,
        score: ArrayLike,
        *,
        fmt: BoxFormat = "xywh",
        name: str = "detections",
    ) -> None:
        image_ = _id_array(image, f"{name}.image", None)
        n = image_.shape[0]
        object.__setattr__(self, "image", image_)
        object.__setattr__(self, "category", _id_array(category, f"{name}.category", n))
        object.__setattr__(self, "bbox", _box_array(bbox, f"{name}.bbox", n, fmt))
        score_ = _float_array(score, f"{name}.score")
        if score_.size == 0:
            score_ = score_.reshape(0)
        if score_.shape != (n,):
            raise InputError(f"{name}.score", f"expected {n} numbers, got shape {score_.shape}")
        finite = np.isfinite(score_)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise InputError(f"{name}.score[{bad}]", f"expected a finite number, got {score_[bad]}")
        object.__setattr__(self, "score", readonly(score_))

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @classmethod
    def from_checked(
        cls,
        image: NDArray[np.int64],
        category: NDArray[np.int64],
        bbox: NDArray[np.float64],
        score: NDArray[np.float64],
    ) -> DetectionArrays:
        """Columns the loader has already checked (xywh boxes), taken as they are."""
        return _unchecked(cls, image=image, category=category, bbox=bbox, score=score)


Columns = TypeVar("Columns", GroundTruthArrays, DetectionArrays)


def _unchecked(cls: type[Columns], **columns: NDArray[Any]) -> Columns:
    """An instance of ``cls`` holding ``columns`` (made read-only) without checking them."""
    made = cls.__new__(cls)
    for field, value in columns.items():
        object.__setattr__(made, field, readonly(value))
    return made
