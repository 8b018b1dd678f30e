"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from ..init import RNGLike, make_rng
from ..module import Array, Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training; identity in eval mode.

    Parameters
    ----------
    p : float in [0, 1]
        Drop probability.
    rng : int, Generator or None
        Source of the masks; a seed makes training reproducible.

    Notes
    -----
    Inverted scaling: kept elements are divided by ``1 - p`` during training, so the
    expected activation is unchanged and evaluation needs no rescaling. Backward applies
    the same mask and scale: ``dx = dy * mask / (1 - p)``. ``p = 1`` drops everything.
    """

    def __init__(self, p: float = 0.5, *, rng: RNGLike = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self._rng = make_rng(rng)
        # (shape, dtype, scale): scale is None when the layer passed its input through.
        self._cache: tuple[tuple[int, ...], np.dtype, Array | None] | None = None

    def _label_args(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Array) -> Array:
        """Any shape; the same shape and dtype back."""
        x = self._check_input(x, ("*",))
        if not self.training or self.p == 0.0:
            self._cache = (x.shape, x.dtype, None)
            return x
        if self.p == 1.0:
            scale = np.zeros(x.shape, dtype=x.dtype)
        else:
            keep = self._rng.random(x.shape) >= self.p
            scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self._cache = (x.shape, x.dtype, scale)
        return x * scale

    def backward(self, grad: Array) -> Array:
        """``dy * mask / (1 - p)`` with the mask of the last forward."""
        if self._cache is None:
            raise self._missing_forward()
        shape, dtype, scale = self._cache
        grad = self._check_grad(grad, shape, dtype)
        return grad if scale is None else grad * scale
