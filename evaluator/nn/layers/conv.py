"""2-D convolution as im2col + matrix multiply, with a fast path for 1x1 kernels."""

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

    The windows of a slice of the batch are copied into columns
    ``(C*kh*kw, n*out_h*out_w)`` and the weight ``(O, C*kh*kw)`` multiplies them in one
    BLAS call; slices keep the column buffer near ``WORKSPACE_BYTES``. Backward rebuilds
    the columns rather than keeping them (time for memory): ``dW = dY @ col.T``. For
    stride 1 the input gradient is a correlation of the padded ``dy`` with the flipped
    kernel, ``dx = corr(pad(dy, k - 1 - p), flip(W).swap(O, C))``, again im2col plus one
    product; other strides use ``dcol = W.T @ dY`` and col2im's scatter-add. A 1x1
    kernel without padding skips im2col: the (strided) input is the column matrix.
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
            xs = x if (sh, sw) == (1, 1) else x[:, :, ::sh, ::sw]  # (N, C, out_h, out_w)
            cols = _channels_first(xs)  # (C, N*P): the input is the column matrix
            y = _batch_first(weight @ cols, n)  # (N, O, P)
            self._cache = (cols, x.shape, out)
        else:
            xp = pad2d(x, self.padding)
            y = correlate(xp, weight, self.kernel_size, self.stride, out)  # (N, O, P)
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
        weight = self.params["weight"].reshape(self.out_channels, -1)  # (O, K)
        dweight = self.grads["weight"].reshape(self.out_channels, -1)  # view, (O, K)
        if "bias" in self.params:
            self.grads["bias"] += grad.sum(axis=(0, 2, 3))
        if self._pointwise:
            dy = _channels_first(grad)  # (O, N*P)
            dweight += (saved @ dy.T).T
            dxs = _batch_first(weight.T @ dy, n).reshape(n, self.in_channels, *out)
            if self.stride == (1, 1):
                return dxs
            dx = np.zeros(in_shape, dtype=saved.dtype)
            dx[:, :, :: self.stride[0], :: self.stride[1]] = dxs
            return dx
        step = _chunk_size(weight.shape[1] * out[0] * out[1] * saved.itemsize)
        # dW = dY @ col.T is computed as (col @ dY.T).T: the same product, but OpenBLAS
        # threads the (K, N*P) @ (N*P, O) form well and the (O, N*P) @ (N*P, K) form
        # badly (4-5x slower with 2 threads in bench_conv.py).
        for start in range(0, n, step):
            cols = im2col(saved[start : start + step], self.kernel_size, self.stride, out)
            dweight += (cols @ _channels_first(grad[start : start + step]).T).T
        kh, kw = self.kernel_size
        flip_pad = (kh - 1 - self.padding[0], kw - 1 - self.padding[1])
        if self.stride == (1, 1) and min(flip_pad) >= 0:
            # dx[n, c] = sum_o corr(pad(dy[n, o], k - 1 - p), W[o, c, ::-1, ::-1]):
            # im2col and one product again, with no scatter-add.
            flipped = self.params["weight"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            dx = correlate(
                pad2d(grad, flip_pad),
                flipped.reshape(self.in_channels, -1),  # (C, O*kh*kw)
                self.kernel_size,
                (1, 1),
                in_shape[2:],
            )
            return dx.reshape(in_shape)
        dxp = np.empty_like(saved)
        for start in range(0, n, step):
            chunk = grad[start : start + step]
            dcols = weight.T @ _channels_first(chunk)  # (K, n*P)
            dwin = dcols.reshape(self.in_channels, kh, kw, chunk.shape[0], *out)
            dxp[start : start + step] = col2im(
                dwin.transpose(3, 0, 1, 2, 4, 5),  # (n, C, kh, kw, out_h, out_w)
                (chunk.shape[0], *saved.shape[1:]),
                self.stride,
            )
        return np.ascontiguousarray(unpad2d(dxp, self.padding, in_shape[2:]))


def _chunk_size(bytes_per_image: int) -> int:
    """Images per batch slice so that the im2col columns fit in about WORKSPACE_BYTES."""
    return max(1, WORKSPACE_BYTES // bytes_per_image)


def _channels_first(x: Array) -> Array:
    """(N, C, H, W) -> contiguous (C, N*H*W)."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(x.shape[1], -1)


def _batch_first(y: Array, n: int) -> Array:
    """(O, N*P) -> contiguous (N, O, P)."""
    return np.ascontiguousarray(y.reshape(y.shape[0], n, -1).transpose(1, 0, 2))


def correlate(
    xp: Array,
    weight: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out: tuple[int, ...],
) -> Array:
    """Cross-correlate a padded batch with a flattened kernel, a batch slice at a time.

    Parameters
    ----------
    xp : ndarray of shape (N, C, Hp, Wp)
    weight : ndarray of shape (O, C*kh*kw)
    kernel, stride, out : pairs of ints

    Returns
    -------
    ndarray of shape (N, O, out_h*out_w)
    """
    n = xp.shape[0]
    out2 = (out[0], out[1])
    y = np.empty((n, weight.shape[0], out2[0] * out2[1]), dtype=xp.dtype)
    step = _chunk_size(weight.shape[1] * out2[0] * out2[1] * xp.itemsize)
    for start in range(0, n, step):
        chunk = xp[start : start + step]
        y[start : start + step] = _batch_first(
            weight @ im2col(chunk, kernel, stride, out2), chunk.shape[0]
        )
    return y
