"""Normalisation layers: BatchNorm, LayerNorm, GroupNorm and InstanceNorm.

They differ only in *which* axes the mean and variance are taken over:

=================  ==============================  =============================
layer              statistics over                 one (mean, var) per
=================  ==============================  =============================
BatchNorm2d        N, H, W                         channel
LayerNorm          the last ``len(shape)`` axes    sample (and leading position)
GroupNorm          C/G channels, H, W              sample and group of channels
InstanceNorm2d     H, W                            sample and channel
=================  ==============================  =============================

Notes
-----
With ``xhat = (x - mean) / sqrt(var + eps)`` (biased variance) over ``m`` elements,
backward is ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)``,
the means taken over the same axes. The affine part is ``y = weight * xhat + bias``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from ..module import Array, Module, check_float_dtype


def normalize(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array]:
    """``(xhat, inv_std)``: ``x`` standardised over ``axes``; ``inv_std`` keeps dims."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centred * inv_std, inv_std


def normalize_backward(dxhat: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...]) -> Array:
    """Gradient of the input of :func:`normalize` given the gradient of ``xhat``."""
    mean_d = dxhat.mean(axis=axes, keepdims=True)
    mean_dx = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return (dxhat - mean_d - xhat * mean_dx) * inv_std


class _Affine(Module):
    """Optional per-feature ``weight`` (ones) and ``bias`` (zeros) of a given shape."""

    def _init_affine(
        self, shape: tuple[int, ...], affine: bool, dtype: DTypeLike, with_bias: bool = True
    ) -> np.dtype:
        float_dtype = check_float_dtype(dtype, self.label())
        if affine:
            self._add_param("weight", np.ones(shape, float_dtype))
            if with_bias:
                self._add_param("bias", np.zeros(shape, float_dtype))
        return float_dtype

    def _apply_affine(self, xhat: Array, view: tuple[int, ...]) -> Array:
        y = xhat
        if "weight" in self.params:
            y = y * self.params["weight"].reshape(view)
        if "bias" in self.params:
            y = y + self.params["bias"].reshape(view)
        return y

    def _affine_backward(
        self, grad: Array, xhat: Array, view: tuple[int, ...], reduce: tuple[int, ...]
    ) -> Array:
        """Accumulate dweight/dbias (summed over ``reduce``); return ``dxhat``."""
        if "bias" in self.params:
            self.grads["bias"] += grad.sum(axis=reduce).reshape(self.grads["bias"].shape)
        if "weight" not in self.params:
            return grad
        self.grads["weight"] += (grad * xhat).sum(axis=reduce).reshape(self.grads["weight"].shape)
        return grad * self.params["weight"].reshape(view)


