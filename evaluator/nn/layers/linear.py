"""The fully connected layer: ``y = x @ W.T + b``."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ..init import RNGLike, default_weight_and_bias, make_rng
from ..module import Array, Module, check_float_dtype


class Linear(Module):
    """Affine map over the last axis, like ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : float32 or float64
    rng : int, Generator or None
        Seed of PyTorch's default initialisation, U(-1/sqrt(in), 1/sqrt(in)).

    Attributes
    ----------
    params : ``weight`` of shape (out_features, in_features), ``bias`` of shape
        (out_features,).

    Notes
    -----
    Input ``(*, in_features)`` -> output ``(*, out_features)``;
    ``dx = dy @ W``, ``dW = dy.T @ x`` and ``db = dy.sum(0)`` over all leading axes.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float64,
        rng: RNGLike = None,
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        if self.in_features <= 0 or self.out_features <= 0:
            raise ValueError(f"{self.label()}: feature counts must be positive")
        float_dtype = check_float_dtype(dtype, self.label())
        weight = np.empty((self.out_features, self.in_features), float_dtype)
        bias_array = np.empty(self.out_features, float_dtype) if bias else None
        default_weight_and_bias(weight, bias_array, make_rng(rng))
        self._add_param("weight", weight)
        if bias_array is not None:
            self._add_param("bias", bias_array)
        self._x: Array | None = None

    def _label_args(self) -> str:
        return f"{self.in_features}->{self.out_features}"

    def forward(self, x: Array) -> Array:
        """(*, in_features) -> (*, out_features)."""
        x = self._check_input(x, ("*", self.in_features))
        self._x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, grad: Array) -> Array:
        """(*, out_features) -> (*, in_features); adds dW and db into ``grads``."""
        if self._x is None:
            raise self._missing_forward()
        x = self._x
        grad = self._check_grad(grad, (*x.shape[:-1], self.out_features), x.dtype)
        dy = grad.reshape(-1, self.out_features)  # (M, out)
        self.grads["weight"] += dy.T @ x.reshape(-1, self.in_features)
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=0)
        return grad @ self.params["weight"]
