"""The compiled kernels of :mod:`evaluator.masks`, or a clear error when they are not built."""

from __future__ import annotations

from evaluator.errors import ENGINE_NOT_BUILT

try:
    from evaluator.masks import _rle as rle
except ImportError:  # a checkout used without installing it
    raise ImportError(ENGINE_NOT_BUILT) from None

__all__ = ["rle"]
