"""2-D convolution as im2col + matrix multiply, with a copy-free path for 1x1 kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from ..init import RNGLike, default_weight_and_bias, make_rng
from ..module import Array, Module, as_pair, check_float_dtype
from ._windows import col2im, im2col, output_size, pad2d, unpad2d

# im2col columns are built for a slice of the batch at a time, so the workspace stays
# near this many bytes whatever the batch size (the matrix products stay large).
WORKSPACE_BYTES = 64 * 2**20


class Conv2d(Module):
    """2-D cross-correlation over NCHW input, like ``torch.nn.Conv2d`` (groups=1).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or pair of ints
        Zero padding on each side.
    bias : bool
    dtype : float32 or float64
        Dtype of the parameters; the input must have the same.
    rng : int, Generator or None
        Seed of PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Attributes
    ----------
    params : ``weight`` of shape (out_channels, in_channels, kh, kw) and ``bias`` of shape
        (out_channels,).

    Notes
    -----
    ``y[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * xp[n, c, i*sh + a, j*sw + b]``
    with ``xp`` the zero-padded input, and::

        out_h = (H + 2*ph - kh) // sh + 1
        out_w = (W + 2*pw - kw) // sw + 1

    The windows are copied into columns ``(C*kh*kw, out_h*out_w)`` per image and the
    weight ``(O, C*kh*kw)`` multiplies them (one BLAS call per image). Backward rebuilds
    the columns instead of keeping them (memory over time):
    ``dW = sum_n dy_n @ col_n.T``, ``dcol_n = W.T @ dy_n``, and col2im adds ``dcol`` back.
    A 1x1 kernel without padding needs no columns at all: ``y_n = W @ x_n``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float64,
        rng: RNGLike = None,
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        label = self.label()
        if self.in_channels <= 0 or self.out_channels <= 0:
            raise ValueError(f"{label}: channel counts must be positive")
        self.kernel_size = as_pair(kernel_size, "kernel_size", label)
        self.stride = as_pair(stride, "stride", label)
        self.padding = as_pair(padding, "padding", label)
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"{label}: kernel_size and stride must be >= 1 and padding >= 0, got "
                f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
            )
        float_dtype = check_float_dtype(dtype, label)
        weight = np.empty((self.out_channels, self.in_channels, *self.kernel_size), float_dtype)
        bias_array = np.empty(self.out_channels, float_dtype) if bias else None
        default_weight_and_bias(weight, bias_array, make_rng(rng))
        self._add_param("weight", weight)
        if bias_array is not None:
            self._add_param("bias", bias_array)
        self._cache: tuple[Array, tuple[int, ...], tuple[int, int]] | None = None

    def _label_args(self) -> str:
        return f"{self.in_channels}->{self.out_channels}"

    def _repr_args(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={'bias' in self.params}"
        )

    @property
    def _pointwise(self) -> bool:
        return self.kernel_size == (1, 1) and self.padding == (0, 0)

    def forward(self, x: Array) -> Array:
        """Convolve ``x`` of shape (N, C_in, H, W) into (N, C_out, out_h, out_w)."""
        x = self._check_input(x, ("N", self.in_channels, "H", "W"))
        n, _, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out = (output_size(h, kh, sh, ph), output_size(w, kw, sw, pw))
        if min(out) <= 0:
            raise ValueError(
                f"{self.label()}: input {h}x{w} with padding {ph}x{pw} is smaller than the "
                f"kernel {kh}x{kw}"
            )
        weight = self.params["weight"].reshape(self.out_channels, -1)  # (O, C*kh*kw)
        if self._pointwise:
            # 1x1: the input itself is the column matrix (after striding).
            xs = x if (sh, sw) == (1, 1) else x[:, :, ::sh, ::sw]
            cols = np.ascontiguousarray(xs).reshape(n, self.in_channels, -1)  # (N, C, P)
            y = np.matmul(weight, cols)  # (N, O, P)
            self._cache = (cols, x.shape, out)
        else:
            xp = pad2d(x, self.padding)
            y = np.empty((n, self.out_channels, out[0] * out[1]), dtype=x.dtype)
            for start, stop in self._chunks(n, out):
                y[start:stop] = np.matmul(
                    weight, im2col(xp[start:stop], self.kernel_size, self.stride, out)
                )
            self._cache = (xp, x.shape, out)
        if "bias" in self.params:
            y += self.params["bias"][:, None]
        return y.reshape(n, self.out_channels, *out)

    def backward(self, grad: Array) -> Array:
        """Gradient of the input, (N, C_in, H, W); adds dW and db into ``grads``."""
        if self._cache is None:
            raise self._missing_forward()
        saved, in_shape, out = self._cache
        n = in_shape[0]
        grad = self._check_grad(grad, (n, self.out_channels, *out), saved.dtype)
        dy = grad.reshape(n, self.out_channels, -1)  # (N, O, P)
        weight = self.params["weight"].reshape(self.out_channels, -1)  # (O, K)
        dweight = self.grads["weight"].reshape(self.out_channels, -1)  # view, (O, K)
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=(0, 2))
        if self._pointwise:
            dweight += np.matmul(dy, saved.transpose(0, 2, 1)).sum(axis=0)
            dcols = np.matmul(weight.T, dy)  # (N, C, P)
            if self.stride == (1, 1):
                return dcols.reshape(in_shape)
            dx = np.zeros(in_shape, dtype=saved.dtype)
            dx[:, :, :: self.stride[0], :: self.stride[1]] = dcols.reshape(
                n, self.in_channels, *out
            )
            return dx
        dxp = np.empty_like(saved)
        kh, kw = self.kernel_size
        for start, stop in self._chunks(n, out):
            cols = im2col(saved[start:stop], self.kernel_size, self.stride, out)  # (n, K, P)
            dweight += np.matmul(dy[start:stop], cols.transpose(0, 2, 1)).sum(axis=0)
            dcols = np.matmul(weight.T, dy[start:stop])  # (n, K, P)
            dwin = dcols.reshape(stop - start, self.in_channels, kh, kw, *out)
            dxp[start:stop] = col2im(dwin, (stop - start, *saved.shape[1:]), self.stride)
        return np.ascontiguousarray(unpad2d(dxp, self.padding, in_shape[2:]))

    def _chunks(self, n: int, out: tuple[int, int]) -> list[tuple[int, int]]:
        """Batch slices whose im2col columns fit in about WORKSPACE_BYTES."""
        per_image = (
            self.in_channels
            * self.kernel_size[0]
            * self.kernel_size[1]
            * out[0]
            * out[1]
            * self.params["weight"].itemsize
        )
        step = max(1, WORKSPACE_BYTES // per_image)
        return [(start, min(start + step, n)) for start in range(0, n, step)]
