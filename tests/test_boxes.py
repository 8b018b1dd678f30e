"""``evaluator.geometry.boxes`` against hand values, plain-loop references and pycocotools.

torch and torchvision have no box ops we can lean on here (torchvision is not installed),
so the references are plain Python loops over floats, written from the definitions:
IoU = |A ∩ B| / |A ∪ B|, GIoU = IoU - (C - |A ∪ B|) / C with C the area of the smallest
box enclosing both (the user's notes), and COCO's crowd IoU = |A ∩ B| / |A| for a
detection A against a crowd region B. ``paired_iou`` is compared bit for bit with
``pycocotools.mask.iou``, the function pycocotools' COCOeval uses for bbox IoU.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from evaluator.geometry.boxes import (
    box_area,
    box_convert,
    box_iou,
    crowd_iou,
    generalized_box_iou,
    paired_iou,
)

FORMATS = ("xyxy", "xywh", "cxcywh")


def _random_xyxy(rng: np.random.Generator, n: int, grid: bool = False) -> np.ndarray:
    """(n, 4) xyxy boxes; on a coarse integer grid (ties, touching edges) or continuous."""
    if grid:
        x1, y1 = rng.integers(0, 6, size=(2, n))
        w, h = rng.integers(0, 4, size=(2, n))
    else:
        x1, y1 = rng.uniform(-20, 80, size=(2, n))
        w, h = rng.uniform(0, 40, size=(2, n))
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float64)


# --- plain-loop references ----------------------------------------------------------------


def _area(box: list[float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _inter(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _iou_loop(boxes1: np.ndarray, boxes2: np.ndarray, crowd: list[bool] | None = None):
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, a in enumerate(boxes1.tolist()):
        for j, b in enumerate(boxes2.tolist()):
            inter = _inter(a, b)
            union = _area(a) if crowd and crowd[j] else _area(a) + _area(b) - inter
            out[i, j] = _ratio(inter, union)
    return out


def _giou_loop(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, a in enumerate(boxes1.tolist()):
        for j, b in enumerate(boxes2.tolist()):
            inter = _inter(a, b)
            union = _area(a) + _area(b) - inter
            hull = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
            c = _area(hull)
            out[i, j] = _ratio(inter, union) - _ratio(c - union, c)
    return out


# --- box_convert and box_area --------------------------------------------------------------


def test_box_convert_hand_values() -> None:
    xyxy = np.array([[1.0, 2.0, 5.0, 10.0]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "xywh"), [[1, 2, 4, 8]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "cxcywh"), [[3, 6, 4, 8]])
    np.testing.assert_array_equal(box_convert([[3, 6, 4, 8]], "cxcywh", "xyxy"), xyxy)
    np.testing.assert_array_equal(box_convert([[1, 2, 4, 8]], "xywh", "xyxy"), xyxy)


@pytest.mark.parametrize(("a", "b"), list(itertools.permutations(FORMATS, 2)))
def test_box_convert_round_trips(a: str, b: str) -> None:
    rng = np.random.default_rng(0)
    boxes = box_convert(_random_xyxy(rng, 50), "xyxy", a)
    back = box_convert(box_convert(boxes, a, b), b, a)
    np.testing.assert_allclose(back, boxes, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_box_convert_same_format_is_a_copy(fmt: str) -> None:
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = box_convert(boxes, fmt, fmt)
    np.testing.assert_array_equal(out, boxes)
    out[0, 0] = 99.0
    assert boxes[0, 0] == 1.0


def test_box_convert_keeps_leading_axes() -> None:
    boxes = _random_xyxy(np.random.default_rng(1), 6).reshape(2, 3, 4)
    out = box_convert(boxes, "xyxy", "cxcywh")
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(
        out.reshape(6, 4), box_convert(boxes.reshape(6, 4), "xyxy", "cxcywh")
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_box_area_is_width_times_height_in_every_format(fmt: str) -> None:
    xyxy = _random_xyxy(np.random.default_rng(2), 20)
    expected = [_area(b) for b in xyxy.tolist()]
    np.testing.assert_allclose(box_area(box_convert(xyxy, "xyxy", fmt), fmt), expected, rtol=1e-12)


def test_box_area_hand_values() -> None:
    np.testing.assert_array_equal(box_area([[0, 0, 3, 4], [1, 1, 1, 5]]), [12.0, 0.0])
    np.testing.assert_array_equal(box_area([[7, 7, 3, 4]], fmt="xywh"), [12.0])
    # A box with a negative side has a negative area (documented, not clipped).
    np.testing.assert_array_equal(box_area([[0, 0, -2, 3]], fmt="xywh"), [-6.0])


# --- IoU and GIoU: hand values ----------------------------------------------------------------

# (box a, box b, IoU, GIoU), xyxy. Each GIoU is IoU - (C - U) / C worked out by hand.
HAND_CASES = [
    pytest.param([0, 0, 2, 2], [0, 0, 2, 2], 1.0, 1.0, id="identical"),
    # Disjoint: I = 0, U = 2, C = 3 (hull [0,0,3,1]).
    pytest.param([0, 0, 1, 1], [2, 0, 3, 1], 0.0, -1 / 3, id="disjoint"),
    # Touching edges: I = 0, U = 2, C = 2, so GIoU = 0.
    pytest.param([0, 0, 1, 1], [1, 0, 2, 1], 0.0, 0.0, id="touching"),
    # Containment: I = 4, U = 16 = C, GIoU == IoU.
    pytest.param([0, 0, 4, 4], [1, 1, 3, 3], 0.25, 0.25, id="contains"),
    # Partial overlap: I = 1, U = 7, C = 9.
    pytest.param([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7, 1 / 7 - 2 / 9, id="overlap"),
    # Far apart on a diagonal: I = 0, U = 2, C = 100.
    pytest.param([0, 0, 1, 1], [9, 9, 10, 10], 0.0, -98 / 100, id="far"),
]


@pytest.mark.parametrize(("a", "b", "iou", "giou"), HAND_CASES)
def test_iou_and_giou_hand_values(a: list, b: list, iou: float, giou: float) -> None:
    for x, y in ((a, b), (b, a)):  # both are symmetric
        assert box_iou([x], [y])[0, 0] == pytest.approx(iou, rel=1e-15, abs=0)
        assert generalized_box_iou([x], [y])[0, 0] == pytest.approx(giou, rel=1e-15, abs=0)


def test_empty_boxes_have_iou_zero_not_nan() -> None:
    point = [[1.0, 1.0, 1.0, 1.0]]
    assert box_iou(point, point)[0, 0] == 0.0
    assert generalized_box_iou(point, point)[0, 0] == 0.0
    assert crowd_iou(point, [[0, 0, 5, 5]])[0, 0] == 0.0


def test_crowd_iou_hand_values() -> None:
    det = [[0.0, 0.0, 2.0, 2.0]]  # area 4
    # Half the detection lies in the region; a plain IoU would be 2 / 22.
    assert crowd_iou(det, [[1, 0, 5, 5]])[0, 0] == 0.5
    assert box_iou(det, [[1, 0, 5, 5]])[0, 0] == pytest.approx(2 / 22, rel=1e-15)
    # A detection inside a huge crowd region has crowd IoU 1.
    assert crowd_iou(det, [[-100, -100, 100, 100]])[0, 0] == 1.0
    # Not symmetric: the denominator is the detection's area.
    assert crowd_iou([[-100, -100, 100, 100]], det)[0, 0] == pytest.approx(4 / 40000, rel=1e-15)


def test_box_iou_mixes_crowd_and_normal_columns() -> None:
    rng = np.random.default_rng(3)
    dets, gts = _random_xyxy(rng, 15), _random_xyxy(rng, 9)
    crowd = [bool(v) for v in rng.integers(0, 2, 9)]
    got = box_iou(dets, gts, iscrowd=crowd)
    np.testing.assert_allclose(got, _iou_loop(dets, gts, crowd), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got[:, crowd], crowd_iou(dets, gts[crowd]))


# --- IoU and GIoU: random boxes against the loops ------------------------------------------------


@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "integer-grid"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_iou_and_giou_match_plain_loops(fmt: str, grid: bool) -> None:
    rng = np.random.default_rng(4)
    a, b = _random_xyxy(rng, 40, grid), _random_xyxy(rng, 30, grid)
    a_fmt, b_fmt = box_convert(a, "xyxy", fmt), box_convert(b, "xyxy", fmt)
    iou = box_iou(a_fmt, b_fmt, fmt=fmt)
    giou = generalized_box_iou(a_fmt, b_fmt, fmt=fmt)
    np.testing.assert_allclose(iou, _iou_loop(a, b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(giou, _giou_loop(a, b), rtol=1e-9, atol=1e-12)


def test_giou_properties_on_random_boxes() -> None:
    rng = np.random.default_rng(5)
    a, b = _random_xyxy(rng, 60), _random_xyxy(rng, 50)
    iou, giou = box_iou(a, b), generalized_box_iou(a, b)
    assert (giou > -1).all() and (giou <= 1).all()
    assert (giou <= iou + 1e-15).all()
    assert (giou[iou == 0] <= 0).all()
    np.testing.assert_array_equal(box_iou(a, a).diagonal(), np.ones(60))
    np.testing.assert_array_equal(generalized_box_iou(b, a), giou.T)


# --- paired_iou: bit-identical to pycocotools ---------------------------------------------


def test_paired_iou_is_bit_identical_to_pycocotools_mask_iou() -> None:
    mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(6)
    dets = np.concatenate(
        [
            box_convert(_random_xyxy(rng, 60), "xyxy", "xywh"),
            box_convert(_random_xyxy(rng, 40, grid=True), "xyxy", "xywh"),
            [[3.0, 3.0, 0.0, 5.0], [3.0, 3.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]],  # zero size
        ]
    )
    gts = np.concatenate(
        [
            box_convert(_random_xyxy(rng, 30), "xyxy", "xywh"),
            box_convert(_random_xyxy(rng, 20, grid=True), "xyxy", "xywh"),
            [[1.0, 1.0, 0.0, 3.0], [2.0, 2.0, 3.0, 3.0]],
        ]
    )
    crowd = rng.random(len(gts)) < 0.3
    crowd[-1] = True
    expected = mask.iou(dets.tolist(), gts.tolist(), crowd.astype(np.uint8).tolist())
    d_idx, g_idx = np.meshgrid(np.arange(len(dets)), np.arange(len(gts)), indexing="ij")
    d_idx, g_idx = d_idx.ravel(), g_idx.ravel()
    got = paired_iou(dets[d_idx], gts[g_idx], crowd[g_idx]).reshape(len(dets), len(gts))
    assert (expected > 0).sum() > 100  # the comparison covers real overlaps
    np.testing.assert_array_equal(got, expected, strict=True)


def test_paired_iou_empty() -> None:
    empty = np.zeros((0, 4))
    out = paired_iou(empty, empty, np.zeros(0, dtype=bool))
    assert out.shape == (0,) and out.dtype == np.float64


# --- shapes, dtypes and errors -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_dtype_is_kept(dtype: type) -> None:
    boxes = _random_xyxy(np.random.default_rng(7), 5).astype(dtype)
    for out in (
        box_convert(boxes, "xyxy", "cxcywh"),
        box_area(boxes),
        box_iou(boxes, boxes),
        generalized_box_iou(boxes, boxes),
        crowd_iou(boxes, boxes),
    ):
        assert out.dtype == dtype


def test_integer_and_list_input_gives_float64() -> None:
    assert box_iou([[0, 0, 2, 2]], np.array([[1, 1, 3, 3]], dtype=np.int32)).dtype == np.float64
    assert box_convert([[0, 0, 2, 2]], "xyxy", "xywh").dtype == np.float64
    assert box_area(np.array([[0, 0, 2, 2]], dtype=np.int64)).dtype == np.float64


@pytest.mark.parametrize("func", [box_iou, generalized_box_iou])
def test_pairwise_output_shapes(func) -> None:
    boxes = _random_xyxy(np.random.default_rng(8), 4)
    assert func(boxes, boxes[:3]).shape == (4, 3)
    assert func(np.zeros((0, 4)), boxes).shape == (0, 4)
    assert func(boxes, []).shape == (4, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: box_iou(np.zeros((3, 5)), np.zeros((2, 4))),
            r"boxes1: expected an array of shape \(\.\.\., 4\), got \(3, 5\)",
            id="iou-boxes1-columns",
        ),
        pytest.param(
            lambda: box_iou(np.zeros((3, 4)), np.zeros((2, 3))),
            r"boxes2: expected an array of shape \(\.\.\., 4\), got \(2, 3\)",
            id="iou-boxes2-columns",
        ),
        pytest.param(
            lambda: generalized_box_iou(np.zeros((2, 3, 4)), np.zeros((2, 4))),
            r"boxes1: expected an array of shape \(n, 4\), got \(2, 3, 4\)",
            id="giou-3d",
        ),
        pytest.param(
            lambda: box_iou(np.zeros(4), np.zeros((2, 4))),
            r"boxes1: expected an array of shape \(n, 4\), got \(4,\)",
            id="iou-1d",
        ),
        pytest.param(
            lambda: crowd_iou(np.zeros((2, 4)), np.zeros((2, 2))),
            r"crowd_regions: expected an array of shape \(\.\.\., 4\), got \(2, 2\)",
            id="crowd-regions",
        ),
        pytest.param(
            lambda: box_iou(np.zeros((2, 4)), np.zeros((3, 4)), iscrowd=[True, False]),
            r"iscrowd: expected 3 flags, got 2",
            id="iscrowd-length",
        ),
        pytest.param(
            lambda: box_convert([[0, 0, 1, 1]], "xyxy", "yolo"),
            r"unknown box format 'yolo'",
            id="convert-format",
        ),
        pytest.param(
            lambda: box_area([[0, 0, 1, 1]], fmt="ltrb"),
            r"unknown box format 'ltrb'",
            id="area-format",
        ),
        pytest.param(
            lambda: box_convert([1, 2, 3], "xyxy", "xywh"),
            r"boxes: expected an array of shape \(\.\.\., 4\), got \(3,\)",
            id="convert-shape",
        ),
    ],
)
def test_errors_say_which_argument_and_shape(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
