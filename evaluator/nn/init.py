"""Seeded weight initialisers (He / Kaiming and Glorot / Xavier), as in ``torch.nn.init``.

Each ``*_`` function fills an existing array in place and returns it. Randomness comes
from ``rng``: an ``int`` seed, a ``numpy.random.Generator``, or None for fresh entropy.

Notes
-----
For a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)``.

* He (Kaiming, 2015): ``std = gain / sqrt(fan)``, ``fan`` = ``fan_in`` (keeps forward
  variance) or ``fan_out`` (keeps backward variance); uniform bound ``sqrt(3) * std``.
* Glorot (Xavier, 2010): ``std = gain * sqrt(2 / (fan_in + fan_out))``; uniform bound
  ``sqrt(3) * std``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .module import Array

RNGLike = int | np.random.Generator | None
FanMode = Literal["fan_in", "fan_out"]

_LINEAR_GAIN = ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid")


def make_rng(rng: RNGLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, an existing generator, or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for an activation: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu).

    ``leaky_relu`` uses ``sqrt(2 / (1 + slope**2))`` with ``slope = param`` (0.01 if None);
    ``selu`` uses 3/4.
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``."""
    if len(shape) < 2:
        raise ValueError(f"fan needs a weight with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: tuple[int, ...], mode: FanMode) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def uniform_(array: Array, low: float, high: float, rng: RNGLike = None) -> Array:
    """Fill ``array`` with U(low, high) samples, in place."""
    array[...] = make_rng(rng).uniform(low, high, size=array.shape)
    return array


def normal_(array: Array, mean: float = 0.0, std: float = 1.0, rng: RNGLike = None) -> Array:
    """Fill ``array`` with N(mean, std**2) samples, in place."""
    array[...] = make_rng(rng).normal(mean, std, size=array.shape)
    return array


def kaiming_uniform_(
    array: Array,
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: RNGLike = None,
) -> Array:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``; ``a`` is the leaky slope."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array.shape, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng)


def kaiming_normal_(
    array: Array,
    a: float = 0.0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: RNGLike = None,
) -> Array:
    """He normal: N(0, std**2) with ``std = gain / sqrt(fan)``; ``a`` is the leaky slope."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array.shape, mode))
    return normal_(array, 0.0, std, rng)


def xavier_uniform_(array: Array, gain: float = 1.0, rng: RNGLike = None) -> Array:
    """Glorot uniform: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(array.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(array, -bound, bound, rng)


def xavier_normal_(array: Array, gain: float = 1.0, rng: RNGLike = None) -> Array:
    """Glorot normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(array.shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(array, 0.0, std, rng)


def default_weight_and_bias(weight: Array, bias: Array | None, rng: np.random.Generator) -> None:
    """PyTorch's default for Linear and Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    This is ``kaiming_uniform_(weight, a=sqrt(5))`` for the weight and the same bound
    for the bias.
    """
    kaiming_uniform_(weight, a=math.sqrt(5.0), rng=rng)
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in_and_fan_out(weight.shape)[0])
        uniform_(bias, -bound, bound, rng)
