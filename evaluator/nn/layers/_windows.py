"""Sliding windows over NCHW arrays: padding, im2col views and their adjoint (col2im).

Shared by Conv2d and the pooling layers. These kernels trust their input: the layers
validate shapes once, at their boundary.

Notes
-----
With kernel ``(kh, kw)``, stride ``(sh, sw)`` and zero padding ``(ph, pw)``::

    out_h = (H + 2*ph - kh) // sh + 1
    out_w = (W + 2*pw - kw) // sw + 1

Window ``(i, j)`` of the padded input covers rows ``i*sh .. i*sh + kh - 1`` and columns
``j*sw .. j*sw + kw - 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..module import Array


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``(size + 2*padding - kernel) // stride + 1``; may be <= 0 for too small an input."""
    return (size + 2 * padding - kernel) // stride + 1


def pad2d(x: Array, padding: tuple[int, int], value: float = 0.0) -> Array:
    """Pad the last two axes of ``x`` (N, C, H, W) by ``padding = (ph, pw)`` on each side."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    out = np.full(
        (x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), value, dtype=x.dtype
    )
    out[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return out


def unpad2d(xp: Array, padding: tuple[int, int], size: tuple[int, ...]) -> Array:
    """The ``(H, W) = size`` interior of a padded array, as a view."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return xp
    return xp[:, :, ph : ph + size[0], pw : pw + size[1]]


def windows(
    xp: Array, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]
) -> Array:
    """Read-only strided view of every window of a padded input.

    Parameters
    ----------
    xp : ndarray of shape (N, C, Hp, Wp)
        The already padded input.
    kernel, stride, out : pairs of ints
        ``(kh, kw)``, ``(sh, sw)`` and the output size ``(out_h, out_w)``.

    Returns
    -------
    view : ndarray of shape (N, C, kh, kw, out_h, out_w)
        ``view[n, c, a, b, i, j] == xp[n, c, i*sh + a, j*sw + b]``; no data is copied.
    """
    kh, kw = kernel
    sh, sw = stride
    oh, ow = out
    view = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (N, C, Hp-kh+1, Wp-kw+1, kh, kw)
    view = view[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]  # (N, C, oh, ow, ..)
    return view.transpose(0, 1, 4, 5, 2, 3)


def im2col(
    xp: Array, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]
) -> Array:
    """Copy the windows of a batch into one column matrix, ready for a matrix product.

    Returns
    -------
    col : ndarray of shape (C*kh*kw, N*out_h*out_w)
        Row ``c*kh*kw + a*kw + b`` matches the flattened weight ``(O, C, kh, kw)``;
        column ``n*out_h*out_w + i*out_w + j`` is window ``(i, j)`` of image ``n``.
        One matrix product then covers the whole batch, which keeps BLAS efficient
        even when a single image has few output positions.
    """
    n, c = xp.shape[:2]
    view = windows(xp, kernel, stride, out).transpose(1, 2, 3, 0, 4, 5)  # (C, kh, kw, N, ..)
    return np.ascontiguousarray(view).reshape(c * kernel[0] * kernel[1], n * out[0] * out[1])


def col2im(dwin: Array, padded_shape: tuple[int, ...], stride: tuple[int, int]) -> Array:
    """Adjoint of :func:`windows`: add every window's gradient back to its input pixels.

    Parameters
    ----------
    dwin : ndarray of shape (N, C, kh, kw, out_h, out_w)
    padded_shape : tuple (N, C, Hp, Wp)

    Returns
    -------
    dxp : ndarray of shape (N, C, Hp, Wp)
        Gradient with respect to the padded input; overlapping windows add up.
    """
    _, _, kh, kw, oh, ow = dwin.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dwin.dtype)
    # One strided add per kernel offset: kh*kw vectorised passes, no np.add.at.
    for a in range(kh):
        for b in range(kw):
            dxp[:, :, a : a + (oh - 1) * sh + 1 : sh, b : b + (ow - 1) * sw + 1 : sw] += dwin[
                :, :, a, b
            ]
    return dxp
