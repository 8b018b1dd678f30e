"""Every layer against PyTorch in float64: output, input gradients, parameter gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import evaluator.nn as nn


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "stride", "padding", "hw", "bias"),
    [
        (3, 5, 3, 1, 1, (7, 8), True),
        (4, 6, 3, 2, 0, (9, 7), True),
        (3, 4, (2, 3), (2, 1), (1, 2), (6, 7), False),
        (3, 4, (3, 2), 1, (0, 1), (6, 7), True),  # stride 1: backward by flipped kernel
        (2, 3, 5, 3, 2, (11, 10), True),
        (4, 6, 1, 1, 0, (5, 5), True),  # 1x1 fast path
        (4, 6, 1, 2, 0, (5, 6), False),  # 1x1, strided
        (2, 3, 1, 1, 1, (4, 4), True),  # 1x1 with padding: general path
    ],
)
def test_conv2d(torch_compare, rng, cin, cout, kernel, stride, padding, hw, bias):
    ours = nn.Conv2d(cin, cout, kernel, stride, padding, bias=bias, rng=1)
    theirs = torch.nn.Conv2d(cin, cout, kernel, stride, padding, bias=bias)
    torch_compare(ours, theirs, [rng.standard_normal((2, cin, *hw))])


def test_conv2d_chunked_batch_matches_torch(torch_compare, rng, monkeypatch):
    # A tiny workspace forces one image per im2col chunk.
    monkeypatch.setattr("evaluator.nn.layers.conv.WORKSPACE_BYTES", 1)
    ours = nn.Conv2d(3, 4, 3, padding=1, rng=2)
    torch_compare(ours, torch.nn.Conv2d(3, 4, 3, padding=1), [rng.standard_normal((3, 3, 5, 6))])


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "hw"),
    [(2, None, 0, (6, 8)), (3, 2, 1, (7, 9)), ((2, 3), (1, 2), (1, 1), (5, 7)), (3, 1, 0, (5, 5))],
)
def test_max_pool2d(torch_compare, rng, kernel, stride, padding, hw):
    torch_compare(
        nn.MaxPool2d(kernel, stride, padding),
        torch.nn.MaxPool2d(kernel, stride, padding),
        [rng.standard_normal((2, 3, *hw))],
    )


def test_max_pool2d_ties_go_to_the_first_maximum(torch_compare):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = 1.0  # two equal maxima in the first window
    torch_compare(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), [x])


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "count_include_pad", "hw"),
    [
        (2, None, 0, True, (6, 8)),
        (3, 2, 1, True, (7, 9)),
        (3, 2, 1, False, (7, 9)),
        ((2, 3), (1, 2), (1, 1), False, (5, 7)),
    ],
)
def test_avg_pool2d(torch_compare, rng, kernel, stride, padding, count_include_pad, hw):
    torch_compare(
        nn.AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad),
        torch.nn.AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad),
        [rng.standard_normal((2, 3, *hw))],
    )


@pytest.mark.parametrize(("out", "hw"), [(1, (5, 7)), ((2, 3), (6, 9)), ((3, 4), (7, 5))])
def test_adaptive_avg_pool2d(torch_compare, rng, out, hw):
    torch_compare(
        nn.AdaptiveAvgPool2d(out),
        torch.nn.AdaptiveAvgPool2d(out),
        [rng.standard_normal((2, 3, *hw))],
    )


def test_global_avg_pool2d(torch_compare, rng):
    torch_compare(
        nn.GlobalAvgPool2d(), torch.nn.AdaptiveAvgPool2d(1), [rng.standard_normal((3, 4, 5, 6))]
    )


@pytest.mark.parametrize(("shape", "bias"), [((4, 7), True), ((2, 3, 7), False)])
def test_linear(torch_compare, rng, shape, bias):
    torch_compare(
        nn.Linear(7, 5, bias=bias, rng=3),
        torch.nn.Linear(7, 5, bias=bias),
        [rng.standard_normal(shape)],
    )


@pytest.mark.parametrize(("start", "end"), [(1, -1), (0, -1), (1, 2), (2, 3)])
def test_flatten(torch_compare, rng, start, end):
    torch_compare(
        nn.Flatten(start, end), torch.nn.Flatten(start, end), [rng.standard_normal((2, 3, 4, 5))]
    )


@pytest.mark.parametrize(
    ("kwargs", "hw"),
    [
        ({"scale_factor": 2, "mode": "nearest"}, (3, 4)),
        ({"scale_factor": (3, 2), "mode": "nearest"}, (3, 4)),
        ({"size": (7, 5), "mode": "nearest"}, (3, 4)),
        ({"scale_factor": 2, "mode": "bilinear"}, (3, 4)),
        ({"scale_factor": 1.5, "mode": "bilinear"}, (4, 6)),
        ({"size": (7, 5), "mode": "bilinear"}, (3, 4)),
        ({"size": (2, 3), "mode": "bilinear"}, (5, 7)),  # downsampling
        ({"size": (7, 5), "mode": "bilinear", "align_corners": True}, (3, 4)),
        ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}, (3, 4)),
    ],
)
def test_upsample(torch_compare, rng, kwargs, hw):
    torch_compare(
        nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), [rng.standard_normal((2, 3, *hw))]
    )


def test_concat_stacks_channels(torch_compare, rng):
    # The notes' example: 8x8x16 and 8x8x16 feature maps concatenate to 8x8x32.
    a, b = rng.standard_normal((2, 16, 8, 8)), rng.standard_normal((2, 16, 8, 8))
    layer = nn.Concat(dim=1)
    assert layer.forward(a, b).shape == (2, 32, 8, 8)
    torch_compare(layer, lambda x, y: torch.cat([x, y], dim=1), [a, b])
    three = [rng.standard_normal((2, c, 3, 3)) for c in (1, 4, 2)]
    torch_compare(nn.Concat(dim=1), lambda *xs: torch.cat(xs, dim=1), three)


def test_residual_add_keeps_shape(torch_compare, rng):
    a, b = rng.standard_normal((2, 16, 8, 8)), rng.standard_normal((2, 16, 8, 8))
    layer = nn.Add()
    assert layer.forward(a, b).shape == (2, 16, 8, 8)
    torch_compare(layer, lambda x, y: x + y, [a, b])


ACTIVATIONS = [
    (nn.Identity(), torch.nn.Identity()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.ELU(), torch.nn.ELU()),
    (nn.ELU(0.5), torch.nn.ELU(0.5)),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
]


@pytest.mark.parametrize(("ours", "theirs"), ACTIVATIONS, ids=lambda m: type(m).__name__)
def test_activation(torch_compare, rng, ours, theirs):
    torch_compare(ours, theirs, [rng.standard_normal((2, 3, 4, 5)) * 3])


@pytest.mark.parametrize(("ours", "theirs"), ACTIVATIONS, ids=lambda m: type(m).__name__)
def test_activation_is_stable_at_large_inputs(torch_compare, ours, theirs):
    x = np.array([[-1e4, -800.0, -50.0, 0.5, 50.0, 800.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        y = ours.forward(x)
        ours.backward(np.ones_like(y))
    assert np.isfinite(y).all()
    torch_compare(ours, theirs, [x])


@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 3)])
def test_batch_norm1d(torch_compare, rng, shape):
    torch_compare(nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), [rng.standard_normal(shape) * 2 + 1])


def test_batch_norm2d_training(torch_compare, rng):
    torch_compare(
        nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), [rng.standard_normal((4, 3, 5, 6)) * 2 + 1]
    )


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batch_norm2d_running_statistics_and_eval(torch_compare, rng, momentum):
    ours = nn.BatchNorm2d(3, momentum=momentum)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    for _ in range(4):
        x = rng.standard_normal((5, 3, 4, 4)) * 3 + 2
        ours.forward(x)
        theirs(torch.from_numpy(x))
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    ours.params["weight"][:] = rng.standard_normal(3)  # a non-trivial affine part
    with torch.no_grad():
        theirs.running_mean.copy_(torch.from_numpy(ours.running_mean))
    torch_compare(ours, theirs, [rng.standard_normal((2, 3, 4, 4))])


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval(torch_compare, rng):
    ours = nn.BatchNorm2d(2, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm2d(2, track_running_stats=False).eval()
    torch_compare(ours, theirs, [rng.standard_normal((3, 2, 4, 4))])


@pytest.mark.parametrize(
    ("shape", "normalized", "affine", "bias"),
    [
        ((4, 6), 6, True, True),
        ((2, 3, 4, 5), (4, 5), True, False),
        ((2, 3, 4), (3, 4), False, True),
    ],
)
def test_layer_norm(torch_compare, rng, shape, normalized, affine, bias):
    ours = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    theirs = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    if affine:
        ours.params["weight"][...] = rng.standard_normal(ours.params["weight"].shape)
    torch_compare(ours, theirs, [rng.standard_normal(shape) * 2 + 1])


@pytest.mark.parametrize(
    ("groups", "shape"), [(2, (3, 6, 4, 5)), (1, (2, 4, 3, 3)), (4, (2, 4, 7))]
)
def test_group_norm(torch_compare, rng, groups, shape):
    ours = nn.GroupNorm(groups, shape[1])
    ours.params["weight"][:] = rng.standard_normal(shape[1])
    ours.params["bias"][:] = rng.standard_normal(shape[1])
    torch_compare(ours, torch.nn.GroupNorm(groups, shape[1]), [rng.standard_normal(shape)])


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm2d(torch_compare, rng, affine):
    ours = nn.InstanceNorm2d(3, affine=affine)
    if affine:
        ours.params["weight"][:] = rng.standard_normal(3)
    theirs = torch.nn.InstanceNorm2d(3, affine=affine)
    torch_compare(ours, theirs, [rng.standard_normal((2, 3, 4, 5)) * 2 + 1])


WEIGHT_NORM_NAMES = {
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}


@pytest.mark.parametrize("dim", [0, 1])
def test_weight_norm_conv2d(torch_compare, rng, dim):
    ours = nn.WeightNorm(nn.Conv2d(3, 4, 3, padding=1, rng=4), dim=dim)
    ours.params["weight_g"][...] = rng.uniform(0.5, 2.0, ours.params["weight_g"].shape)
    theirs = torch.nn.utils.parametrizations.weight_norm(
        torch.nn.Conv2d(3, 4, 3, padding=1).double(), dim=dim
    )
    torch_compare(ours, theirs, [rng.standard_normal((2, 3, 5, 5))], names=WEIGHT_NORM_NAMES)


def test_weight_norm_linear(torch_compare, rng):
    ours = nn.WeightNorm(nn.Linear(5, 3, rng=5))
    ours.params["weight_g"][...] = rng.uniform(0.5, 2.0, ours.params["weight_g"].shape)
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 3).double())
    torch_compare(ours, theirs, [rng.standard_normal((4, 5))], names=WEIGHT_NORM_NAMES)


def test_weight_norm_starts_as_the_wrapped_layer(rng):
    conv = nn.Conv2d(2, 3, 3, rng=6)
    x = rng.standard_normal((1, 2, 4, 4))
    before = conv.forward(x)
    np.testing.assert_allclose(nn.WeightNorm(conv).forward(x), before, rtol=1e-12)


def test_sequential_matches_torch(torch_compare, rng):
    ours = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, rng=7),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 1, rng=8),
        nn.GlobalAvgPool2d(),
        nn.Flatten(),
        nn.Linear(6, 2, rng=9),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 1),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 2),
    )
    torch_compare(ours, theirs, [rng.standard_normal((3, 3, 8, 8))])


def test_residual_matches_torch(torch_compare, rng):
    ours = nn.Residual(
        nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, rng=10), nn.ReLU()),
        nn.Conv2d(3, 3, 1, bias=False, rng=11),
    )

    class TorchResidual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.ReLU())
            self.shortcut = torch.nn.Conv2d(3, 3, 1, bias=False)

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    names = {
        "0.0.weight": "body.0.weight",
        "0.0.bias": "body.0.bias",
        "1.weight": "shortcut.weight",
    }
    torch_compare(ours, TorchResidual(), [rng.standard_normal((2, 3, 5, 5))], names=names)


class _WrongReLU(nn.ReLU):
    """ReLU whose backward forgets the mask: the comparison must catch it."""

    def _backward(self, grad, saved):
        return grad


def test_the_torch_comparison_catches_a_wrong_gradient(torch_compare, rng):
    with pytest.raises(AssertionError, match="grad of input 0"):
        torch_compare(_WrongReLU(), torch.nn.ReLU(), [rng.standard_normal((3, 4))])


def test_dropout_train_mode_is_inverted_dropout(rng):
    p = 0.3
    x = rng.standard_normal((200, 50)) + 3.0
    layer = nn.Dropout(p, rng=0)
    y = layer.forward(x)
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.02  # about p of the units are dropped
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p))  # survivors scaled by 1/(1-p)
    upstream = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(upstream), upstream * kept / (1 - p))
    # Against torch's functional form with the same mask.
    expected = torch.from_numpy(x) * torch.from_numpy(kept) / (1 - p)
    np.testing.assert_allclose(y, expected.numpy())


def test_dropout_is_seeded_redraws_each_call_and_is_identity_in_eval(rng):
    x = rng.standard_normal((10, 10))
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))
    a.eval()
    np.testing.assert_array_equal(a.forward(x), x)
    np.testing.assert_array_equal(a.backward(x), x)
    assert not nn.Dropout(1.0).forward(x).any()


def conv2d_loop_oracle(x, weight, bias, stride, padding):
    """The defining sum, one output element at a time (slow, obviously right)."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + w] = x
    out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, o, out_h, out_w))
    for b in range(n):
        for k in range(o):
            for i in range(out_h):
                for j in range(out_w):
                    patch = xp[b, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    y[b, k, i, j] = np.sum(patch * weight[k]) + bias[k]
    return y


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [(3, (1, 1), (1, 1)), ((2, 3), (2, 1), (0, 2)), (1, (2, 2), (0, 0))],
)
def test_conv2d_matches_a_plain_loop_oracle(close, rng, kernel, stride, padding):
    conv = nn.Conv2d(3, 4, kernel, stride, padding, rng=13)
    x = rng.standard_normal((2, 3, 6, 7))
    expected = conv2d_loop_oracle(x, conv.params["weight"], conv.params["bias"], stride, padding)
    close(conv.forward(x), expected, "output")
