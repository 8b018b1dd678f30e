"""Losses: ``loss = L.forward(pred, target)`` (a float), then ``dpred = L.backward()``.

``reduction="mean"`` (the default) averages over elements, ``"sum"`` adds them up.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from evaluator.geometry.boxes import BoxFormat, box_convert

from .functional import log_softmax, sigmoid, softmax
from .module import Array

Reduction = Literal["mean", "sum"]


class Loss:
    """Base class of the losses: validation, reduction and forward-before-backward."""

    def __init__(self, reduction: Reduction) -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum'")
        self.reduction = reduction
        self._grad: Array | None = None

    def label(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, pred: Array, target: ArrayLike) -> float:
        return self.forward(pred, target)

    def forward(self, pred: Array, target: ArrayLike) -> float:
        raise NotImplementedError

    def backward(self) -> Array:
        """Gradient of the last loss value with respect to ``pred``."""
        if self._grad is None:
            raise RuntimeError(f"{self.label()}: backward() called before forward()")
        return self._grad

    def _check_pred(self, pred: Any, ndim_min: int = 1) -> Array:
        array = pred if isinstance(pred, np.ndarray) else np.asarray(pred)
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{self.label()}: expected pred of dtype float32 or float64, got {array.dtype}"
            )
        if array.ndim < ndim_min:
            raise ValueError(
                f"{self.label()}: expected pred with at least {ndim_min} dimensions, "
                f"got {array.shape}"
            )
        return array

    def _check_same_shape(self, pred: Array, target: ArrayLike) -> Array:
        t = np.asarray(target)
        if t.shape != pred.shape:
            raise ValueError(
                f"{self.label()}: expected target of shape {pred.shape} (pred's), got {t.shape}"
            )
        if not (np.issubdtype(t.dtype, np.number) or t.dtype == np.bool_):
            raise TypeError(f"{self.label()}: expected a numeric target, got {t.dtype}")
        return t.astype(pred.dtype, copy=False)

    def _reduce(self, values: Array, count: float) -> float:
        total = float(values.sum())
        return total / count if self.reduction == "mean" else total

    def _scale(self, count: float) -> float:
        return 1.0 / count if self.reduction == "mean" else 1.0


class MSELoss(Loss):
    """Mean squared error ``mean((pred - target)**2)``; ``dpred = 2 (pred - target) / n``.

    ``pred`` and ``target`` have the same shape, any shape.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)

    def forward(self, pred: Array, target: ArrayLike) -> float:
        pred = self._check_pred(pred, ndim_min=0)
        diff = pred - self._check_same_shape(pred, target)
        self._grad = 2.0 * diff * pred.dtype.type(self._scale(pred.size))
        return self._reduce(diff * diff, pred.size)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits and integer class labels, like PyTorch's.

    Parameters
    ----------
    weight : array_like of shape (C,), optional
        Per-class weight; ``mean`` then divides by the summed weight of the targets.
    ignore_index : int
        Targets equal to it contribute nothing (PyTorch's default -100).
    reduction : {"mean", "sum"}

    Notes
    -----
    ``pred`` holds logits (N, C) or (N, C, d1, ...), ``target`` integers (N,) or
    (N, d1, ...). ``loss_i = -log_softmax(pred_i)[target_i]``, computed with the maximum
    subtracted (stable for any logits); ``dpred_i = w_i (softmax(pred_i) - onehot_i)``
    divided by the total weight for ``mean``. With every target ignored the mean is
    NaN (with a warning) and the gradient zero.
    """

    def __init__(
        self,
        weight: ArrayLike | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        self.ignore_index = int(ignore_index)

    def forward(self, pred: Array, target: ArrayLike) -> float:
        pred = self._check_pred(pred, ndim_min=2)
        labels = np.asarray(target)
        n_classes = pred.shape[1]
        expected = (pred.shape[0], *pred.shape[2:])
        if labels.shape != expected:
            raise ValueError(
                f"{self.label()}: expected target of shape {expected} for pred {pred.shape}, "
                f"got {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"{self.label()}: expected integer class labels, got {labels.dtype}")
        if self.weight is not None and self.weight.shape != (n_classes,):
            raise ValueError(
                f"{self.label()}: weight has shape {self.weight.shape}, expected ({n_classes},)"
            )
        valid = labels != self.ignore_index
        bad = valid & ((labels < 0) | (labels >= n_classes))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{self.label()}: target{list(where)} = {labels[where]} is outside [0, {n_classes})"
            )
        safe = np.where(valid, labels, 0)[:, None]  # (N, 1, ...)
        logp = log_softmax(pred, axis=1)  # (N, C, ...)
        nll = -np.take_along_axis(logp, safe, axis=1)[:, 0]  # (N, ...)
        w = valid.astype(pred.dtype)
        if self.weight is not None:
            w = w * self.weight.astype(pred.dtype)[safe[:, 0]]
        total_weight = float(w.sum()) if self.reduction == "mean" else 1.0
        if total_weight == 0:
            # Every target ignored (or weighted 0): the mean is undefined. NaN, as in
            # PyTorch, but a zero gradient so an optimizer step changes nothing.
            warnings.warn(
                f"{self.label()}: no target carries weight; the mean loss is NaN",
                RuntimeWarning,
                stacklevel=2,
            )
            self._grad = np.zeros_like(pred)
            return float("nan")
        grad = softmax(pred, axis=1)
        np.put_along_axis(grad, safe, np.take_along_axis(grad, safe, axis=1) - 1.0, axis=1)
        self._grad = grad * (w / pred.dtype.type(total_weight))[:, None]
        return float((w * nll).sum()) / total_weight


class BCEWithLogitsLoss(Loss):
    """Sigmoid + binary cross-entropy in one stable step: one logistic classifier per class.

    Parameters
    ----------
    pos_weight : array_like, optional
        Weight of positive targets, broadcast against the last axis (one per class).
    reduction : {"mean", "sum"}

    Notes
    -----
    For logit ``x`` and target ``y`` in [0, 1] (0/1 for multi-label classification)::

        loss = (1 - y) * x + c * softplus(-x),   c = 1 + (pos_weight - 1) * y
        softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)

    which never overflows, and ``dloss/dx = (1 - y) - c * sigmoid(-x)`` (``sigmoid(x) - y``
    without ``pos_weight``). Use :func:`multilabel_predict` to turn logits into labels.
    """

    def __init__(self, pos_weight: ArrayLike | None = None, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.pos_weight = None if pos_weight is None else np.asarray(pos_weight, np.float64)

    def forward(self, pred: Array, target: ArrayLike) -> float:
        pred = self._check_pred(pred, ndim_min=0)
        y = self._check_same_shape(pred, target)
        softplus_neg = np.log1p(np.exp(-np.abs(pred))) + np.maximum(-pred, 0)  # log(1+e^-x)
        c = 1.0 if self.pos_weight is None else 1.0 + (self.pos_weight.astype(pred.dtype) - 1) * y
        loss = (1 - y) * pred + c * softplus_neg
        self._grad = ((1 - y) - c * sigmoid(-pred)) * pred.dtype.type(self._scale(pred.size))
        return self._reduce(loss, pred.size)


class GIoULoss(Loss):
    """``1 - GIoU`` of aligned box pairs, with its gradient with respect to ``pred``.

    Parameters
    ----------
    fmt : {"xyxy", "xywh", "cxcywh"}
        Format of both ``pred`` and ``target`` (see :mod:`evaluator.geometry.boxes`).
    reduction : {"mean", "sum"}

    Notes
    -----
    For ``pred[i]`` and ``target[i]`` (shape (N, 4)), with intersection ``I``, union
    ``U`` and enclosing-box area ``C``: ``GIoU = I/U - (C - U)/C`` (as
    :func:`evaluator.geometry.boxes.generalized_box_iou`, 0 where a denominator is 0), and the
    loss is ``1 - GIoU`` in [0, 2). The gradient flows through ``I``, ``U`` and ``C`` to
    the four coordinates; the format conversion is linear, so its Jacobian (taken from
    :func:`evaluator.geometry.boxes.box_convert`) maps the xyxy gradient back.
    """

    def __init__(self, fmt: BoxFormat = "xyxy", reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        # xyxy = J @ box for every format: column k is the conversion of unit vector k.
        self._jacobian = box_convert(np.eye(4), fmt, "xyxy").T  # (4, 4)
        self.fmt = fmt

    def forward(self, pred: Array, target: ArrayLike) -> float:
        pred = self._check_pred(pred, ndim_min=2)
        if pred.ndim != 2 or pred.shape[1] != 4:
            raise ValueError(f"{self.label()}: expected pred of shape (N, 4), got {pred.shape}")
        t = self._check_same_shape(pred, target)
        jac = self._jacobian.astype(pred.dtype)
        giou, dgiou = _paired_giou(pred @ jac.T, t @ jac.T)  # (N,), (N, 4) in xyxy
        self._grad = -dgiou @ jac * pred.dtype.type(self._scale(pred.shape[0]))
        return self._reduce(1.0 - giou, pred.shape[0])


def _paired_giou(p: Array, t: Array) -> tuple[Array, Array]:
    """GIoU of aligned xyxy pairs and its gradient with respect to ``p``.

    ``evaluator.geometry.boxes`` computes GIoU for all (n, m) pairs; the loss needs the n aligned
    pairs and the derivative, so the terms are written out here.

    Returns
    -------
    giou : ndarray of shape (N,)
    dgiou : ndarray of shape (N, 4)
        ``d giou / d p``.
    """
    px1, py1, px2, py2 = p.T
    tx1, ty1, tx2, ty2 = t.T
    pw, ph = px2 - px1, py2 - py1
    area_p = pw * ph
    area_t = (tx2 - tx1) * (ty2 - ty1)
    # Intersection sides; where they are clipped to 0 the area has no gradient.
    iw_raw = np.minimum(px2, tx2) - np.maximum(px1, tx1)
    ih_raw = np.minimum(py2, ty2) - np.maximum(py1, ty1)
    iw, ih = np.maximum(iw_raw, 0), np.maximum(ih_raw, 0)
    inter = iw * ih
    union = area_p + area_t - inter
    cw = np.maximum(px2, tx2) - np.minimum(px1, tx1)
    ch = np.maximum(py2, ty2) - np.minimum(py1, ty1)
    enclosing = cw * ch
    has_u, has_c = union > 0, enclosing > 0
    safe_u = np.where(has_u, union, 1)
    safe_c = np.where(has_c, enclosing, 1)
    iou = np.where(has_u, inter / safe_u, 0)
    giou = iou - np.where(has_c, (enclosing - union) / safe_c, 0)

    # d iw / d (px1, px2): -1 where the pred's left edge is the inner one, +1 for the right;
    # the (N, 2) stacks hold the (x1, x2) or (y1, y2) derivatives.
    def indicator(mask: Array) -> Array:
        return mask.astype(p.dtype)

    live_w, live_h = indicator(iw_raw > 0), indicator(ih_raw > 0)
    d_iw = np.stack([-indicator(px1 > tx1), indicator(px2 < tx2)], axis=1) * live_w[:, None]
    d_ih = np.stack([-indicator(py1 > ty1), indicator(py2 < ty2)], axis=1) * live_h[:, None]
    d_inter = np.zeros_like(p)
    d_inter[:, [0, 2]] = d_iw * ih[:, None]
    d_inter[:, [1, 3]] = d_ih * iw[:, None]
    d_area_p = np.stack([-ph, -pw, ph, pw], axis=1)  # d (pw*ph) / d (x1, y1, x2, y2)
    d_union = d_area_p - d_inter
    d_cw = np.stack([-indicator(px1 < tx1), indicator(px2 > tx2)], axis=1)  # (N, 2): x1, x2
    d_ch = np.stack([-indicator(py1 < ty1), indicator(py2 > ty2)], axis=1)  # (N, 2): y1, y2
    d_enc = np.zeros_like(p)
    d_enc[:, [0, 2]] = d_cw * ch[:, None]
    d_enc[:, [1, 3]] = d_ch * cw[:, None]
    # giou = I/U - 1 + U/C, so dgiou = dI/U - I dU/U^2 + dU/C - U dC/C^2.
    u, c = safe_u[:, None], safe_c[:, None]
    d_iou = np.where(has_u[:, None], d_inter / u - inter[:, None] * d_union / u**2, 0)
    d_term = np.where(has_c[:, None], d_union / c - union[:, None] * d_enc / c**2, 0)
    return giou, d_iou + d_term