class _BatchNorm(_Affine):
    """Per-channel batch statistics in training, running statistics in evaluation."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        float_dtype = self._init_affine((self.num_features,), affine, dtype)
        self.running_mean = np.zeros(self.num_features, float_dtype)
        self.running_var = np.ones(self.num_features, float_dtype)
        self.num_batches_tracked = 0
        self._cache: tuple[Array, Array, tuple[int, ...], bool] | None = None

    def _label_args(self) -> str:
        return str(self.num_features)

    def _convert_buffers(self, dtype: np.dtype) -> None:
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)

    def _input_patterns(self) -> tuple[tuple[int | str, ...], ...]:
        """Accepted input shapes; the subclasses say which."""
        raise NotImplementedError

    def _check(self, x: Array) -> Array:
        array = np.asarray(x)
        patterns = self._input_patterns()
        pattern = next((p for p in patterns if len(p) == array.ndim), patterns[-1])
        return self._check_input(array, pattern)

    def forward(self, x: Array) -> Array:
        """Normalise each channel of (N, C, ...); see the class for the modes."""
        x = self._check(x)
        axes = (0, *range(2, x.ndim))  # every axis except the channel axis
        view = (1, self.num_features) + (1,) * (x.ndim - 2)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = x.size // self.num_features
            if self.training and count < 2:
                raise ValueError(
                    f"{self.label()}: training needs more than 1 value per channel, got "
                    f"input {x.shape}"
                )
            xhat, inv_std = normalize(x, axes, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(x, axes, count)
        else:
            inv_std = 1.0 / np.sqrt(self.running_var.reshape(view) + self.eps)
            xhat = (x - self.running_mean.reshape(view)) * inv_std
        self._cache = (xhat, inv_std, view, use_batch)
        return self._apply_affine(xhat, view)

    def _update_running(self, x: Array, axes: tuple[int, ...], count: int) -> None:
        """PyTorch's rule: ``running = (1 - momentum) * running + momentum * batch``.

        The running variance takes the *unbiased* batch variance (``count - 1``);
        ``momentum=None`` gives the cumulative average over all batches seen.
        """
        self.num_batches_tracked += 1
        factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        mean = x.mean(axis=axes)
        unbiased_var = x.var(axis=axes) * (count / (count - 1))
        self.running_mean *= 1.0 - factor
        self.running_mean += factor * mean
        self.running_var *= 1.0 - factor
        self.running_var += factor * unbiased_var

    def backward(self, grad: Array) -> Array:
        """Gradient of the input; adds dweight and dbias into ``grads``."""
        if self._cache is None:
            raise self._missing_forward()
        xhat, inv_std, view, use_batch = self._cache
        grad = self._check_grad(grad, xhat.shape, xhat.dtype)
        axes = (0, *range(2, xhat.ndim))
        dxhat = self._affine_backward(grad, xhat, view, axes)
        if use_batch:
            return normalize_backward(dxhat, xhat, inv_std, axes)
        return dxhat * inv_std  # running statistics are constants


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, like ``torch.nn.BatchNorm1d``.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance.
    momentum : float or None
        Weight of the new batch in the running statistics; None for a cumulative mean.
    affine : bool
        Learn ``weight`` (ones) and ``bias`` (zeros), shape (C,).
    track_running_stats : bool
        Keep ``running_mean`` (zeros) and ``running_var`` (ones) for eval mode; without
        them eval mode uses batch statistics too.
    """

    def _input_patterns(self) -> tuple[tuple[int | str, ...], ...]:
        return (("N", self.num_features), ("N", self.num_features, "L"))


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, like ``torch.nn.BatchNorm2d``.

    Parameters as :class:`BatchNorm1d`. Training normalises with the batch mean and
    biased variance over (N, H, W) and updates the running statistics with the unbiased
    variance; eval mode normalises with the running statistics.
    """

    def _input_patterns(self) -> tuple[tuple[int | str, ...], ...]:
        return (("N", self.num_features, "H", "W"),)


class LayerNorm(_Affine):
    """Normalise over the trailing ``normalized_shape`` axes, like ``torch.nn.LayerNorm``.

    Parameters
    ----------
    normalized_shape : int or tuple of ints
        The trailing shape of the input, e.g. ``(C, H, W)`` or just ``features``.
    eps : float
    elementwise_affine : bool
        Learn ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
    bias : bool
        Learn the bias (when affine).

    Notes
    -----
    Statistics are per sample, so training and evaluation behave the same.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.normalized_shape = (
            (int(normalized_shape),)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(int(s) for s in normalized_shape)
        )
        self.eps = float(eps)
        self._init_affine(self.normalized_shape, elementwise_affine, dtype, with_bias=bias)
        self._cache: tuple[Array, Array] | None = None

    def _label_args(self) -> str:
        return str(self.normalized_shape)

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim - len(self.normalized_shape), ndim))

    def forward(self, x: Array) -> Array:
        """(*, *normalized_shape) -> same shape."""
        x = self._check_input(x, ("*", *self.normalized_shape))
        xhat, inv_std = normalize(x, self._axes(x.ndim), self.eps)
        self._cache = (xhat, inv_std)
        return self._apply_affine(xhat, self.normalized_shape)

    def backward(self, grad: Array) -> Array:
        if self._cache is None:
            raise self._missing_forward()
        xhat, inv_std = self._cache
        grad = self._check_grad(grad, xhat.shape, xhat.dtype)
        lead = tuple(range(xhat.ndim - len(self.normalized_shape)))
        dxhat = self._affine_backward(grad, xhat, self.normalized_shape, lead)
        return normalize_backward(dxhat, xhat, inv_std, self._axes(xhat.ndim))


