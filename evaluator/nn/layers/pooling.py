"""Pooling over NCHW input: max, average, adaptive average and global average.

Notes
-----
Max and average pooling slide a ``(kh, kw)`` window with stride ``(sh, sw)`` (the kernel
size by default) over the input padded by ``(ph, pw)``::

    out_h = (H + 2*ph - kh) // sh + 1
    out_w = (W + 2*pw - kw) // sw + 1

Both loop over the ``kh*kw`` kernel offsets, each a vectorised strided slice, so no
window array is ever copied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..module import Array, Module, as_pair
from ._windows import output_size, pad2d, unpad2d


class _Pool2d(Module):
    """Kernel, stride and padding handling shared by max and average pooling."""

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None,
        padding: int | Sequence[int],
    ) -> None:
        super().__init__()
        label = type(self).__name__
        self.kernel_size = as_pair(kernel_size, "kernel_size", label)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", label)
        self.padding = as_pair(padding, "padding", label)
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"{label}: kernel_size and stride must be >= 1 and padding >= 0, got "
                f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
            )
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{label}: padding {self.padding} must be at most half the kernel "
                f"{self.kernel_size}"
            )

    def _label_args(self) -> str:
        k = self.kernel_size
        return str(k[0]) if k[0] == k[1] else f"{k[0]}x{k[1]}"

    def _repr_args(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _geometry(self, x: Array) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = x.shape[2:]
        out = (output_size(h, kh, sh, ph), output_size(w, kw, sw, pw))
        if min(out) <= 0:
            raise ValueError(
                f"{self.label()}: input {h}x{w} with padding {ph}x{pw} is smaller than the "
                f"kernel {kh}x{kw}"
            )
        return out

    def _offsets(self, out: tuple[int, int]) -> list[tuple[int, slice, slice]]:
        """``(k, rows, cols)`` per kernel offset: the padded-input slice it reads."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return [
            (
                a * kw + b,
                slice(a, a + (out[0] - 1) * sh + 1, sh),
                slice(b, b + (out[1] - 1) * sw + 1, sw),
            )
            for a in range(kh)
            for b in range(kw)
        ]


