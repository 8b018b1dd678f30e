"""Box formats, areas, IoU and GIoU.

Boxes are float arrays whose last axis holds 4 coordinates in one of three formats:

* ``"xywh"``: left, top, width, height (COCO);
* ``"xyxy"``: left, top, right, bottom (PASCAL VOC, torchvision);
* ``"cxcywh"``: centre x, centre y, width, height (YOLO, DETR).

Pairwise functions return an ``(n, m)`` matrix; :func:`paired_iou` works on ``n``
aligned pairs and is the kernel COCO matching uses.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

BoxFormat = Literal["xywh", "xyxy", "cxcywh"]
_FORMATS = ("xywh", "xyxy", "cxcywh")


def _as_boxes(boxes: ArrayLike, name: str = "boxes") -> NDArray[np.floating]:
    array = np.asarray(boxes)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim == 1 and array.shape[0] == 0:
        array = array.reshape(0, 4)
    if array.shape[-1:] != (4,):
        raise ValueError(f"{name}: expected an array of shape (..., 4), got {array.shape}")
    return array


def box_convert(boxes: ArrayLike, in_fmt: BoxFormat, out_fmt: BoxFormat) -> NDArray[np.floating]:
    """Convert boxes between the ``xywh``, ``xyxy`` and ``cxcywh`` formats.

    Parameters
    ----------
    boxes : array_like of shape (..., 4)
    in_fmt, out_fmt : {"xywh", "xyxy", "cxcywh"}

    Returns
    -------
    ndarray of shape (..., 4), floating dtype of the input (float64 for integer input)
    """
    return _convert(_as_boxes(boxes), in_fmt, out_fmt)


def _convert(
    b: NDArray[np.floating], in_fmt: BoxFormat, out_fmt: BoxFormat
) -> NDArray[np.floating]:
    """:func:`box_convert` on an array already validated by :func:`_as_boxes`."""
    for fmt in (in_fmt, out_fmt):
        if fmt not in _FORMATS:
            raise ValueError(f"unknown box format {fmt!r}; expected one of {_FORMATS}")
    if in_fmt == out_fmt:
        return b.copy()
    a0, a1, a2, a3 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    # Normalise to xyxy first, then leave it in the requested format.
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a0, a1, a0 + a2, a1 + a3
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a0 - a2 / 2, a1 - a3 / 2, a0 + a2 / 2, a1 + a3 / 2
    else:
        x1, y1, x2, y2 = a0, a1, a2, a3
    if out_fmt == "xyxy":
        return np.stack([x1, y1, x2, y2], axis=-1)
    if out_fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def box_area(boxes: ArrayLike, fmt: BoxFormat = "xyxy") -> NDArray[np.floating]:
    """Area of each box.

    Parameters
    ----------
    boxes : array_like of shape (..., 4)
    fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    ndarray of shape (...,), floating dtype of the input (float64 for integer input)
        ``width * height``; a box with a negative side has a negative area.
    """
    b = _convert(_as_boxes(boxes), fmt, "xywh") if fmt != "xywh" else _as_boxes(boxes)
    return b[..., 2] * b[..., 3]


def _pairwise_xyxy(boxes: ArrayLike, fmt: BoxFormat, name: str) -> NDArray[np.floating]:
    """One set of a pairwise function: validated shape (n, 4), converted to xyxy."""
    array = _as_boxes(boxes, name)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected an array of shape (n, 4), got {array.shape}")
    return _convert(array, fmt, "xyxy")


def _intersection_union(
    boxes1: NDArray[np.floating], boxes2: NDArray[np.floating]
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Intersection, union and enclosing-box area of two xyxy sets, pairwise (n, m)."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # (n,)
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # (m,)
    lt = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (n, m, 2)
    rb = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (n, m, 2)
    wh = np.clip(rb - lt, 0, None)  # (n, m, 2)
    inter = wh[..., 0] * wh[..., 1]  # (n, m)
    union = area1[:, None] + area2[None, :] - inter  # (n, m)
    lt_c = np.minimum(boxes1[:, None, :2], boxes2[None, :, :2])  # (n, m, 2)
    rb_c = np.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (n, m, 2)
    wh_c = rb_c - lt_c
    enclosing = wh_c[..., 0] * wh_c[..., 1]  # (n, m)
    return inter, union, enclosing


def _safe_divide(num: NDArray[np.floating], den: NDArray[np.floating]) -> NDArray[np.floating]:
    # Two empty boxes have union 0; their IoU is defined as 0, not NaN.
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.result_type(num, den))
    np.divide(num, den, out=out, where=den > 0)
    return out


def box_iou(
    boxes1: ArrayLike,
    boxes2: ArrayLike,
    fmt: BoxFormat = "xyxy",
    iscrowd: ArrayLike | None = None,
) -> NDArray[np.floating]:
    """Pairwise intersection over union.

    Parameters
    ----------
    boxes1 : array_like of shape (n, 4)
    boxes2 : array_like of shape (m, 4)
    fmt : {"xyxy", "xywh", "cxcywh"}
        Format of both sets.
    iscrowd : array_like of bool, shape (m,), optional
        COCO crowd flags of ``boxes2``. For a crowd box the union is replaced by the
        area of ``boxes1[i]``, i.e. the fraction of the detection inside the crowd region.

    Returns
    -------
    iou : ndarray of shape (n, m), dtype float64 (or the input's floating dtype)
        ``iou[i, j]`` is the IoU of ``boxes1[i]`` and ``boxes2[j]``; 0 where the union is 0.
    """
    b1 = _pairwise_xyxy(boxes1, fmt, "boxes1")
    b2 = _pairwise_xyxy(boxes2, fmt, "boxes2")
    inter, union, _ = _intersection_union(b1, b2)
    if iscrowd is not None:
        crowd = np.asarray(iscrowd, dtype=bool).reshape(-1)
        if crowd.shape[0] != b2.shape[0]:
            raise ValueError(f"iscrowd: expected {b2.shape[0]} flags, got {crowd.shape[0]}")
        area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])  # (n,)
        union = np.where(crowd[None, :], area1[:, None], union)
    return _safe_divide(inter, union)


def crowd_iou(
    detections: ArrayLike, crowd_regions: ArrayLike, fmt: BoxFormat = "xyxy"
) -> NDArray[np.floating]:
    """COCO's IoU against crowd regions: intersection over the *detection's* area.

    Parameters
    ----------
    detections : array_like of shape (n, 4)
    crowd_regions : array_like of shape (m, 4)
    fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    iou : ndarray of shape (n, m)
        ``area(detections[i] ∩ crowd_regions[j]) / area(detections[i])``; 0 for a
        detection of area 0.
    """
    dets = _pairwise_xyxy(detections, fmt, "detections")
    regions = _pairwise_xyxy(crowd_regions, fmt, "crowd_regions")
    return box_iou(dets, regions, "xyxy", iscrowd=np.ones(regions.shape[0], dtype=bool))


def generalized_box_iou(
    boxes1: ArrayLike, boxes2: ArrayLike, fmt: BoxFormat = "xyxy"
) -> NDArray[np.floating]:
    """Pairwise generalized IoU (Rezatofighi et al., 2019).

    Parameters
    ----------
    boxes1 : array_like of shape (n, 4)
    boxes2 : array_like of shape (m, 4)
    fmt : {"xyxy", "xywh", "cxcywh"}
        Format of both sets.

    Returns
    -------
    giou : ndarray of shape (n, m), dtype float64 (or the input's floating dtype)

    Notes
    -----
    ``GIoU = IoU - (C - A∪B) / C`` where ``C`` is the area of the smallest box enclosing
    both. It lies in ``(-1, 1]``; unlike IoU it still ranks boxes that do not overlap.
    When one box contains the other, ``C = A∪B`` and GIoU equals IoU. Each ratio is 0
    where its denominator is 0 (two boxes of area 0 on one line or point).
    """
    b1 = _pairwise_xyxy(boxes1, fmt, "boxes1")
    b2 = _pairwise_xyxy(boxes2, fmt, "boxes2")
    inter, union, enclosing = _intersection_union(b1, b2)
    iou = _safe_divide(inter, union)
    return iou - _safe_divide(enclosing - union, enclosing)


def paired_iou(
    dt: NDArray[np.float64],
    gt: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """IoU of aligned (detection, ground truth) pairs, bit-identical to pycocotools.

    Parameters
    ----------
    dt, gt : ndarray of shape (p, 4), dtype float64
        COCO ``xywh`` boxes; ``dt[i]`` is paired with ``gt[i]``.
    gt_crowd : ndarray of shape (p,), dtype bool
        Crowd flag of each ground truth.

    Returns
    -------
    iou : ndarray of shape (p,), dtype float64

    Notes
    -----
    The operations and their order follow ``bbIou`` in cocoapi's ``maskApi.c`` so that
    every IoU is the same double: ``w = min(dx+dw, gx+gw) - max(dx, gx)`` (likewise ``h``),
    0 when ``w <= 0`` or ``h <= 0``; ``i = w*h``; ``u = da`` for a crowd ground truth
    else ``(da + ga) - i``, with ``da = dw*dh`` and ``ga = gw*gh``; IoU ``= i / u``.
    """
    w = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
    h = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
    overlap = (w > 0) & (h > 0)
    inter = w * h
    det_area = dt[:, 2] * dt[:, 3]
    union = np.where(gt_crowd, det_area, (det_area + gt[:, 2] * gt[:, 3]) - inter)
    iou = np.zeros(dt.shape[0], dtype=np.float64)
    np.divide(inter, union, out=iou, where=overlap)
    return iou
