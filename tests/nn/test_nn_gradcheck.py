"""Central-difference gradient checks, and proof that the checker rejects wrong gradients."""

from __future__ import annotations

import numpy as np
import pytest

import evaluator.nn as nn


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    grad = nn.numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-8, atol=1e-10)


def small_layers():
    return [
        (nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0), (2, 2, 5, 5)),
        (nn.Conv2d(2, 3, 1, rng=1), (2, 2, 3, 3)),
        (nn.MaxPool2d(2), (1, 2, 4, 4)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 5, 5)),
        (nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 4)),
        (nn.GlobalAvgPool2d(), (2, 3, 3, 2)),
        (nn.Linear(4, 3, rng=2), (5, 4)),
        (nn.Flatten(), (2, 2, 3, 3)),
        (nn.Upsample(scale_factor=2), (1, 2, 2, 3)),
        (nn.Upsample(size=(5, 4), mode="bilinear"), (1, 2, 3, 3)),
        (nn.Sigmoid(), (3, 4)),
        (nn.Tanh(), (3, 4)),
        (nn.ReLU(), (3, 4)),
        (nn.LeakyReLU(0.1), (3, 4)),
        (nn.ELU(), (3, 4)),
        (nn.Softmax(dim=1), (3, 4)),
        (nn.BatchNorm1d(3), (5, 3)),
        (nn.BatchNorm2d(2), (3, 2, 3, 3)),
        (nn.LayerNorm(4), (3, 4)),
        (nn.GroupNorm(2, 4), (2, 4, 3, 3)),
        (nn.InstanceNorm2d(2, affine=True), (2, 2, 3, 3)),
        (nn.WeightNorm(nn.Linear(4, 3, rng=3)), (5, 4)),
        (nn.Dropout(0.5).eval(), (3, 4)),
    ]


@pytest.mark.parametrize(
    ("layer", "shape"),
    small_layers(),
    ids=lambda v: v.label() if isinstance(v, nn.Module) else str(v),
)
def test_layer_gradients_pass_the_central_difference_check(rng, layer, shape):
    x = rng.standard_normal(shape)
    errors = nn.check_layer_gradients(layer, x)
    assert set(errors) == {"input0", *(name for name, _, _ in layer.named_parameters())}


def test_multi_input_layers_pass_the_check(rng):
    a, b = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 1, 2, 2))
    assert set(nn.check_layer_gradients(nn.Concat(), a, b)) == {"input0", "input1"}
    assert set(nn.check_layer_gradients(nn.Add(), a, a.copy())) == {"input0", "input1"}


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (nn.MSELoss(), np.linspace(-1, 1, 12).reshape(3, 4)),
        (nn.CrossEntropyLoss(), np.array([0, 3, 1])),
        (nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 0.5, 1.0]), np.eye(3, 4)),
    ],
)
def test_loss_gradients_pass_the_check(rng, loss, target):
    assert nn.check_loss_gradients(loss, rng.standard_normal((3, 4)), target) <= 1e-6


def test_giou_loss_gradient_passes_the_check(rng):
    xy = rng.uniform(0, 5, (6, 2))
    pred = np.concatenate([xy, xy + rng.uniform(1, 3, (6, 2))], axis=1)
    target = pred + rng.uniform(-1.5, 1.5, (6, 4))
    assert nn.check_loss_gradients(nn.GIoULoss(), pred, target) <= 1e-6


class _HalfGradientLinear(nn.Linear):
    """Linear whose weight gradient is half the true one."""

    def backward(self, grad):
        dx = super().backward(grad)
        self.grads["weight"] *= 0.5
        return dx


class _SignFlippedTanh(nn.Tanh):
    def _backward(self, grad, saved):
        return -super()._backward(grad, saved)


def test_the_checker_fails_on_a_wrong_parameter_gradient(rng):
    with pytest.raises(nn.GradientCheckError, match="weight"):
        nn.check_layer_gradients(_HalfGradientLinear(4, 3, rng=0), rng.standard_normal((5, 4)))


def test_the_checker_fails_on_a_wrong_input_gradient(rng):
    with pytest.raises(nn.GradientCheckError, match="input0"):
        nn.check_layer_gradients(_SignFlippedTanh(), rng.standard_normal((3, 4)))


def test_the_checker_fails_on_a_slightly_wrong_loss_gradient(rng):
    class _OffMSE(nn.MSELoss):
        def backward(self):
            return super().backward() * (1 + 1e-4)

    with pytest.raises(nn.GradientCheckError, match="pred"):
        nn.check_loss_gradients(_OffMSE(), rng.standard_normal((3, 4)), np.zeros((3, 4)))


def test_the_checker_refuses_float32(rng):
    layer = nn.Linear(4, 3, dtype=np.float32, rng=0)
    with pytest.raises(TypeError, match="float64"):
        nn.check_layer_gradients(layer, rng.standard_normal((2, 4)).astype(np.float32))