class MaxPool2d(_Pool2d):
    """Maximum over each window, like ``torch.nn.MaxPool2d``.

    Parameters
    ----------
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        Defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or pair of ints
        Implicit ``-inf`` padding on each side, at most half the kernel.

    Notes
    -----
    Ties go to the first maximum in row-major window order, as in PyTorch, and a NaN in
    a window makes its output NaN; backward sends each output gradient to that single
    input position.
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self._cache: tuple[NDArray[np.int32], tuple[int, ...], tuple[int, ...], np.dtype] | None
        self._cache = None

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> (N, C, out_h, out_w)."""
        x = self._check_input(x, ("N", "C", "H", "W"))
        out = self._geometry(x)
        xp = pad2d(x, self.padding, value=-np.inf)
        offsets = self._offsets(out)
        _, rows, cols = offsets[0]
        y = xp[:, :, rows, cols].copy()  # (N, C, out_h, out_w), the first offset
        argmax = np.zeros(y.shape, dtype=np.int32)
        take = np.empty(y.shape, dtype=bool)
        for k, rows, cols in offsets[1:]:
            window = xp[:, :, rows, cols]
            np.greater(window, y, out=take)  # strict: ties keep the earlier offset
            np.maximum(y, window, out=y)  # propagates NaN
            np.copyto(argmax, k, where=take)
        self._cache = (argmax, x.shape, xp.shape, x.dtype)
        return y

    def backward(self, grad: Array) -> Array:
        """Route each output gradient to its window's maximum; (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_forward()
        argmax, in_shape, padded_shape, dtype = self._cache
        grad = self._check_grad(grad, argmax.shape, dtype)
        dxp = np.zeros(padded_shape, dtype=dtype)
        for k, rows, cols in self._offsets(argmax.shape[2:]):
            dxp[:, :, rows, cols] += np.where(argmax == k, grad, 0)
        return np.ascontiguousarray(unpad2d(dxp, self.padding, in_shape[2:]))


class AvgPool2d(_Pool2d):
    """Mean over each window, like ``torch.nn.AvgPool2d``.

    Parameters
    ----------
    kernel_size, stride, padding : as for :class:`MaxPool2d`, with zero padding.
    count_include_pad : bool
        Divide by ``kh*kw`` (True, PyTorch's default) or by the number of window cells
        inside the unpadded input.
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad
        self._cache: tuple[Array, tuple[int, ...], tuple[int, ...]] | None = None

    def _divisor(self, in_size: tuple[int, int], out: tuple[int, int], dtype: np.dtype) -> Array:
        """Per-output-cell divisor, shape (out_h, out_w)."""
        if self.count_include_pad:
            return np.full(out, self.kernel_size[0] * self.kernel_size[1], dtype=dtype)
        counts = []
        for size, n_out, k, s, p in zip(
            in_size, out, self.kernel_size, self.stride, self.padding, strict=True
        ):
            start = np.arange(n_out) * s - p  # first input index of each window
            counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
        return np.outer(counts[0], counts[1]).astype(dtype)

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> (N, C, out_h, out_w)."""
        x = self._check_input(x, ("N", "C", "H", "W"))
        out = self._geometry(x)
        xp = pad2d(x, self.padding)
        total = np.zeros((*x.shape[:2], *out), dtype=x.dtype)
        for _, rows, cols in self._offsets(out):
            total += xp[:, :, rows, cols]
        divisor = self._divisor(x.shape[2:], out, x.dtype)
        self._cache = (divisor, x.shape, xp.shape)
        return total / divisor

    def backward(self, grad: Array) -> Array:
        """Spread each output gradient evenly over its window; (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_forward()
        divisor, in_shape, padded_shape = self._cache
        grad = self._check_grad(grad, (*in_shape[:2], *divisor.shape), divisor.dtype)
        share = grad / divisor
        dxp = np.zeros(padded_shape, dtype=grad.dtype)
        for _, rows, cols in self._offsets(divisor.shape):
            dxp[:, :, rows, cols] += share
        return np.ascontiguousarray(unpad2d(dxp, self.padding, in_shape[2:]))


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, like ``torch.nn.AdaptiveAvgPool2d``.

    Parameters
    ----------
    output_size : int or pair of ints
        ``(out_h, out_w)``.

    Notes
    -----
    Output row ``i`` averages input rows ``floor(i*H/out_h)`` to
    ``ceil((i+1)*H/out_h) - 1`` (windows may overlap when ``H`` is not a multiple of
    ``out_h``); likewise for columns. The pooling is the product ``P_h @ x @ P_w.T`` with
    averaging matrices ``P_h`` of shape (out_h, H) and ``P_w`` of shape (out_w, W).
    """

    def __init__(self, output_size: int | Sequence[int]) -> None:
        super().__init__()
        self.output_size = as_pair(output_size, "output_size", type(self).__name__)
        if min(self.output_size) < 1:
            raise ValueError(f"{type(self).__name__}: output_size must be >= 1")
        self._cache: tuple[Array, Array, tuple[int, ...]] | None = None

    def _label_args(self) -> str:
        return str(self.output_size)

    @staticmethod
    def _matrix(size: int, n_out: int, dtype: np.dtype) -> Array:
        """Averaging matrix of shape (n_out, size)."""
        index = np.arange(n_out)
        start = (index * size) // n_out
        stop = -((-(index + 1) * size) // n_out)  # ceil((i + 1) * size / n_out)
        cells = np.arange(size)
        inside = (cells >= start[:, None]) & (cells < stop[:, None])  # (n_out, size)
        return (inside / (stop - start)[:, None]).astype(dtype)

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> (N, C, out_h, out_w)."""
        x = self._check_input(x, ("N", "C", "H", "W"))
        ph = self._matrix(x.shape[2], self.output_size[0], x.dtype)  # (out_h, H)
        pw = self._matrix(x.shape[3], self.output_size[1], x.dtype)  # (out_w, W)
        self._cache = (ph, pw, x.shape)
        return np.einsum("ih,nchw,jw->ncij", ph, x, pw, optimize=True)

    def backward(self, grad: Array) -> Array:
        """(N, C, out_h, out_w) -> (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_forward()
        ph, pw, in_shape = self._cache
        grad = self._check_grad(grad, (*in_shape[:2], *self.output_size), ph.dtype)
        return np.einsum("ih,ncij,jw->nchw", ph, grad, pw, optimize=True)


class GlobalAvgPool2d(Module):
    """Mean over all spatial positions: (N, C, H, W) -> (N, C, 1, 1).

    The same as ``torch.nn.AdaptiveAvgPool2d(1)``; follow it with :class:`Flatten` to
    feed a Linear classifier.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple[tuple[int, ...], np.dtype] | None = None

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> (N, C, 1, 1)."""
        x = self._check_input(x, ("N", "C", "H", "W"))
        self._cache = (x.shape, x.dtype)
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, grad: Array) -> Array:
        """(N, C, 1, 1) -> (N, C, H, W), each position getting ``grad / (H*W)``."""
        if self._cache is None:
            raise self._missing_forward()
        in_shape, dtype = self._cache
        n, c, h, w = in_shape
        grad = self._check_grad(grad, (n, c, 1, 1), dtype)
        return np.broadcast_to(grad / (h * w), in_shape).copy()
