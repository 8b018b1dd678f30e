"""Box-aware data augmentation for detection: flip, crop and scale, colour jitter.

The notes' first answer to overfitting is more data; augmentation makes new training
images from old ones. For detection, every geometric change of the image must move the
boxes with it. Conventions:

* an image is an array of shape ``(C, H, W)`` (one NCHW sample), float32 or float64;
* boxes are ``(n, 4)`` arrays of ``x1, y1, x2, y2`` in pixels, where pixel ``(i, j)``
  covers ``[j, j + 1) x [i, i + 1)``, so a box around pixels ``j0..j1`` is
  ``x1 = j0, x2 = j1 + 1`` and the image spans ``[0, W] x [0, H]``;
* ``labels`` is any array with one entry per box (class ids, annotation ids, ...),
  filtered along with the boxes when a crop drops some.

The crop rule (:func:`crop`): a box is **kept if at least ``min_visibility`` of its
area lies inside the crop window** (0.5 by default; any value in (0, 1], so a box with
nothing inside is always dropped), and a kept box is **clipped to the window**; the
others are dropped. A box of zero area counts as fully visible if it lies inside the
window. Functions return new arrays and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .init import RNGLike, make_rng
from .layers import Upsample
from .module import Array

Window = tuple[int, int, int, int]

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 weights of R, G, B


# ------------------------------------------------------------------- validation
def _check_image(image: Any, where: str) -> Array:
    array = np.asarray(image)
    if array.ndim != 3 or array.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{where}: image must be a float32 or float64 array of shape (C, H, W), "
            f"got {array.dtype} {array.shape}"
        )
    return array


def _check_boxes(boxes: ArrayLike, where: str) -> NDArray[np.float64]:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"{where}: boxes must have shape (n, 4) (x1, y1, x2, y2), got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: boxes must be finite")
    bad = np.nonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))[0]
    if bad.size:
        raise ValueError(
            f"{where}: boxes[{bad[0]}] = {array[bad[0]].tolist()} has x2 < x1 or y2 < y1"
        )
    return array


def _check_labels(labels: ArrayLike, n_boxes: int, where: str) -> NDArray[Any]:
    array = np.asarray(labels)
    if array.ndim == 0 or array.shape[0] != n_boxes:
        raise ValueError(
            f"{where}: labels must have one entry per box ({n_boxes}), got shape {array.shape}"
        )
    return array


# ------------------------------------------------------------------- geometric
def hflip(image: Array, boxes: ArrayLike) -> tuple[Array, NDArray[np.float64]]:
    """Mirror the image left-right and the boxes with it.

    Parameters
    ----------
    image : ndarray of shape (C, H, W), float32 or float64
    boxes : array_like of shape (n, 4), xyxy pixels

    Returns
    -------
    image : ndarray of shape (C, H, W), same dtype
    boxes : ndarray of shape (n, 4), dtype float64
        ``x1' = W - x2``, ``x2' = W - x1``; ``y`` unchanged.
    """
    image = _check_image(image, "hflip")
    boxes = _check_boxes(boxes, "hflip")
    width = image.shape[2]
    flipped = boxes.copy()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return image[:, :, ::-1].copy(), flipped


def box_visibility(boxes: ArrayLike, window: Window) -> NDArray[np.float64]:
    """Fraction of each box's area inside ``window``.

    Parameters
    ----------
    boxes : array_like of shape (n, 4), xyxy pixels
    window : (x1, y1, x2, y2)

    Returns
    -------
    ndarray of shape (n,), dtype float64, in [0, 1]
        ``area(box & window) / area(box)``; for a box of zero area, 1 if it lies inside
        the window and 0 otherwise.
    """
    b = _check_boxes(boxes, "box_visibility")
    wx1, wy1, wx2, wy2 = window
    inter_w = np.clip(np.minimum(b[:, 2], wx2) - np.maximum(b[:, 0], wx1), 0, None)  # (n,)
    inter_h = np.clip(np.minimum(b[:, 3], wy2) - np.maximum(b[:, 1], wy1), 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inside = (b[:, 0] >= wx1) & (b[:, 1] >= wy1) & (b[:, 2] <= wx2) & (b[:, 3] <= wy2)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = inter_w * inter_h / area
    return np.where(area > 0, fraction, inside.astype(np.float64))


def crop(
    image: Array,
    boxes: ArrayLike,
    labels: ArrayLike,
    window: Window,
    min_visibility: float = 0.5,
) -> tuple[Array, NDArray[np.float64], NDArray[Any]]:
    """Cut out ``window`` and keep, clip and shift the boxes by the crop rule.

    Parameters
    ----------
    image : ndarray of shape (C, H, W), float32 or float64
    boxes : array_like of shape (n, 4), xyxy pixels
    labels : array_like of shape (n, ...)
    window : (x1, y1, x2, y2) ints
        ``0 <= x1 < x2 <= W`` and ``0 <= y1 < y2 <= H``.
    min_visibility : float in (0, 1]
        Keep a box if ``box_visibility(box, window) >= min_visibility``.

    Returns
    -------
    image : ndarray of shape (C, y2 - y1, x2 - x1), same dtype
    boxes : ndarray of shape (m, 4), dtype float64
        The kept boxes, clipped to the window, in the crop's coordinates.
    labels : ndarray of shape (m, ...)
        The kept boxes' labels, in the same order.
    """
    image = _check_image(image, "crop")
    boxes = _check_boxes(boxes, "crop")
    labels = _check_labels(labels, len(boxes), "crop")
    x1, y1, x2, y2 = _check_window(window, image.shape[1:], "crop")
    if not 0.0 < min_visibility <= 1.0:
        raise ValueError(f"crop: min_visibility must be in (0, 1], got {min_visibility}")
    keep = box_visibility(boxes, (x1, y1, x2, y2)) >= min_visibility  # (n,)
    kept = boxes[keep]
    kept[:, 0::2] = np.clip(kept[:, 0::2], x1, x2) - x1
    kept[:, 1::2] = np.clip(kept[:, 1::2], y1, y2) - y1
    return image[:, y1:y2, x1:x2].copy(), kept, labels[keep]


def resize(
    image: Array, boxes: ArrayLike, size: tuple[int, int]
) -> tuple[Array, NDArray[np.float64]]:
    """Resample the image to ``size = (out_h, out_w)`` (bilinear) and scale the boxes.

    Returns
    -------
    image : ndarray of shape (C, out_h, out_w), same dtype
    boxes : ndarray of shape (n, 4), dtype float64
        ``x * out_w / W`` and ``y * out_h / H``.

    Notes
    -----
    Bilinear with ``align_corners=False`` maps pixel centres onto pixel centres,
    ``(d + 0.5) = (s + 0.5) * out / in``, the same linear map as the boxes', so a box
    stays on its object. Downscaling does not low-pass first (like ``torch``'s default).
    """
    image = _check_image(image, "resize")
    boxes = _check_boxes(boxes, "resize")
    out_h, out_w = (int(v) for v in size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"resize: size must be positive, got {size}")
    _, height, width = image.shape
    scaled = boxes * np.array([out_w / width, out_h / height, out_w / width, out_h / height])
    if (out_h, out_w) == (height, width):
        return image.copy(), scaled
    resampled = Upsample(size=(out_h, out_w), mode="bilinear").forward(image[None])[0]
    return resampled, scaled


def sample_crop_window(
    height: int,
    width: int,
    rng: RNGLike = None,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Window:
    """A random window covering ``scale`` of the image area with aspect ``w/h`` in ``ratio``.

    The area fraction is uniform in ``scale``, the aspect log-uniform in ``ratio``;
    sides are rounded to whole pixels and capped at the image's, so the window always
    fits: ``0 <= x1 < x2 <= width``, ``0 <= y1 < y2 <= height``.
    """
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"sample_crop_window: need 0 < scale[0] <= scale[1] <= 1, got {scale}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"sample_crop_window: need 0 < ratio[0] <= ratio[1], got {ratio}")
    generator = make_rng(rng)
    area = generator.uniform(*scale) * height * width
    aspect = np.exp(generator.uniform(np.log(ratio[0]), np.log(ratio[1])))
    w = int(np.clip(round(np.sqrt(area * aspect)), 1, width))
    h = int(np.clip(round(np.sqrt(area / aspect)), 1, height))
    x1 = int(generator.integers(0, width - w + 1))
    y1 = int(generator.integers(0, height - h + 1))
    return x1, y1, x1 + w, y1 + h


def _check_window(window: Sequence[int], shape: tuple[int, ...], where: str) -> Window:
    height, width = shape
    if len(window) != 4 or not all(isinstance(v, (int, np.integer)) for v in window):
        raise ValueError(f"{where}: window must be 4 ints (x1, y1, x2, y2), got {window!r}")
    x1, y1, x2, y2 = (int(v) for v in window)
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ValueError(
            f"{where}: window {window!r} must satisfy 0 <= x1 < x2 <= {width} and "
            f"0 <= y1 < y2 <= {height} (the image's width and height)"
        )
    return x1, y1, x2, y2


# ---------------------------------------------------------------------- colour
def color_jitter(
    image: Array,
    rng: RNGLike = None,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    value_range: tuple[float, float] | None = None,
) -> Array:
    """Random brightness, contrast and saturation changes; boxes are unaffected.

    Each strength ``s`` draws a factor uniformly from ``[max(0, 1 - s), 1 + s]`` and
    the changes apply in this order:

    * brightness: ``x * b``;
    * contrast: ``m + c (x - m)``, ``m`` the mean grey level of the image;
    * saturation (3-channel RGB images only): ``g + a (x - g)``, ``g`` each pixel's grey
      level ``0.299 R + 0.587 G + 0.114 B``.

    Parameters
    ----------
    image : ndarray of shape (C, H, W), float32 or float64
    rng : int, Generator or None
    brightness, contrast, saturation : float >= 0
    value_range : (low, high), optional
        Clip the result to it (e.g. ``(0, 1)``); by default intensities are not clipped.

    Returns
    -------
    ndarray of shape (C, H, W), same dtype
    """
    image = _check_image(image, "color_jitter")
    strengths = {"brightness": brightness, "contrast": contrast, "saturation": saturation}
    for name, value in strengths.items():
        if value < 0:
            raise ValueError(f"color_jitter: {name} must be >= 0, got {value}")
    if saturation and image.shape[0] != 3:
        raise ValueError(
            f"color_jitter: saturation needs an RGB image (3 channels), got {image.shape[0]}"
        )
    generator = make_rng(rng)

    def factor(strength: float) -> float:
        return float(generator.uniform(max(0.0, 1.0 - strength), 1.0 + strength))

    out = image.astype(np.float64)
    if brightness:
        out *= factor(brightness)
    if contrast:
        grey = _grey(out)  # (1, H, W)
        mean = grey.mean()
        out = mean + factor(contrast) * (out - mean)
    if saturation:
        grey = _grey(out)
        out = grey + factor(saturation) * (out - grey)
    if value_range is not None:
        out = np.clip(out, value_range[0], value_range[1])
    return out.astype(image.dtype)


def _grey(image: NDArray[np.float64]) -> NDArray[np.float64]:
    """Grey level (1, H, W): the channel itself for one channel, luma for RGB, else the mean."""
    if image.shape[0] == 3:
        return np.tensordot(_LUMA, image, axes=1)[None]
    return image.mean(axis=0, keepdims=True)


# -------------------------------------------------------------------- pipeline
class BoxAugment:
    """A random flip, crop-and-scale and colour jitter for one (image, boxes, labels).

    Parameters
    ----------
    flip_p : float
        Probability of :func:`hflip`.
    crop_p : float
        Probability of a random crop (:func:`sample_crop_window` with ``scale`` and
        ``ratio``, then :func:`crop` with ``min_visibility``) resized back to the
        input size (:func:`resize`): a zoom into part of the image.
    scale, ratio : (float, float)
        Crop area fraction and aspect range.
    min_visibility : float
        The crop rule: keep a box if this fraction of its area stays in the crop.
    brightness, contrast, saturation : float
        :func:`color_jitter` strengths (0 disables).
    value_range : (low, high), optional
        Clip the jittered intensities to it.
    rng : int, Generator or None
        Seed of every random choice.

    Examples
    --------
    >>> augment = BoxAugment(flip_p=0.5, crop_p=0.5, brightness=0.2, rng=0)
    >>> image, boxes, labels = augment(image, boxes, labels)  # doctest: +SKIP
    """

    def __init__(
        self,
        flip_p: float = 0.5,
        crop_p: float = 0.5,
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        min_visibility: float = 0.5,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        value_range: tuple[float, float] | None = None,
        rng: RNGLike = None,
    ) -> None:
        for name, p in (("flip_p", flip_p), ("crop_p", crop_p)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"BoxAugment: {name} must be in [0, 1], got {p}")
        self.flip_p, self.crop_p = flip_p, crop_p
        self.scale, self.ratio, self.min_visibility = scale, ratio, min_visibility
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.value_range = value_range
        self.rng = make_rng(rng)

    def __call__(
        self, image: Array, boxes: ArrayLike, labels: ArrayLike
    ) -> tuple[Array, NDArray[np.float64], NDArray[Any]]:
        """Return the augmented image (same shape and dtype), boxes (m, 4) and labels (m,)."""
        image = _check_image(image, "BoxAugment")
        boxes = _check_boxes(boxes, "BoxAugment")
        labels = _check_labels(labels, len(boxes), "BoxAugment")
        if self.rng.random() < self.flip_p:
            image, boxes = hflip(image, boxes)
        if self.rng.random() < self.crop_p:
            _, height, width = image.shape
            window = sample_crop_window(height, width, self.rng, self.scale, self.ratio)
            image, boxes, labels = crop(image, boxes, labels, window, self.min_visibility)
            image, boxes = resize(image, boxes, (height, width))
        if self.brightness or self.contrast or self.saturation:
            image = color_jitter(
                image,
                self.rng,
                self.brightness,
                self.contrast,
                self.saturation,
                self.value_range,
            )
        return image, boxes, labels
