"""Recurrent layers: the LSTM and the plain (Elman) RNN it was designed to improve on.

Both read a sequence ``x`` of shape ``(seq_len, batch, input_size)`` (PyTorch's default
layout), start from a zero state and return the hidden state at every step,
``(seq_len, batch, hidden_size)``. ``backward(dout)`` runs backpropagation through time:
``dout[t]`` is the gradient of the loss with respect to the output at step ``t`` (zero
where the loss does not look, e.g. everywhere but the last step for a classifier).

Why the LSTM remembers: a plain RNN carries its memory through
``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)``, so the gradient reaching step ``t - k``
is multiplied by ``k`` Jacobians ``diag(1 - h^2) W_hh`` and vanishes (or explodes)
geometrically, as in a deep sigmoid net. The LSTM's cell state is updated additively,
``c_t = f_t * c_{t-1} + i_t * g_t``: along that path the gradient is multiplied only by
the forget gate ``f_t``, which the network can hold near 1 to keep information (and its
gradient) alive over many steps.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from .functional import sigmoid
from .init import RNGLike, make_rng, uniform_
from .module import Array, Module, check_float_dtype


class _Recurrent(Module):
    """One recurrent layer: PyTorch's parameter names, initialisation and input checks.

    Parameters
    ----------
    input_size, hidden_size : int
    gates : int
        Blocks stacked in the weights: 4 for the LSTM (i, f, g, o), 1 for the RNN.
    dtype : float32 or float64
    rng : int, Generator or None
        Seed of PyTorch's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        gates: int,
        dtype: DTypeLike,
        rng: RNGLike,
    ) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        if self.input_size <= 0 or self.hidden_size <= 0:
            raise ValueError(
                f"{self.label()}: input_size and hidden_size must be positive, "
                f"got {input_size} and {hidden_size}"
            )
        float_dtype = check_float_dtype(dtype, self.label())
        generator = make_rng(rng)
        bound = 1.0 / math.sqrt(self.hidden_size)
        rows = gates * self.hidden_size
        shapes = {
            "weight_ih_l0": (rows, self.input_size),
            "weight_hh_l0": (rows, self.hidden_size),
            "bias_ih_l0": (rows,),
            "bias_hh_l0": (rows,),
        }
        for name, shape in shapes.items():
            self._add_param(name, uniform_(np.empty(shape, float_dtype), -bound, bound, generator))

    def _label_args(self) -> str:
        return f"{self.input_size}->{self.hidden_size}"

    def _check_sequence(self, x: Array) -> Array:
        x = self._check_input(x, ("seq_len", "batch", self.input_size))
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"{self.label()}: expected a non-empty sequence and batch, got shape {x.shape}"
            )
        return x

    def _input_projection(self, x: Array) -> Array:
        """``x @ W_ih.T + b_ih + b_hh`` for every step at once: (T, B, I) -> (T, B, rows)."""
        return x @ self.params["weight_ih_l0"].T + (
            self.params["bias_ih_l0"] + self.params["bias_hh_l0"]
        )

    def _accumulate(self, x: Array, h_prev: Array, da: Array) -> Array:
        """Add the parameter gradients from the pre-activation gradients; return ``dx``.

        ``x`` (T, B, I), ``h_prev`` (T, B, H) the state each step started from, ``da``
        (T, B, rows) the gradient of the pre-activations.
        """
        rows = da.shape[-1]
        da_flat = da.reshape(-1, rows)  # (T*B, rows)
        self.grads["weight_ih_l0"] += da_flat.T @ x.reshape(-1, self.input_size)
        self.grads["weight_hh_l0"] += da_flat.T @ h_prev.reshape(-1, self.hidden_size)
        db = da_flat.sum(axis=0)
        self.grads["bias_ih_l0"] += db
        self.grads["bias_hh_l0"] += db
        return da @ self.params["weight_ih_l0"]


