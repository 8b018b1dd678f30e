"""The base class of every layer: parameters, gradients, train/eval mode, input checks.

A layer is a plain object with ``forward(x) -> y`` and ``backward(dy) -> dx``. It owns
two dicts with PyTorch's names and shapes: ``params`` (the arrays an optimizer updates in
place) and ``grads`` (arrays of the same shapes that ``backward`` *adds* into, like
``torch.Tensor.grad``; ``zero_grad`` resets them). The arrays are created once and only
ever modified in place, so an optimizer may keep references to them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[np.floating]


class Module:
    """Base class of layers and containers.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable arrays, named as in PyTorch (``weight``, ``bias``, ...).
    grads : dict of str to ndarray
        Gradient of the loss with respect to each entry of ``params``, same shapes.
    training : bool
        True in training mode (the default); changes Dropout and the normalisations.
    """

    def __init__(self) -> None:
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.training = True

    # ----------------------------------------------------------------- interface
    # ``*args, **kwargs`` lets each layer declare its own signature (mypy accepts any
    # override of it): most take one array, Concat and Add take several.
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the output and remember what backward needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, *args: Any, **kwargs: Any) -> Any:
        """Gradient of the inputs from the gradient of the output; adds into ``grads``."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def children(self) -> list[Module]:
        """Sub-modules whose parameters belong to this module (none for a plain layer)."""
        return []

    # ------------------------------------------------------------------- naming
    def label(self) -> str:
        """Short name used in error messages, e.g. ``Conv2d(3->16)``."""
        return f"{type(self).__name__}({self._label_args()})"

    def _label_args(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._repr_args()
        return f"{type(self).__name__}({extra})" if extra else self.label()

    def _repr_args(self) -> str:
        return ""

    # ------------------------------------------------------------------- params
    def _add_param(self, name: str, value: Array) -> None:
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Module, str]]:
        """Yield ``(qualified_name, owner, key)`` for every parameter, children included.

        ``owner.params[key]`` is the array and ``owner.grads[key]`` its gradient.
        """
        for key in self.params:
            yield prefix + key, self, key
        for index, child in enumerate(self.children()):
            yield from child.named_parameters(f"{prefix}{index}.")

    def zero_grad(self) -> None:
        """Set every gradient array to zero, in place."""
        for _, owner, key in self.named_parameters():
            owner.grads[key].fill(0)

    def train(self, mode: bool = True) -> Module:
        """Switch training mode on (or off with ``mode=False``), children included."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (running statistics, no dropout)."""
        return self.train(False)

    def to(self, dtype: DTypeLike) -> Module:
        """Convert parameters, gradients and buffers to ``dtype`` (float32 or float64)."""
        target = np.dtype(dtype)
        if target not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{self.label()}: dtype must be float32 or float64, got {target}")
        for key in list(self.params):
            self.params[key] = self.params[key].astype(target)
            self.grads[key] = self.grads[key].astype(target)
        self._convert_buffers(target)
        for child in self.children():
            child.to(target)
        return self

    def _convert_buffers(self, dtype: np.dtype) -> None:
        """Convert non-trainable arrays (running statistics); layers with buffers override."""

    @property
    def dtype(self) -> np.dtype | None:
        """Floating dtype of the parameters, or None for a layer without parameters."""
        for _, owner, key in self.named_parameters():
            return owner.params[key].dtype
        return None

    # ------------------------------------------------------------------- checks
    def _check_input(self, x: Any, pattern: Sequence[int | str], what: str = "input") -> Array:
        """Validate a floating array against a shape pattern and return it.

        ``pattern`` mixes fixed sizes (ints) with free dimensions (strings); one ``"*"``
        entry accepts any number of dimensions (``("*", 8)``: anything ending in 8).
        A layer with parameters also requires their dtype.
        """
        array = x if isinstance(x, np.ndarray) else np.asarray(x)
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{self.label()}: expected {what} of dtype float32 or float64, got {array.dtype}"
            )
        dtype = self.dtype
        if dtype is not None and array.dtype != dtype:
            raise TypeError(
                f"{self.label()}: expected {what} of dtype {dtype} (the parameters' dtype), "
                f"got {array.dtype}; convert the input or call .to({array.dtype.name})"
            )
        if not _shape_matches(array.shape, pattern):
            raise ValueError(
                f"{self.label()}: expected {what} {_format_pattern(pattern)}, got {array.shape}"
            )
        return array

    def _check_grad(self, grad: Any, shape: tuple[int, ...], dtype: np.dtype) -> Array:
        """Validate the upstream gradient against the shape and dtype of the output."""
        array = grad if isinstance(grad, np.ndarray) else np.asarray(grad)
        if array.shape != shape:
            raise ValueError(
                f"{self.label()}: expected a gradient of shape {shape} (the output's), "
                f"got {array.shape}"
            )
        if array.dtype != dtype:
            raise TypeError(
                f"{self.label()}: expected a gradient of dtype {dtype}, got {array.dtype}"
            )
        return array

    def _missing_forward(self) -> RuntimeError:
        return RuntimeError(f"{self.label()}: backward() called before forward()")


def _shape_matches(shape: tuple[int, ...], pattern: Sequence[int | str]) -> bool:
    """Match ``shape`` against ``pattern``; one ``"*"`` entry stands for any run of axes."""
    if "*" in pattern:
        star = list(pattern).index("*")
        head, tail = list(pattern[:star]), list(pattern[star + 1 :])
        if len(shape) < len(head) + len(tail):
            return False
        fixed = head + tail
        shape = shape[: len(head)] + shape[len(shape) - len(tail) :]
    else:
        fixed = list(pattern)
        if len(shape) != len(fixed):
            return False
    return all(isinstance(p, str) or p == s for p, s in zip(fixed, shape, strict=True))


def _format_pattern(pattern: Sequence[int | str]) -> str:
    return "(" + ", ".join(str(p) for p in pattern) + ")"


def as_pair(value: int | Sequence[int], name: str, owner: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5)`` unchanged; anything else is a clear error."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    pair = tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_float_dtype(dtype: DTypeLike, owner: str) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    result = np.dtype(dtype)
    if result not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {result}")
    return result
