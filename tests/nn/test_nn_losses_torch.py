"""Losses against PyTorch in float64: value and gradient with respect to the prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import evaluator.nn as nn
from evaluator.geometry.boxes import box_convert, generalized_box_iou


def torch_loss_and_grad(fn, pred: np.ndarray, *args) -> tuple[float, np.ndarray]:
    tp = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    value = fn(tp, *args)
    value.backward()
    return value.item(), tp.grad.numpy()


def check_loss(close, ours, fn, pred, target, *torch_args):
    value = ours.forward(pred, target)
    t_value, t_grad = torch_loss_and_grad(fn, pred, *torch_args)
    close(np.array(value), np.array(t_value), "loss")
    close(ours.backward(), t_grad, "grad of pred")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(close, rng, reduction):
    pred, target = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    fn = torch.nn.MSELoss(reduction=reduction)
    check_loss(close, nn.MSELoss(reduction), fn, pred, target, torch.from_numpy(target))


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((6, 5), {}),
        ((6, 5), {"reduction": "sum"}),
        ((3, 4, 2, 3), {}),  # per-pixel classification (N, C, H, W)
        ((6, 5), {"weight": [0.5, 1.0, 2.0, 1.5, 0.1]}),
        ((6, 5), {"ignore_index": 2}),
    ],
)
def test_cross_entropy(close, rng, shape, kwargs):
    pred = rng.standard_normal(shape) * 3
    labels = rng.integers(0, shape[1], size=(shape[0], *shape[2:]))
    torch_kwargs = dict(kwargs)
    if "weight" in kwargs:
        torch_kwargs["weight"] = torch.tensor(kwargs["weight"], dtype=torch.float64)
    fn = torch.nn.CrossEntropyLoss(**torch_kwargs)
    check_loss(close, nn.CrossEntropyLoss(**kwargs), fn, pred, labels, torch.from_numpy(labels))


def test_cross_entropy_is_stable_for_huge_logits(close):
    pred = np.array([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 3.0]])
    labels = np.array([1, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_loss(
            close,
            nn.CrossEntropyLoss(),
            torch.nn.CrossEntropyLoss(),
            pred,
            labels,
            torch.from_numpy(labels),
        )


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"pos_weight": [1.0, 2.0, 0.5, 3.0]}])
def test_bce_with_logits(close, rng, kwargs):
    pred = rng.standard_normal((5, 4)) * 4
    target = (rng.random((5, 4)) < 0.4).astype(np.float64)
    torch_kwargs = dict(kwargs)
    if "pos_weight" in kwargs:
        torch_kwargs["pos_weight"] = torch.tensor(kwargs["pos_weight"], dtype=torch.float64)
    fn = torch.nn.BCEWithLogitsLoss(**torch_kwargs)
    check_loss(close, nn.BCEWithLogitsLoss(**kwargs), fn, pred, target, torch.from_numpy(target))


def test_bce_with_logits_is_stable_for_huge_logits(close):
    pred = np.array([[1e4, -1e4, 800.0, -800.0]])
    target = np.array([[0.0, 1.0, 1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_loss(
            close,
            nn.BCEWithLogitsLoss(),
            torch.nn.BCEWithLogitsLoss(),
            pred,
            target,
            torch.from_numpy(target),
        )


def test_multilabel_predict_is_an_independent_sigmoid_threshold_per_class():
    logits = np.array([[2.0, -1.0, 0.3], [-3.0, -2.0, -0.1]])
    probs = torch.sigmoid(torch.from_numpy(logits)).numpy()
    for threshold in (0.3, 0.5, 0.7):
        np.testing.assert_array_equal(nn.multilabel_predict(logits, threshold), probs > threshold)
    # Several labels for one sample, or none at all: unlike softmax's single argmax.
    assert nn.multilabel_predict(logits, 0.5).sum(axis=1).tolist() == [2, 0]


def torch_giou_loss(pred_xyxy: torch.Tensor, target_xyxy: torch.Tensor) -> torch.Tensor:
    """Reference GIoU loss written with torch ops; autograd gives the gradient."""
    lt = torch.maximum(pred_xyxy[:, :2], target_xyxy[:, :2])
    rb = torch.minimum(pred_xyxy[:, 2:], target_xyxy[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area_p = (pred_xyxy[:, 2] - pred_xyxy[:, 0]) * (pred_xyxy[:, 3] - pred_xyxy[:, 1])
    area_t = (target_xyxy[:, 2] - target_xyxy[:, 0]) * (target_xyxy[:, 3] - target_xyxy[:, 1])
    union = area_p + area_t - inter
    lt_c = torch.minimum(pred_xyxy[:, :2], target_xyxy[:, :2])
    rb_c = torch.maximum(pred_xyxy[:, 2:], target_xyxy[:, 2:])
    enclosing = (rb_c - lt_c).prod(dim=1)
    giou = inter / union - (enclosing - union) / enclosing
    return (1 - giou).mean()


def random_xyxy(rng, n):
    xy = rng.uniform(0, 10, size=(n, 2))
    wh = rng.uniform(0.5, 6, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("fmt", ["xyxy", "xywh", "cxcywh"])
def test_giou_loss_matches_torch(close, rng, fmt):
    # 40 random pairs: overlapping, disjoint and nested ones all occur.
    pred_xyxy, target_xyxy = random_xyxy(rng, 40), random_xyxy(rng, 40)
    pred = box_convert(pred_xyxy, "xyxy", fmt)
    target = box_convert(target_xyxy, "xyxy", fmt)

    def fn(p):
        # Convert inside torch so autograd sees the same parametrisation as ours.
        if fmt == "xywh":
            p = torch.cat([p[:, :2], p[:, :2] + p[:, 2:]], dim=1)
        elif fmt == "cxcywh":
            p = torch.cat([p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2], dim=1)
        return torch_giou_loss(p, torch.from_numpy(target_xyxy))

    check_loss(close, nn.GIoULoss(fmt=fmt), fn, pred, target)


def test_giou_loss_value_agrees_with_the_evaluators_box_code(rng):
    pred, target = random_xyxy(rng, 12), random_xyxy(rng, 12)
    giou = np.diag(generalized_box_iou(pred, target))
    loss = nn.GIoULoss(reduction="sum").forward(pred, target)
    np.testing.assert_allclose(loss, np.sum(1 - giou), rtol=1e-12)


def test_giou_loss_of_identical_boxes_is_zero(rng):
    boxes = random_xyxy(rng, 5)
    loss = nn.GIoULoss()
    assert loss.forward(boxes, boxes) == pytest.approx(0.0, abs=1e-12)


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient():
    loss = nn.CrossEntropyLoss(ignore_index=-1)
    labels = np.array([-1, -1])
    t_value = torch.nn.CrossEntropyLoss(ignore_index=-1)(
        torch.zeros(2, 3, dtype=torch.float64), torch.from_numpy(labels)
    )
    with pytest.warns(RuntimeWarning, match="no target carries weight"):
        value = loss.forward(np.zeros((2, 3)), labels)
    assert np.isnan(value) and torch.isnan(t_value)
    assert not loss.backward().any()


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (nn.MSELoss(), np.zeros((4, 4))),
        (nn.CrossEntropyLoss(), np.array([0, 1, 2, 3])),
        (nn.BCEWithLogitsLoss(pos_weight=[2.0] * 4), np.eye(4)),
        (nn.GIoULoss(), np.array([[0, 0, 2, 2], [1, 1, 3, 4], [0, 1, 1, 2], [2, 2, 5, 5]])),
    ],
    ids=lambda v: type(v).__name__,
)
def test_losses_keep_float32(loss, target):
    pred = np.array([[0, 0, 1, 1], [1, 1, 2, 3], [0, 0, 2, 2], [1, 2, 4, 6]], np.float32)
    assert np.isfinite(loss.forward(pred, target))
    assert loss.backward().dtype == np.float32
