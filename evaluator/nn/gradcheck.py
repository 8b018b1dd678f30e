"""Central-difference gradient checking of layers and losses (float64 only).

A layer is checked through the scalar ``L = sum(forward(x) * r)`` for a fixed random
``r``: then ``dL/dy = r``, so ``backward(r)`` must equal the numerical derivative of ``L``
with respect to every input entry and every parameter entry.

Notes
-----
Central differences, ``(L(w + eps) - L(w - eps)) / (2 eps)``, have truncation error
``O(eps**2)``; in float64 with ``eps = 1e-6`` the total error is about 1e-9 relative,
far below the error of a wrong derivative. Errors are reported normwise per array,
``max|analytic - numeric| / max(max|analytic|, max|numeric|)``, so entries that are
(nearly) zero do not inflate them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .init import make_rng
from .losses import Loss
from .module import Array, Module


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-6) -> Array:
    """``df/dx`` by central differences, perturbing ``x`` in place (restored after).

    Parameters
    ----------
    f : callable
        Evaluates the scalar function from the current contents of ``x``.
    x : ndarray, dtype float64
    eps : float

    Returns
    -------
    ndarray, same shape as ``x``
    """
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)  # views: x must be contiguous
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: ArrayLike, numeric: ArrayLike) -> float:
    """Normwise relative error ``max|a - n| / max(max|a|, max|n|)`` (0 if both are 0)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(n).max(initial=0.0)))
    return float(np.abs(a - n).max(initial=0.0)) / scale if scale > 0 else 0.0


def _require_float64(name: str, array: Array) -> None:
    if array.dtype != np.float64 or not array.flags.c_contiguous:
        raise TypeError(
            f"gradient check: {name} must be a C-contiguous float64 array (float32 is too "
            f"coarse for central differences), got {array.dtype}"
        )


def _raise_if_failed(what: str, errors: dict[str, float], tol: float) -> dict[str, float]:
    failed = {name: err for name, err in errors.items() if not err <= tol}
    if failed:
        details = ", ".join(f"{name}: {err:.3g}" for name, err in failed.items())
        raise GradientCheckError(f"{what}: gradient check failed (tol {tol:g}): {details}")
    return errors


def check_layer_gradients(
    layer: Module, *inputs: Array, eps: float = 1e-6, tol: float = 1e-6, seed: int = 0
) -> dict[str, float]:
    """Compare ``layer.backward`` with central differences for inputs and parameters.

    Parameters
    ----------
    layer : Module
        A deterministic layer in float64 (Dropout must be in eval mode). Layers with
        several inputs (Concat, Add) return one gradient per input.
    *inputs : ndarray, dtype float64
    eps, tol : float
        Step and largest accepted normwise relative error.
    seed : int
        Seed of the random upstream gradient ``r``.

    Returns
    -------
    dict of str to float
        Error per checked array: ``"input0"``, ..., then parameter names.

    Raises
    ------
    GradientCheckError
        If any error exceeds ``tol``.
    """
    for i, x in enumerate(inputs):
        _require_float64(f"input {i}", x)
    out = layer.forward(*inputs)
    upstream = make_rng(seed).standard_normal(out.shape)

    def objective() -> float:
        return float(np.sum(layer.forward(*inputs) * upstream))

    layer.forward(*inputs)
    layer.zero_grad()
    dx = layer.backward(upstream)
    dxs = dx if isinstance(dx, tuple) else (dx,)
    analytic = {f"input{i}": g for i, g in enumerate(dxs)}
    for name, owner, key in layer.named_parameters():
        analytic[name] = owner.grads[key].copy()

    errors = {}
    for i, x in enumerate(inputs):
        errors[f"input{i}"] = relative_error(
            analytic[f"input{i}"], numerical_gradient(objective, x, eps)
        )
    for name, owner, key in layer.named_parameters():
        param = owner.params[key]
        _require_float64(name, param)
        errors[name] = relative_error(analytic[name], numerical_gradient(objective, param, eps))
    return _raise_if_failed(layer.label(), errors, tol)


def check_loss_gradients(
    loss: Loss, pred: Array, target: ArrayLike, eps: float = 1e-6, tol: float = 1e-6
) -> float:
    """Compare ``loss.backward()`` with central differences of ``loss.forward``.

    Returns the normwise relative error; raises :class:`GradientCheckError` above ``tol``.
    """
    _require_float64("pred", pred)
    loss.forward(pred, target)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred, eps)
    return _raise_if_failed(loss.label(), {"pred": relative_error(analytic, numeric)}, tol)["pred"]
