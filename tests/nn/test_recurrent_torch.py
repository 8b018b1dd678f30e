"""LSTM and RNN against torch.nn.LSTM / torch.nn.RNN, central differences, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluator.nn import GradientCheckError, check_layer_gradients
from evaluator.nn.recurrent import LSTM, RNN


class FirstOutput(torch.nn.Module):
    """torch's recurrent layers return ``(output, state)``; keep the output sequence."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


@pytest.mark.parametrize(("steps", "batch", "inputs", "hidden"), [(7, 3, 5, 4), (1, 1, 2, 3)])
def test_lstm_matches_torch(torch_compare, rng, steps, batch, inputs, hidden):
    ours = LSTM(inputs, hidden, rng=1)
    theirs = FirstOutput(torch.nn.LSTM(inputs, hidden))
    names = {name: f"layer.{name}" for name in ours.params}
    torch_compare(ours, theirs, [rng.standard_normal((steps, batch, inputs))], names=names)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_torch(torch_compare, rng, nonlinearity):
    ours = RNN(5, 4, nonlinearity, rng=2)
    theirs = FirstOutput(torch.nn.RNN(5, 4, nonlinearity=nonlinearity))
    names = {name: f"layer.{name}" for name in ours.params}
    torch_compare(ours, theirs, [rng.standard_normal((6, 3, 5))], names=names)


def test_lstm_matches_torch_over_a_long_sequence_with_large_inputs(torch_compare, rng):
    # Saturated gates and 40 steps of accumulated cell state.
    ours = LSTM(3, 6, rng=3)
    theirs = FirstOutput(torch.nn.LSTM(3, 6))
    names = {name: f"layer.{name}" for name in ours.params}
    torch_compare(ours, theirs, [3 * rng.standard_normal((40, 2, 3))], names=names)


def test_lstm_gate_order_is_input_forget_cell_output():
    # Zero weights, a distinct bias per gate block: two steps from zero state give
    # c1 = i g, c2 = f c1 + i g, h = o tanh(c); any other block order changes h.
    layer = LSTM(1, 1, rng=0)
    for array in layer.params.values():
        array.fill(0.0)
    layer.params["bias_ih_l0"][:] = [0.5, -1.0, 1.5, 2.0]
    i, f, o = (1 / (1 + np.exp(-b)) for b in (0.5, -1.0, 2.0))
    g = np.tanh(1.5)
    c1 = i * g
    c2 = f * c1 + i * g
    out = layer.forward(np.zeros((2, 1, 1)))
    np.testing.assert_allclose(out[:, 0, 0], [o * np.tanh(c1), o * np.tanh(c2)], rtol=1e-14)


@pytest.mark.parametrize(
    "layer", [LSTM(3, 4, rng=4), RNN(3, 4, rng=5), RNN(3, 4, "relu", rng=6)], ids=repr
)
def test_recurrent_layers_pass_the_central_difference_check(rng, layer):
    errors = check_layer_gradients(layer, rng.standard_normal((5, 2, 3)))
    assert set(errors) == {"input0", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}


def test_the_check_rejects_an_lstm_whose_backward_skips_time(rng, monkeypatch):
    # Truncated BPTT with no look-back: dx[t] only from dout[t]. Parameter gradients
    # stay right (they sum over t), the input gradient is wrong and must be caught.
    layer = LSTM(2, 3, rng=7)
    x = rng.standard_normal((4, 2, 2))

    def truncated_backward(grad: np.ndarray) -> np.ndarray:
        dx = np.zeros_like(x)
        for t in range(x.shape[0]):
            only_t = np.zeros_like(grad)
            only_t[t] = grad[t]
            dx[t] = LSTM.backward(layer, only_t)[t]
        return dx

    monkeypatch.setattr(layer, "backward", truncated_backward)
    with pytest.raises(GradientCheckError, match="input0") as failure:
        check_layer_gradients(layer, x)
    assert "weight_ih_l0" not in str(failure.value)


@pytest.mark.parametrize("cls", [LSTM, RNN])
def test_float32_stays_float32_and_agrees_with_float64(rng, cls):
    x = rng.standard_normal((6, 2, 3))
    ours64 = cls(3, 5, rng=8)
    ours32 = cls(3, 5, dtype=np.float32, rng=8)
    y64, y32 = ours64.forward(x), ours32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5)
    upstream = rng.standard_normal(y64.shape)
    dx64, dx32 = ours64.backward(upstream), ours32.backward(upstream.astype(np.float32))
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=0, atol=1e-4)
    for name in ours64.params:
        assert ours32.grads[name].dtype == np.float32
        np.testing.assert_allclose(ours32.grads[name], ours64.grads[name], rtol=0, atol=1e-4)


def test_parameter_names_and_shapes_follow_pytorch():
    torch_lstm, torch_rnn = torch.nn.LSTM(3, 5), torch.nn.RNN(3, 5)
    for ours, theirs in ((LSTM(3, 5), torch_lstm), (RNN(3, 5), torch_rnn)):
        expected = {name: tuple(p.shape) for name, p in theirs.named_parameters()}
        assert {name: p.shape for name, p in ours.params.items()} == expected
        bound = 1 / np.sqrt(5)
        assert all(np.abs(p).max() <= bound for p in ours.params.values())


def test_gradients_accumulate_across_backward_calls(rng):
    layer = LSTM(2, 3, rng=9)
    x, upstream = rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 3))
    layer.forward(x)
    layer.backward(upstream)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer.backward(upstream)
    for name, grad in layer.grads.items():
        np.testing.assert_allclose(grad, 2 * once[name], rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: LSTM(3, 4).forward(np.zeros((5, 3))), ValueError, r"LSTM\(3->4\).*\(seq_len"),
        (lambda: LSTM(3, 4).forward(np.zeros((5, 2, 4))), ValueError, r"LSTM\(3->4\).*got"),
        (lambda: LSTM(3, 4).forward(np.zeros((0, 2, 3))), ValueError, "non-empty"),
        (lambda: RNN(3, 4).forward(np.zeros((5, 2, 3), np.float32)), TypeError, r"RNN\(3->4"),
        (lambda: LSTM(3, 4).forward(np.zeros((5, 2, 3), np.int64)), TypeError, "float32"),
        (lambda: LSTM(3, 4).backward(np.zeros((5, 2, 4))), RuntimeError, "before forward"),
        (lambda: LSTM(0, 4), ValueError, "positive"),
        (lambda: RNN(3, 4, "sigmoid"), ValueError, "nonlinearity"),
        (lambda: LSTM(3, 4, dtype=np.float16), TypeError, "float32 or float64"),
    ],
)
def test_errors_name_the_layer_and_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_backward_checks_the_gradient_shape():
    layer = LSTM(3, 4)
    layer.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"LSTM\(3->4\): expected a gradient of shape \(5, 2, 4\)"):
        layer.backward(np.zeros((5, 2, 3)))
