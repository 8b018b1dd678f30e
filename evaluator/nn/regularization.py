"""Gradient clipping and L1 / L2 weight penalties.

Call them between ``backward()`` and ``optimizer.step()``: they read and modify the
gradients in place.
"""

from __future__ import annotations

import math

import numpy as np

from .container import ModuleOrList, modules_of
from .module import Array


def _parameters(target: ModuleOrList, weights_only: bool = False) -> list[tuple[Array, Array]]:
    """``(param, grad)`` pairs, each array once."""
    pairs: list[tuple[Array, Array]] = []
    seen: set[int] = set()
    for module in modules_of(target):
        for _, owner, key in module.named_parameters():
            param = owner.params[key]
            if id(param) in seen or (weights_only and param.ndim < 2):
                continue
            seen.add(id(param))
            pairs.append((param, owner.grads[key]))
    return pairs


def clip_grad_norm_(target: ModuleOrList, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    Parameters
    ----------
    target : Module or list of Module
    max_norm : float
    norm_type : float
        ``p`` of the p-norm over all gradient entries; ``math.inf`` for the largest
        absolute value.

    Returns
    -------
    float
        The joint norm *before* clipping (useful to log exploding gradients).

    Notes
    -----
    As ``torch.nn.utils.clip_grad_norm_``: every gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``, which keeps the gradient's direction
    (clipping by value does not).
    """
    grads = [g for _, g in _parameters(target)]
    if norm_type == math.inf:
        total = max(float(np.abs(g).max(initial=0.0)) for g in grads)
    else:
        per_array = [float(np.sum(np.abs(g) ** norm_type)) for g in grads]
        total = sum(per_array) ** (1.0 / norm_type)
    coef = min(1.0, max_norm / (total + 1e-6))
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(target: ModuleOrList, clip_value: float) -> None:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for _, g in _parameters(target):
        np.clip(g, -clip_value, clip_value, out=g)


def l1_penalty(target: ModuleOrList, coeff: float, weights_only: bool = True) -> float:
    """Add ``coeff * sum(|w|)`` to the loss: return it and add ``coeff * sign(w)`` to grads.

    L1 pushes every weight towards 0 by the same amount per step, so small weights
    reach exactly 0 (sparse weights). ``weights_only`` skips 1-D parameters (biases and
    normalisation scales), the usual choice.
    """
    total = 0.0
    for param, grad in _parameters(target, weights_only):
        total += float(np.abs(param).sum())
        grad += coeff * np.sign(param)
    return coeff * total


def l2_penalty(target: ModuleOrList, coeff: float, weights_only: bool = True) -> float:
    """Add ``coeff * sum(w**2)`` to the loss: return it and add ``2 * coeff * w`` to grads.

    L2 shrinks each weight in proportion to its size, so weights get small but not 0;
    with plain SGD it equals ``weight_decay = 2 * coeff``. ``weights_only`` as for
    :func:`l1_penalty`.
    """
    total = 0.0
    for param, grad in _parameters(target, weights_only):
        total += float((param * param).sum())
        grad += (2 * coeff) * param
    return coeff * total
