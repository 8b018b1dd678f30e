"""Containers (Sequential, Residual) and parameter counting."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .module import Array, Module

ModuleOrList = Module | Iterable[Module]


class Sequential(Module):
    """Apply layers one after another; backward runs them in reverse.

    Parameters
    ----------
    *layers : Module
        Single-input layers; ``Sequential(Conv2d(...), BatchNorm2d(...), ReLU())``.

    Notes
    -----
    Parameters are named ``"{index}.{name}"`` as in PyTorch (``"0.weight"``).
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: layer {index} must be a Module, got {type(layer).__name__}"
                )
        self.layers = list(layers)

    def children(self) -> list[Module]:
        return self.layers

    def _repr_args(self) -> str:
        inner = ",\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"\n{inner}\n" if inner else ""

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: Array) -> Any:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: Array) -> Any:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad


class Residual(Module):
    """``y = body(x) + shortcut(x)``; the shortcut is the identity unless given.

    The sum passes ``dy`` unchanged to both branches, so
    ``dx = body.backward(dy) + shortcut.backward(dy)``: the identity path keeps the
    gradient alive however small the body's is (the notes' "products become sums").
    """

    def __init__(self, body: Module, shortcut: Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self._out_shape: tuple[int, ...] | None = None

    def children(self) -> list[Module]:
        return [self.body] if self.shortcut is None else [self.body, self.shortcut]

    def _repr_args(self) -> str:
        return f"{self.body!r}" + ("" if self.shortcut is None else f", {self.shortcut!r}")

    def forward(self, x: Array) -> Array:
        y = self.body.forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != skip.shape:
            raise ValueError(
                f"{self.label()}: body output {y.shape} and shortcut output {skip.shape} "
                "differ; give a shortcut (e.g. a 1x1 Conv2d) that matches"
            )
        self._out_shape = y.shape
        return y + skip

    def backward(self, grad: Array) -> Array:
        if self._out_shape is None:
            raise self._missing_forward()
        dx = self.body.backward(grad)
        skip = grad if self.shortcut is None else self.shortcut.backward(grad)
        return dx + skip


def modules_of(target: ModuleOrList) -> list[Module]:
    """A module, or an iterable of modules, as a list (what optimizers accept)."""
    if isinstance(target, Module):
        return [target]
    modules = list(target)
    for index, module in enumerate(modules):
        if not isinstance(module, Module):
            raise TypeError(f"item {index} must be a Module, got {type(module).__name__}")
    return modules


def count_parameters(target: ModuleOrList) -> int:
    """Number of trainable scalars (``sum(p.size)``), like ``sum(p.numel() ...)``.

    A layer listed twice is counted once.
    """
    seen: set[int] = set()
    total = 0
    for module in modules_of(target):
        for _, owner, key in module.named_parameters():
            array = owner.params[key]
            if id(array) not in seen:
                seen.add(id(array))
                total += array.size
    return total