class LSTM(_Recurrent):
    """A one-layer LSTM over a whole sequence, like ``torch.nn.LSTM(input_size, hidden_size)``.

    Parameters
    ----------
    input_size, hidden_size : int
    dtype : float32 or float64
    rng : int, Generator or None
        Seed of the initialisation, U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Attributes
    ----------
    params : dict
        ``weight_ih_l0`` (4H, I), ``weight_hh_l0`` (4H, H), ``bias_ih_l0`` (4H,),
        ``bias_hh_l0`` (4H,); the four row blocks are the input, forget, cell and output
        gates, in that order (PyTorch's).

    Notes
    -----
    With ``a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` split into four blocks::

        i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    from ``h_0 = c_0 = 0``. Backward through time, with ``dh`` the output gradient plus
    the gradient flowing back from step ``t + 1``::

        dc   = dc_next + dh * o * (1 - tanh(c_t)^2)
        da_i = dc * g * i (1 - i)        da_f = dc * c_{t-1} * f (1 - f)
        da_g = dc * i * (1 - g^2)        da_o = dh * tanh(c_t) * o (1 - o)
        dc_next = dc * f                 dh_next = da @ W_hh
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        dtype: DTypeLike = np.float64,
        rng: RNGLike = None,
    ) -> None:
        super().__init__(input_size, hidden_size, 4, dtype, rng)
        self._cache: tuple[Array, Array, Array, Array, Array] | None = None

    def forward(self, x: Array) -> Array:
        """(seq_len, batch, input_size) -> hidden states (seq_len, batch, hidden_size)."""
        x = self._check_sequence(x)
        steps, batch = x.shape[:2]
        hidden = self.hidden_size
        w_hh_t = self.params["weight_hh_l0"].T  # (H, 4H)
        pre = self._input_projection(x)  # (T, B, 4H)
        gates = np.empty_like(pre)  # (T, B, 4H): i, f, o after sigmoid, g after tanh
        h = np.zeros((steps + 1, batch, hidden), x.dtype)  # h[t + 1] is step t's output
        c = np.zeros((steps + 1, batch, hidden), x.dtype)
        tanh_c = np.empty((steps, batch, hidden), x.dtype)
        for t in range(steps):
            a = pre[t] + h[t] @ w_hh_t  # (B, 4H)
            gate = gates[t]
            gate[:, : 2 * hidden] = sigmoid(a[:, : 2 * hidden])  # i, f
            gate[:, 2 * hidden : 3 * hidden] = np.tanh(a[:, 2 * hidden : 3 * hidden])  # g
            gate[:, 3 * hidden :] = sigmoid(a[:, 3 * hidden :])  # o
            i, f, g, o = _blocks(gate, hidden)
            c[t + 1] = f * c[t] + i * g
            tanh_c[t] = np.tanh(c[t + 1])
            h[t + 1] = o * tanh_c[t]
        self._cache = (x, gates, h, c, tanh_c)
        return h[1:].copy()

    def backward(self, grad: Array) -> Array:
        """(seq_len, batch, hidden_size) -> dx (seq_len, batch, input_size); fills ``grads``."""
        if self._cache is None:
            raise self._missing_forward()
        x, gates, h, c, tanh_c = self._cache
        steps, batch = x.shape[:2]
        hidden = self.hidden_size
        grad = self._check_grad(grad, (steps, batch, hidden), x.dtype)
        w_hh = self.params["weight_hh_l0"]  # (4H, H)
        da = np.empty_like(gates)  # (T, B, 4H)
        dh_next = np.zeros((batch, hidden), x.dtype)
        dc_next = np.zeros_like(dh_next)
        for t in reversed(range(steps)):
            i, f, g, o = _blocks(gates[t], hidden)
            da_i, da_f, da_g, da_o = _blocks(da[t], hidden)  # views into da
            dh = grad[t] + dh_next
            dc = dc_next + dh * o * (1 - tanh_c[t] * tanh_c[t])
            da_i[:] = dc * g * i * (1 - i)
            da_f[:] = dc * c[t] * f * (1 - f)
            da_g[:] = dc * i * (1 - g * g)
            da_o[:] = dh * tanh_c[t] * o * (1 - o)
            dc_next = dc * f
            dh_next = da[t] @ w_hh
        return self._accumulate(x, h[:-1], da)


def _blocks(array: Array, hidden: int) -> tuple[Array, Array, Array, Array]:
    """The four gate blocks (i, f, g, o) of a (B, 4H) array, as views."""
    return (
        array[:, :hidden],
        array[:, hidden : 2 * hidden],
        array[:, 2 * hidden : 3 * hidden],
        array[:, 3 * hidden :],
    )


class RNN(_Recurrent):
    """A one-layer Elman RNN, like ``torch.nn.RNN(input_size, hidden_size, nonlinearity)``.

    Parameters
    ----------
    input_size, hidden_size : int
    nonlinearity : {"tanh", "relu"}
    dtype : float32 or float64
    rng : int, Generator or None
        Seed of the initialisation, U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Attributes
    ----------
    params : dict
        ``weight_ih_l0`` (H, I), ``weight_hh_l0`` (H, H), ``bias_ih_l0`` (H,),
        ``bias_hh_l0`` (H,).

    Notes
    -----
    ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` from ``h_0 = 0``. Backward:
    ``da_t = (dout_t + da_{t+1} @ W_hh) * act'(a_t)`` with ``tanh' = 1 - h_t^2`` and
    ``relu' = [h_t > 0]``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        *,
        dtype: DTypeLike = np.float64,
        rng: RNGLike = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, 1, dtype, rng)
        self._cache: tuple[Array, Array] | None = None

    def _label_args(self) -> str:
        return f"{super()._label_args()}, {self.nonlinearity}"

    def forward(self, x: Array) -> Array:
        """(seq_len, batch, input_size) -> hidden states (seq_len, batch, hidden_size)."""
        x = self._check_sequence(x)
        steps, batch = x.shape[:2]
        w_hh_t = self.params["weight_hh_l0"].T  # (H, H)
        pre = self._input_projection(x)  # (T, B, H)
        h = np.zeros((steps + 1, batch, self.hidden_size), x.dtype)  # h[t + 1]: step t
        for t in range(steps):
            a = pre[t] + h[t] @ w_hh_t
            h[t + 1] = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        self._cache = (x, h)
        return h[1:].copy()

    def backward(self, grad: Array) -> Array:
        """(seq_len, batch, hidden_size) -> dx (seq_len, batch, input_size); fills ``grads``."""
        if self._cache is None:
            raise self._missing_forward()
        x, h = self._cache
        steps, batch = x.shape[:2]
        grad = self._check_grad(grad, (steps, batch, self.hidden_size), x.dtype)
        w_hh = self.params["weight_hh_l0"]
        da = np.empty_like(h[1:])  # (T, B, H)
        dh_next = np.zeros((batch, self.hidden_size), x.dtype)
        for t in reversed(range(steps)):
            out = h[t + 1]
            slope = 1 - out * out if self.nonlinearity == "tanh" else (out > 0).astype(x.dtype)
            da[t] = (grad[t] + dh_next) * slope
            dh_next = da[t] @ w_hh
        return self._accumulate(x, h[:-1], da)
