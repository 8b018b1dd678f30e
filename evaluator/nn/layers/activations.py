"""Activation functions, each with its local derivative beside it.

All keep the input's shape and floating dtype and are stable at large ``|x|``.
"""

from __future__ import annotations

import numpy as np

from ..functional import sigmoid, softmax
from ..module import Array, Module


class _Elementwise(Module):
    """Shape-preserving layer: checks the input, remembers what backward needs."""

    def __init__(self) -> None:
        super().__init__()
        self._saved: Array | None = None

    def forward(self, x: Array) -> Array:
        x = self._check_input(x, ("*",))
        y, self._saved = self._forward(x)
        return y

    def backward(self, grad: Array) -> Array:
        if self._saved is None:
            raise self._missing_forward()
        grad = self._check_grad(grad, self._saved.shape, self._saved.dtype)
        return self._backward(grad, self._saved)

    def _forward(self, x: Array) -> tuple[Array, Array]:
        """Return the output and the array ``_backward`` needs."""
        raise NotImplementedError

    def _backward(self, grad: Array, saved: Array) -> Array:
        raise NotImplementedError


class Identity(_Elementwise):
    """The linear (identity) activation: ``y = x``, ``dx = dy``."""

    def _forward(self, x: Array) -> tuple[Array, Array]:
        return x, x

    def _backward(self, grad: Array, saved: Array) -> Array:
        return grad


class Sigmoid(_Elementwise):
    """``y = 1 / (1 + exp(-x))``; ``dy/dx = y * (1 - y)`` (at most 1/4: it vanishes)."""

    def _forward(self, x: Array) -> tuple[Array, Array]:
        y = sigmoid(x)
        return y, y

    def _backward(self, grad: Array, saved: Array) -> Array:
        return grad * saved * (1 - saved)


class Tanh(_Elementwise):
    """``y = tanh(x)``; ``dy/dx = 1 - y**2``."""

    def _forward(self, x: Array) -> tuple[Array, Array]:
        y = np.tanh(x)
        return y, y

    def _backward(self, grad: Array, saved: Array) -> Array:
        return grad * (1 - saved * saved)


class ReLU(_Elementwise):
    """``y = max(x, 0)``; ``dy/dx = 1`` where ``x > 0`` else 0 (0 at ``x == 0``, as torch)."""

    def _forward(self, x: Array) -> tuple[Array, Array]:
        return np.maximum(x, 0), x

    def _backward(self, grad: Array, saved: Array) -> Array:
        return np.where(saved > 0, grad, 0)


class LeakyReLU(_Elementwise):
    """``y = x`` where ``x > 0`` else ``negative_slope * x``; slope 1 or ``negative_slope``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _label_args(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def _forward(self, x: Array) -> tuple[Array, Array]:
        return np.where(x > 0, x, x * self.negative_slope), x

    def _backward(self, grad: Array, saved: Array) -> Array:
        return np.where(saved > 0, grad, grad * self.negative_slope)


class ELU(_Elementwise):
    """``y = x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``; slope 1 or ``alpha*exp(x)``.

    ``expm1`` is evaluated at ``min(x, 0)`` only, so large positive ``x`` cannot overflow.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def _label_args(self) -> str:
        return f"alpha={self.alpha}"

    def _forward(self, x: Array) -> tuple[Array, Array]:
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))), x

    def _backward(self, grad: Array, saved: Array) -> Array:
        return np.where(saved > 0, grad, grad * self.alpha * np.exp(np.minimum(saved, 0)))


class Softmax(_Elementwise):
    """``y = exp(x) / sum(exp(x))`` along ``dim`` (the class axis of (N, C, ...) by default).

    Notes
    -----
    The maximum along ``dim`` is subtracted first, so no exponential overflows. The
    Jacobian-vector product is ``dx = y * (dy - sum(dy * y, dim))``.
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = int(dim)

    def _label_args(self) -> str:
        return f"dim={self.dim}"

    def _forward(self, x: Array) -> tuple[Array, Array]:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(
                f"{self.label()}: dim {self.dim} is out of range for input of shape {x.shape}"
            )
        y = softmax(x, self.dim)
        return y, y

    def _backward(self, grad: Array, saved: Array) -> Array:
        return saved * (grad - (grad * saved).sum(axis=self.dim, keepdims=True))
