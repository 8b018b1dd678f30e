"""Upsampling: make a small feature map larger by interpolation (nearest or bilinear)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..module import Array, Module, as_pair

_MODES = ("nearest", "bilinear")


class Upsample(Module):
    """Resize the H and W axes of NCHW input, like ``torch.nn.Upsample``.

    Parameters
    ----------
    size : int or pair of ints, optional
        Output ``(out_h, out_w)``. Give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or pair of floats, optional
        ``out = floor(in * scale_factor)``.
    mode : {"nearest", "bilinear"}
    align_corners : bool, optional
        Bilinear only (default False, as PyTorch's default).

    Notes
    -----
    Each axis is resampled by a matrix ``M`` of shape (out, in), so
    ``y[n, c] = M_h @ x[n, c] @ M_w.T`` and backward is ``dx = M_h.T @ dy @ M_w``. For
    output index ``d``, with ``s = 1/scale_factor`` when a scale factor is given and
    ``in/out`` otherwise (PyTorch's convention):

    * nearest: source ``min(floor(d * s), in - 1)``;
    * bilinear, ``align_corners=False``: source ``max((d + 0.5) * s - 0.5, 0)``, split
      between its floor and the next pixel by the fractional part;
    * bilinear, ``align_corners=True``: source ``d * (in - 1) / (out - 1)``.

    An integer scale factor in nearest mode takes a faster path (``np.repeat``).
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _MODES:
            raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{name}: give exactly one of size and scale_factor")
        if mode == "nearest" and align_corners is not None:
            raise ValueError(f"{name}: align_corners applies to bilinear mode only")
        self.mode = mode
        self.align_corners = bool(align_corners)
        self.size = None if size is None else as_pair(size, "size", name)
        self.scale_factor: tuple[float, float] | None = None
        if scale_factor is not None:
            pair = (
                (scale_factor, scale_factor)
                if isinstance(scale_factor, (int, float))
                else tuple(scale_factor)
            )
            if len(pair) != 2 or min(pair) <= 0:
                raise ValueError(f"{name}: scale_factor must be positive, got {scale_factor!r}")
            self.scale_factor = (float(pair[0]), float(pair[1]))
        # (M_h, M_w, input shape, dtype); the matrices are None on the repeat path.
        self._cache: tuple[Array | None, Array | None, tuple[int, ...], np.dtype] | None = None

    def _label_args(self) -> str:
        what = f"size={self.size}" if self.size else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"

    def _output_size(self, h: int, w: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        assert self.scale_factor is not None  # set whenever size is None
        return math.floor(h * self.scale_factor[0]), math.floor(w * self.scale_factor[1])

    def _matrix(self, n_in: int, n_out: int, axis: int, dtype: np.dtype) -> Array:
        """Interpolation matrix of shape (n_out, n_in) for one axis."""
        dst = np.arange(n_out, dtype=np.float64)
        # PyTorch's convention: the given scale factor, else the size ratio.
        scale = n_in / n_out if self.scale_factor is None else 1.0 / self.scale_factor[axis]
        matrix = np.zeros((n_out, n_in), dtype=np.float64)
        rows = np.arange(n_out)
        if self.mode == "nearest":
            src = np.minimum(np.floor(dst * scale).astype(np.int64), n_in - 1)
            matrix[rows, src] = 1.0
            return matrix.astype(dtype)
        if self.align_corners:
            src_f = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            src_f = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
        low = np.minimum(np.floor(src_f).astype(np.int64), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        frac = src_f - low
        np.add.at(matrix, (rows, low), 1.0 - frac)
        np.add.at(matrix, (rows, high), frac)
        return matrix.astype(dtype)

    def _integer_factor(self) -> tuple[int, int] | None:
        """Repeat counts when nearest mode with whole-number scale factors, else None."""
        if self.mode != "nearest" or self.scale_factor is None:
            return None
        fh, fw = self.scale_factor
        return (int(fh), int(fw)) if fh.is_integer() and fw.is_integer() else None

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> (N, C, out_h, out_w)."""
        x = self._check_input(x, ("N", "C", "H", "W"))
        h, w = x.shape[2:]
        out = self._output_size(h, w)
        if min(out) < 1:
            raise ValueError(f"{self.label()}: input {h}x{w} gives an empty output {out}")
        factor = self._integer_factor()
        if factor is not None:
            self._cache = (None, None, x.shape, x.dtype)
            return x.repeat(factor[0], axis=2).repeat(factor[1], axis=3)
        mh = self._matrix(h, out[0], 0, x.dtype)  # (out_h, H)
        mw = self._matrix(w, out[1], 1, x.dtype)  # (out_w, W)
        self._cache = (mh, mw, x.shape, x.dtype)
        return np.einsum("ih,nchw,jw->ncij", mh, x, mw, optimize=True)

    def backward(self, grad: Array) -> Array:
        """(N, C, out_h, out_w) -> (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_forward()
        mh, mw, in_shape, dtype = self._cache
        n, c, h, w = in_shape
        grad = self._check_grad(grad, (n, c, *self._output_size(h, w)), dtype)
        if mh is None or mw is None:
            # Repeat path: each input pixel was copied into an (fh, fw) block; sum it.
            fh, fw = grad.shape[2] // h, grad.shape[3] // w
            return grad.reshape(n, c, h, fh, w, fw).sum(axis=(3, 5))
        return np.einsum("ih,ncij,jw->nchw", mh, grad, mw, optimize=True)
