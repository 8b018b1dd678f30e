"""Bad input gets a clear error naming the layer; float32 stays float32 end to end."""

from __future__ import annotations

import re

import numpy as np
import pytest

import evaluator.nn as nn


def test_conv_shape_error_names_layer_expected_and_got():
    conv = nn.Conv2d(3, 16, 3)
    message = "Conv2d(3->16): expected input (N, 3, H, W), got (2, 5, 5)"
    with pytest.raises(ValueError, match=re.escape(message)):
        conv.forward(np.zeros((2, 5, 5)))


def test_conv_channel_mismatch_is_reported():
    with pytest.raises(ValueError, match=re.escape("got (2, 4, 5, 5)")):
        nn.Conv2d(3, 16, 3).forward(np.zeros((2, 4, 5, 5)))


def test_conv_input_smaller_than_kernel():
    with pytest.raises(ValueError, match=r"Conv2d\(1->2\): input 2x2 with padding 0x0 .* 3x3"):
        nn.Conv2d(1, 2, 3).forward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize(
    ("layer", "x", "message"),
    [
        (nn.Linear(8, 4), np.zeros((3, 5)), "Linear(8->4): expected input (*, 8), got (3, 5)"),
        (
            nn.BatchNorm2d(4),
            np.zeros((2, 3, 5, 5)),
            "BatchNorm2d(4): expected input (N, 4, H, W), got (2, 3, 5, 5)",
        ),
        (nn.BatchNorm1d(4), np.zeros((2, 5)), "BatchNorm1d(4): expected input (N, 4), got (2, 5)"),
        (
            nn.MaxPool2d(2),
            np.zeros((4, 4)),
            "MaxPool2d(2): expected input (N, C, H, W), got (4, 4)",
        ),
        (
            nn.GroupNorm(2, 4),
            np.zeros((2, 6, 3)),
            "GroupNorm(2, 4): expected input (N, 4, *), got (2, 6, 3)",
        ),
        (nn.LayerNorm(5), np.zeros((2, 4)), "LayerNorm((5,)): expected input (*, 5), got (2, 4)"),
    ],
)
def test_shape_errors(layer, x, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        layer.forward(x)


def test_integer_input_is_a_dtype_error():
    with pytest.raises(TypeError, match=r"ReLU\(\): expected input of dtype float32 or float64"):
        nn.ReLU().forward(np.arange(4))


def test_input_dtype_must_match_the_parameters():
    with pytest.raises(TypeError, match=r"Linear\(4->2\): expected input of dtype float64"):
        nn.Linear(4, 2).forward(np.zeros((1, 4), np.float32))


def test_wrong_gradient_shape():
    layer = nn.Linear(4, 2)
    layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=re.escape("expected a gradient of shape (3, 2)")):
        layer.backward(np.zeros((3, 4)))


def test_misc_argument_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3).forward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="needs equal shapes"):
        nn.Add().forward(np.zeros((1, 2)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="does not match"):
        nn.Concat().forward(np.zeros((1, 2, 3)), np.zeros((1, 2, 4)))


def test_loss_errors():
    with pytest.raises(TypeError, match="integer class labels"):
        nn.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=re.escape("target[1] = 3 is outside [0, 3)")):
        nn.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=re.escape("expected target of shape (2, 3)")):
        nn.MSELoss().forward(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=re.escape("expected pred of shape (N, 4)")):
        nn.GIoULoss().forward(np.zeros((2, 5)), np.zeros((2, 5)))
    with pytest.raises(RuntimeError, match=re.escape("MSELoss(): backward() called before")):
        nn.MSELoss().backward()


def _layer_id(value):
    return value.label() if isinstance(value, nn.Module) else str(value)


def every_layer(dtype):
    """One instance of every layer, its input shape, in the given dtype."""
    return [
        (nn.Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=0), (2, 2, 4, 4)),
        (nn.Conv2d(2, 3, 1, dtype=dtype, rng=0), (2, 2, 4, 4)),
        (nn.MaxPool2d(2), (2, 2, 4, 4)),
        (nn.AvgPool2d(2), (2, 2, 4, 4)),
        (nn.AdaptiveAvgPool2d(2), (2, 2, 5, 5)),
        (nn.GlobalAvgPool2d(), (2, 2, 4, 4)),
        (nn.Linear(4, 3, dtype=dtype, rng=0), (2, 4)),
        (nn.Flatten(), (2, 2, 3, 3)),
        (nn.Upsample(scale_factor=2), (2, 2, 3, 3)),
        (nn.Upsample(size=(5, 5), mode="bilinear"), (2, 2, 3, 3)),
        (nn.Dropout(0.3, rng=0), (2, 5)),
        (nn.BatchNorm1d(4, dtype=dtype), (3, 4)),
        (nn.BatchNorm2d(2, dtype=dtype), (2, 2, 3, 3)),
        (nn.LayerNorm(4, dtype=dtype), (3, 4)),
        (nn.GroupNorm(1, 2, dtype=dtype), (2, 2, 3, 3)),
        (nn.InstanceNorm2d(2, affine=True, dtype=dtype), (2, 2, 3, 3)),
        (nn.WeightNorm(nn.Linear(4, 3, dtype=dtype, rng=0)), (2, 4)),
        (nn.Identity(), (3, 4)),
        (nn.Sigmoid(), (3, 4)),
        (nn.Tanh(), (3, 4)),
        (nn.ReLU(), (3, 4)),
        (nn.LeakyReLU(), (3, 4)),
        (nn.ELU(), (3, 4)),
        (nn.Softmax(), (3, 4)),
        (nn.Sequential(nn.Linear(4, 4, dtype=dtype, rng=0), nn.ReLU()), (3, 4)),
    ]


@pytest.mark.parametrize(("layer", "shape"), every_layer(np.float32), ids=_layer_id)
def test_float32_stays_float32(rng, layer, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32
    for name, owner, key in layer.named_parameters():
        assert owner.params[key].dtype == np.float32, name
        assert owner.grads[key].dtype == np.float32, name


@pytest.mark.parametrize(("layer", "shape"), every_layer(np.float64), ids=_layer_id)
def test_backward_before_forward_is_an_error(layer, shape):
    # A container reports the layer that has not run: its last one.
    culprit = layer[-1] if isinstance(layer, nn.Sequential) else layer
    message = f"{culprit.label()}: backward() called before forward()"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        layer.backward(np.zeros(shape))


def test_to_float32_converts_parameters_and_buffers(rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.BatchNorm2d(3), nn.ReLU())
    model.to(np.float32)
    assert model.dtype == np.float32
    assert model[1].running_mean.dtype == np.float32
    y = model.forward(rng.standard_normal((2, 2, 5, 5)).astype(np.float32))
    assert y.dtype == np.float32


def test_multi_input_layers_check_dtype_agreement():
    with pytest.raises(TypeError, match="share one dtype"):
        nn.Add().forward(np.zeros((1, 2)), np.zeros((1, 2), np.float32))
