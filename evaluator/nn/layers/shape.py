"""Flatten: merge a run of axes into one (the bridge from conv features to Linear)."""

from __future__ import annotations

import math

import numpy as np

from ..module import Array, Module


class Flatten(Module):
    """Merge axes ``start_dim .. end_dim`` into one, like ``torch.nn.Flatten``.

    (N, C, H, W) -> (N, C*H*W) with the defaults; backward reshapes the gradient back.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)
        self._cache: tuple[tuple[int, ...], tuple[int, ...], np.dtype] | None = None

    def _label_args(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x: Array) -> Array:
        x = self._check_input(x, ("*",))
        ndim = x.ndim
        start = self.start_dim % ndim if -ndim <= self.start_dim < ndim else None
        end = self.end_dim % ndim if -ndim <= self.end_dim < ndim else None
        if start is None or end is None or start > end:
            raise ValueError(
                f"{self.label()}: cannot flatten dims {self.start_dim}..{self.end_dim} of an "
                f"input with shape {x.shape}"
            )
        out_shape = (*x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])
        self._cache = (x.shape, out_shape, x.dtype)
        return x.reshape(out_shape)

    def backward(self, grad: Array) -> Array:
        if self._cache is None:
            raise self._missing_forward()
        in_shape, out_shape, dtype = self._cache
        grad = self._check_grad(grad, out_shape, dtype)
        return grad.reshape(in_shape)
