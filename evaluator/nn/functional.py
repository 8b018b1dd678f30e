"""Numerically stable elementwise kernels shared by activations and losses.

Every function keeps the input's floating dtype and never overflows: exponentials only
ever see non-positive arguments.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .module import Array


def sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))``, computed as ``exp(min(x, 0)) / (1 + exp(-|x|))``.

    Both branches of the textbook form overflow somewhere (``exp(-x)`` for very negative
    ``x``); this form evaluates ``exp`` only at ``-|x| <= 0``.
    """
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def log_sigmoid(x: Array) -> Array:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, finite for every finite ``x``."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def log_softmax(x: Array, axis: int) -> Array:
    """``x - logsumexp(x)`` along ``axis``, after subtracting the maximum (no overflow)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: Array, axis: int) -> Array:
    """``exp(x) / sum(exp(x))`` along ``axis``; the maximum is subtracted first."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def multilabel_predict(logits: Array, threshold: float = 0.5) -> NDArray[np.bool_]:
    """Multi-label decision: class ``k`` is present where ``sigmoid(logits[..., k]) > threshold``.

    One independent logistic classifier per class (the notes' logistic regression), so
    any number of classes, including none, can be predicted for one box; compare
    softmax, which picks exactly one.

    Parameters
    ----------
    logits : ndarray of shape (N, C) or any shape
    threshold : float in (0, 1)

    Returns
    -------
    ndarray of bool, same shape as ``logits``
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"multilabel_predict: threshold must be in (0, 1), got {threshold}")
    return sigmoid(np.asarray(logits)) > threshold
