"""Joining two branches: channel concatenation versus residual addition.

The notes contrast them: concatenating two 8x8x16 maps gives an 8x8x32 map (the
channels stack, as in DenseNet or a YOLO neck), while a residual connection adds maps of
the *same* shape element by element (ResNet), so the gradient reaches both branches
unchanged.
"""

from __future__ import annotations

import numpy as np

from ..module import Array, Module


def _check_branches(layer: Module, inputs: tuple[Array, ...]) -> tuple[Array, ...]:
    if len(inputs) < 2:
        raise ValueError(f"{layer.label()}: expected at least 2 inputs, got {len(inputs)}")
    arrays = tuple(layer._check_input(x, ("*",), what=f"input {i}") for i, x in enumerate(inputs))
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(
            f"{layer.label()}: inputs must share one dtype, got {[str(a.dtype) for a in arrays]}"
        )
    return arrays


class Concat(Module):
    """Concatenate inputs along ``dim`` (channels of NCHW by default), like ``torch.cat``.

    ``forward(a, b, ...)`` with shapes equal except along ``dim``; ``backward(dy)``
    returns one gradient per input (slices of ``dy``).
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = int(dim)
        self._cache: tuple[list[int], tuple[int, ...], np.dtype] | None = None

    def _label_args(self) -> str:
        return f"dim={self.dim}"

    def forward(self, *inputs: Array) -> Array:
        arrays = _check_branches(self, inputs)
        first = arrays[0]
        if not -first.ndim <= self.dim < first.ndim:
            raise ValueError(f"{self.label()}: dim out of range for input 0 of shape {first.shape}")
        dim = self.dim % first.ndim
        outside = first.shape[:dim] + first.shape[dim + 1 :]  # must match in every input
        for i, a in enumerate(arrays[1:], start=1):
            if a.ndim != first.ndim or a.shape[:dim] + a.shape[dim + 1 :] != outside:
                raise ValueError(
                    f"{self.label()}: input {i} has shape {a.shape}, which does not match "
                    f"input 0 {first.shape} outside dim {self.dim}"
                )
        y = np.concatenate(arrays, axis=dim)
        self._cache = ([a.shape[dim] for a in arrays], y.shape, y.dtype)
        return y

    def backward(self, grad: Array) -> tuple[Array, ...]:
        if self._cache is None:
            raise self._missing_forward()
        sizes, shape, dtype = self._cache
        grad = self._check_grad(grad, shape, dtype)
        bounds = np.cumsum(sizes)[:-1]
        return tuple(np.split(grad, bounds, axis=self.dim % grad.ndim))


class Add(Module):
    """Element-wise sum of inputs of one shape: the residual connection ``y = x + F(x)``.

    ``backward(dy)`` returns ``dy`` for every input: addition passes the gradient on
    unchanged, which is why residual networks train deep.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple[int, tuple[int, ...], np.dtype] | None = None

    def forward(self, *inputs: Array) -> Array:
        arrays = _check_branches(self, inputs)
        for i, a in enumerate(arrays[1:], start=1):
            if a.shape != arrays[0].shape:
                raise ValueError(
                    f"{self.label()}: input {i} has shape {a.shape}, input 0 has "
                    f"{arrays[0].shape}; a residual Add needs equal shapes"
                )
        y = arrays[0] + arrays[1]
        for a in arrays[2:]:
            y += a
        self._cache = (len(arrays), y.shape, y.dtype)
        return y

    def backward(self, grad: Array) -> tuple[Array, ...]:
        if self._cache is None:
            raise self._missing_forward()
        count, shape, dtype = self._cache
        grad = self._check_grad(grad, shape, dtype)
        return (grad,) + tuple(grad.copy() for _ in range(count - 1))