class GroupNorm(_Affine):
    """Normalise groups of channels per sample, like ``torch.nn.GroupNorm``.

    Parameters
    ----------
    num_groups : int
        G; must divide ``num_channels``.
    num_channels : int
        C.
    eps : float
    affine : bool
        Learn per-channel ``weight`` (ones) and ``bias`` (zeros), shape (C,).

    Notes
    -----
    Input (N, C, *) is viewed as (N, G, C/G * prod(*)) and each row is standardised.
    ``G = 1`` normalises the whole sample (LayerNorm over (C, H, W) with per-channel
    affine); ``G = C`` is InstanceNorm.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        if self.num_groups < 1 or self.num_channels % self.num_groups:
            raise ValueError(
                f"{self.label()}: num_channels ({num_channels}) must be divisible by "
                f"num_groups ({num_groups})"
            )
        self.eps = float(eps)
        self._init_affine((self.num_channels,), affine, dtype)
        self._cache: tuple[Array, Array, tuple[int, ...]] | None = None

    def _label_args(self) -> str:
        return f"{self.num_groups}, {self.num_channels}"

    def forward(self, x: Array) -> Array:
        """(N, C, *) -> same shape."""
        x = self._check_input(x, ("N", self.num_channels, "*"))
        grouped = x.reshape(x.shape[0], self.num_groups, -1)  # (N, G, C/G * spatial)
        xhat, inv_std = normalize(grouped, (2,), self.eps)
        xhat = xhat.reshape(x.shape)
        self._cache = (xhat, inv_std, x.shape)
        return self._apply_affine(xhat, self._view(x.ndim))

    def _view(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_channels) + (1,) * (ndim - 2)

    def backward(self, grad: Array) -> Array:
        if self._cache is None:
            raise self._missing_forward()
        xhat, inv_std, shape = self._cache
        grad = self._check_grad(grad, shape, xhat.dtype)
        reduce = (0, *range(2, len(shape)))
        dxhat = self._affine_backward(grad, xhat, self._view(len(shape)), reduce)
        n = shape[0]
        dx = normalize_backward(
            dxhat.reshape(n, self.num_groups, -1),
            xhat.reshape(n, self.num_groups, -1),
            inv_std,
            (2,),
        )
        return dx.reshape(shape)


class InstanceNorm2d(_Affine):
    """Normalise each (sample, channel) plane over H, W, like ``torch.nn.InstanceNorm2d``.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
    affine : bool
        Learn per-channel ``weight`` and ``bias`` (False by default, as in PyTorch).

    Notes
    -----
    Instance statistics are used in training and evaluation alike (PyTorch's default
    ``track_running_stats=False``).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        affine: bool = False,
        *,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self._init_affine((self.num_features,), affine, dtype)
        self._cache: tuple[Array, Array] | None = None

    def _label_args(self) -> str:
        return str(self.num_features)

    def forward(self, x: Array) -> Array:
        """(N, C, H, W) -> same shape."""
        x = self._check_input(x, ("N", self.num_features, "H", "W"))
        xhat, inv_std = normalize(x, (2, 3), self.eps)
        self._cache = (xhat, inv_std)
        return self._apply_affine(xhat, (1, self.num_features, 1, 1))

    def backward(self, grad: Array) -> Array:
        if self._cache is None:
            raise self._missing_forward()
        xhat, inv_std = self._cache
        grad = self._check_grad(grad, xhat.shape, xhat.dtype)
        dxhat = self._affine_backward(grad, xhat, (1, self.num_features, 1, 1), (0, 2, 3))
        return normalize_backward(dxhat, xhat, inv_std, (2, 3))
