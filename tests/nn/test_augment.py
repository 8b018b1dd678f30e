"""Box-aware augmentation: boxes follow the pixels, the crop rule, colour jitter, errors.

The geometric checks draw each box as a filled rectangle of pixels, transform the image,
and read the box back from the transformed pixels: an independent oracle for the box
transform (pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``).
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.nn.augment import (
    BoxAugment,
    box_visibility,
    color_jitter,
    crop,
    hflip,
    resize,
    sample_crop_window,
)


def draw(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """A (1, H, W) image, 1 on the pixels of an integer xyxy box, 0 elsewhere."""
    image = np.zeros((1, height, width))
    x1, y1, x2, y2 = (int(v) for v in box)
    image[0, y1:y2, x1:x2] = 1.0
    return image


def read_box(image: np.ndarray, threshold: float = 0.5) -> list[float]:
    """The xyxy box around the pixels above ``threshold`` of a (1, H, W) image."""
    ys, xs = np.nonzero(image[0] > threshold)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def random_int_boxes(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    x = np.sort(rng.choice(width + 1, (n, 2), replace=True), axis=1)
    y = np.sort(rng.choice(height + 1, (n, 2), replace=True), axis=1)
    x[:, 1] = np.maximum(x[:, 1], x[:, 0] + 1).clip(max=width)  # at least a pixel wide
    x[:, 0] = np.minimum(x[:, 0], x[:, 1] - 1)
    y[:, 1] = np.maximum(y[:, 1], y[:, 0] + 1).clip(max=height)
    y[:, 0] = np.minimum(y[:, 0], y[:, 1] - 1)
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1).astype(float)


# ----------------------------------------------------------------------- hflip
def test_hflip_moves_each_box_with_its_pixels(rng):
    height, width = 9, 13
    for box in random_int_boxes(rng, 20, height, width):
        image, boxes = hflip(draw(box, height, width), box[None])
        assert read_box(image) == boxes[0].tolist()


def test_hflip_twice_is_the_identity(rng):
    image = rng.standard_normal((3, 7, 10)).astype(np.float32)
    integer_boxes = random_int_boxes(rng, 5, 7, 10)
    again, back = hflip(*hflip(image, integer_boxes))
    np.testing.assert_array_equal(again, image)
    np.testing.assert_array_equal(back, integer_boxes)  # exact on whole pixels
    assert again.dtype == np.float32
    xs, ys = np.sort(rng.uniform(0, 10, (5, 2)), axis=1), np.sort(rng.uniform(0, 7, (5, 2)), axis=1)
    real_boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    np.testing.assert_allclose(hflip(*hflip(image, real_boxes))[1], real_boxes, rtol=0, atol=1e-12)


def test_hflip_leaves_its_inputs_alone(rng):
    image, boxes = rng.standard_normal((1, 4, 5)), np.array([[0.0, 1.0, 2.0, 3.0]])
    image_copy, boxes_copy = image.copy(), boxes.copy()
    hflip(image, boxes)
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(boxes, boxes_copy)


# ------------------------------------------------------------------- crop rule
def test_box_visibility_of_known_overlaps():
    window = (0, 0, 10, 10)
    boxes = np.array(
        [
            [2, 2, 4, 4],  # inside: 1
            [5, 0, 15, 10],  # half inside: 0.5
            [6, 6, 16, 11],  # 4 x 4 of 10 x 5 inside: 0.32
            [20, 20, 30, 30],  # outside: 0
            [3, 3, 3, 8],  # zero area, inside: 1
            [12, 3, 12, 8],  # zero area, outside: 0
        ],
        dtype=float,
    )
    np.testing.assert_allclose(box_visibility(boxes, window), [1, 0.5, 0.32, 0, 1, 0])


def test_crop_keeps_clips_and_drops_by_the_rule():
    image = np.arange(2 * 12 * 16, dtype=float).reshape(2, 12, 16)
    window = (4, 2, 12, 10)  # 8 x 8
    boxes = np.array(
        [
            [5, 3, 7, 6],  # inside: kept, shifted by (4, 2)
            [0, 2, 8, 10],  # exactly half inside: kept at 0.5, clipped
            [0, 2, 7, 10],  # 3/7 inside: dropped
            [13, 0, 16, 4],  # outside: dropped
        ],
        dtype=float,
    )
    labels = np.array([10, 11, 12, 13])
    out, kept, kept_labels = crop(image, boxes, labels, window, min_visibility=0.5)
    np.testing.assert_array_equal(out, image[:, 2:10, 4:12])
    np.testing.assert_array_equal(kept, [[1, 1, 3, 4], [0, 0, 4, 8]])
    np.testing.assert_array_equal(kept_labels, [10, 11])
    # A lower threshold keeps the 3/7 box too, clipped; a box with nothing inside never.
    _, low_boxes, low_labels = crop(image, boxes, labels, window, min_visibility=1e-9)
    assert low_labels.tolist() == [10, 11, 12]
    np.testing.assert_array_equal(low_boxes[2], [0, 0, 3, 8])


def test_crop_agrees_with_counting_pixels(rng):
    # Visibility = pixels of the box inside the window / pixels of the box; a kept box
    # is the bounding box of its pixels inside the crop.
    height, width = 12, 15
    for _ in range(40):
        box = random_int_boxes(rng, 1, height, width)[0]
        window = sample_crop_window(height, width, rng, scale=(0.2, 1.0))
        x1, y1, x2, y2 = window
        mask = draw(box, height, width)
        visible = mask[0, y1:y2, x1:x2].sum() / mask.sum()
        threshold = float(rng.choice([0.01, 0.25, 0.5, 0.75, 1.0]))
        out, kept, labels = crop(mask, box[None], [7], window, min_visibility=threshold)
        if visible >= threshold:
            assert labels.tolist() == [7]
            assert read_box(out) == kept[0].tolist()
        else:
            assert kept.shape == (0, 4) and len(labels) == 0


def test_sample_crop_window_respects_scale_ratio_and_bounds(rng):
    for _ in range(200):
        x1, y1, x2, y2 = sample_crop_window(40, 60, rng, scale=(0.3, 0.8), ratio=(0.5, 2.0))
        assert 0 <= x1 < x2 <= 60 and 0 <= y1 < y2 <= 40
        w, h = x2 - x1, y2 - y1
        # Rounding to whole pixels moves each side by at most half a pixel.
        assert 0.3 * 2400 - (w + h) / 2 - 0.25 <= w * h <= 0.8 * 2400 + (w + h) / 2 + 0.25
        assert 0.5 * (h - 0.5) - 0.5 <= w <= 2.0 * (h + 0.5) + 0.5


def test_sample_crop_window_fits_even_when_the_aspect_cannot():
    for seed in range(50):
        x1, y1, x2, y2 = sample_crop_window(10, 100, seed, scale=(1.0, 1.0), ratio=(0.1, 0.1))
        assert 0 <= x1 < x2 <= 100 and 0 <= y1 < y2 <= 10


# ---------------------------------------------------------------------- resize
@pytest.mark.parametrize(("size", "step"), [((24, 30), 1), ((6, 8), 2)])
def test_resize_moves_boxes_with_their_pixels(rng, size, step):
    # Up 2x: the bilinear 0.5 contour falls on the scaled edges. Down 2x: each output
    # pixel averages two inputs, exact for boxes on even pixels.
    height, width = 12, 15 if step == 1 else 16
    for _ in range(20):
        box = random_int_boxes(rng, 1, height // step, width // step)[0] * step
        image, boxes = resize(draw(box, height, width), box[None], size)
        assert image.shape == (1, *size)
        assert read_box(image) == boxes[0].tolist()


def test_resize_to_the_same_size_is_the_identity(rng):
    image, boxes = rng.standard_normal((2, 5, 7)), np.array([[1.5, 0.5, 4.0, 3.25]])
    out, out_boxes = resize(image, boxes, (5, 7))
    np.testing.assert_array_equal(out, image)
    np.testing.assert_array_equal(out_boxes, boxes)


# ---------------------------------------------------------------------- colour
def test_brightness_scales_every_pixel_by_one_factor_in_range(rng):
    image = rng.uniform(0.1, 1.0, (3, 5, 6))
    for seed in range(20):
        out = color_jitter(image, seed, brightness=0.3)
        ratio = out / image
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)
        assert 0.7 <= ratio.flat[0] <= 1.3


def test_contrast_keeps_the_mean_and_scales_the_spread(rng):
    image = rng.standard_normal((1, 8, 8))
    for seed in range(20):
        out = color_jitter(image, seed, contrast=0.5)
        assert out.mean() == pytest.approx(image.mean(), abs=1e-12)
        assert 0.5 - 1e-12 <= out.std() / image.std() <= 1.5 + 1e-12


def test_saturation_leaves_grey_pixels_alone_and_keeps_luma(rng):
    grey = np.repeat(rng.uniform(0, 1, (1, 4, 5)), 3, axis=0)
    np.testing.assert_allclose(color_jitter(grey, 0, saturation=0.8), grey, rtol=1e-12)
    colour = rng.uniform(0, 1, (3, 4, 5))
    luma = np.tensordot([0.299, 0.587, 0.114], colour, axes=1)
    out = color_jitter(colour, 1, saturation=0.8)
    np.testing.assert_allclose(np.tensordot([0.299, 0.587, 0.114], out, axes=1), luma, atol=1e-12)
    assert not np.allclose(out, colour)


def test_jitter_with_zero_strength_is_the_identity_and_clips_on_request(rng):
    image = rng.standard_normal((3, 4, 4)).astype(np.float32)
    out = color_jitter(image, 0)
    np.testing.assert_array_equal(out, image)
    assert out.dtype == np.float32
    clipped = color_jitter(image, 0, brightness=0.5, value_range=(0.0, 1.0))
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0


# -------------------------------------------------------------------- pipeline
def test_box_augment_keeps_shapes_and_boxes_inside_the_image(rng):
    augment = BoxAugment(flip_p=0.5, crop_p=1.0, scale=(0.3, 1.0), brightness=0.2, rng=0)
    image = rng.standard_normal((1, 32, 40)).astype(np.float32)
    boxes = random_int_boxes(rng, 6, 32, 40)
    labels = np.arange(6)
    for _ in range(30):
        out, out_boxes, out_labels = augment(image, boxes, labels)
        assert out.shape == image.shape and out.dtype == np.float32
        assert out_boxes.shape == (len(out_labels), 4)
        assert set(out_labels.tolist()) <= set(labels.tolist())
        assert (out_boxes[:, [0, 2]] >= 0).all() and (out_boxes[:, [0, 2]] <= 40).all()
        assert (out_boxes[:, [1, 3]] >= 0).all() and (out_boxes[:, [1, 3]] <= 32).all()


def test_box_augment_with_only_the_flip_is_hflip(rng):
    image, boxes = rng.standard_normal((1, 6, 9)), random_int_boxes(rng, 3, 6, 9)
    out, out_boxes, labels = BoxAugment(flip_p=1.0, crop_p=0.0, rng=0)(image, boxes, [1, 2, 3])
    flipped, flipped_boxes = hflip(image, boxes)
    np.testing.assert_array_equal(out, flipped)
    np.testing.assert_array_equal(out_boxes, flipped_boxes)
    assert labels.tolist() == [1, 2, 3]


def test_box_augment_is_reproducible_from_its_seed(rng):
    image, boxes = rng.standard_normal((1, 16, 16)), random_int_boxes(rng, 4, 16, 16)
    runs = [BoxAugment(crop_p=1.0, contrast=0.3, rng=5)(image, boxes, np.arange(4)) for _ in "ab"]
    for first, second in zip(*runs, strict=True):
        np.testing.assert_array_equal(first, second)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hflip(np.zeros((4, 4)), np.zeros((0, 4))), r"hflip: image .*\(C, H, W\)"),
        (lambda: hflip(np.zeros((1, 4, 4), int), np.zeros((0, 4))), "float32 or float64"),
        (lambda: hflip(np.zeros((1, 4, 4)), np.zeros(4)), r"hflip: boxes must have shape"),
        (lambda: hflip(np.zeros((1, 4, 4)), [[3, 0, 1, 2]]), r"boxes\[0\].*x2 < x1"),
        (lambda: hflip(np.zeros((1, 4, 4)), [[0, 0, np.nan, 2]]), "finite"),
        (lambda: crop(np.zeros((1, 4, 4)), [[0, 0, 1, 1]], [1, 2], (0, 0, 2, 2)), "labels"),
        (lambda: crop(np.zeros((1, 4, 4)), np.zeros((0, 4)), [], (0, 0, 5, 2)), r"<= 4"),
        (lambda: crop(np.zeros((1, 4, 4)), np.zeros((0, 4)), [], (2, 0, 2, 2)), "x1 < x2"),
        (lambda: crop(np.zeros((1, 4, 4)), np.zeros((0, 4)), [], (0, 0, 2.5, 2)), "4 ints"),
        (
            lambda: crop(np.zeros((1, 4, 4)), np.zeros((0, 4)), [], (0, 0, 2, 2), 0.0),
            r"min_visibility must be in \(0, 1\]",
        ),
        (lambda: resize(np.zeros((1, 4, 4)), np.zeros((0, 4)), (0, 3)), "positive"),
        (lambda: color_jitter(np.zeros((1, 4, 4)), saturation=0.5), "3 channels"),
        (lambda: color_jitter(np.zeros((1, 4, 4)), contrast=-1), "contrast must be >= 0"),
        (lambda: sample_crop_window(4, 4, scale=(0.0, 1.0)), "scale"),
        (lambda: sample_crop_window(4, 4, ratio=(2.0, 1.0)), "ratio"),
        (lambda: BoxAugment(flip_p=2.0), "flip_p"),
    ],
)
def test_errors_say_what_and_where(call, match):
    with pytest.raises(ValueError, match=match):
        call()
