"""Weight normalisation (Salimans & Kingma, 2016): ``w = g * v / ||v||``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..module import Array, Module


class WeightNorm(Module):
    """Wrap a layer so its weight is a learned length ``g`` times a direction ``v``.

    The analogue of ``torch.nn.utils.weight_norm(layer, name, dim)``.

    Parameters
    ----------
    layer : Module
        A layer with a parameter called ``name`` (Conv2d, Linear, ...).
    name : str
        The parameter to reparametrise.
    dim : int
        The axis that keeps one norm per slice (0: one per output channel).

    Attributes
    ----------
    params : ``weight_g`` (the weight's shape with every axis but ``dim`` set to 1),
        ``weight_v`` (the weight's shape) and the layer's other parameters, shared with it.

    Notes
    -----
    ``w = g * v / ||v||``, the norm over every axis but ``dim``. With ``vhat = v/||v||``
    and ``dw`` the gradient the wrapped layer computes for ``w``:
    ``dg = sum(dw * vhat)`` and ``dv = (g / ||v||) * (dw - vhat * dg)``, so ``dv`` is
    orthogonal to ``v``. Initially ``g = ||v||`` and ``v`` is the layer's weight, so the
    wrapped layer computes the same function.
    """

    def __init__(self, layer: Module, name: str = "weight", dim: int = 0) -> None:
        super().__init__()
        if name not in layer.params:
            raise ValueError(
                f"WeightNorm: {layer.label()} has no parameter {name!r} "
                f"(it has {sorted(layer.params)})"
            )
        weight = layer.params[name]
        if not -weight.ndim <= dim < weight.ndim:
            raise ValueError(f"WeightNorm: dim {dim} is out of range for {name} {weight.shape}")
        self.layer = layer
        self.name = name
        self.dim = dim % weight.ndim
        self._axes = tuple(a for a in range(weight.ndim) if a != self.dim)
        v = weight.copy()
        self._add_param(f"{name}_g", np.sqrt((v * v).sum(axis=self._axes, keepdims=True)))
        self._add_param(f"{name}_v", v)
        self._share_layer_params()
        self._cache: tuple[Array, Array, Array] | None = None

    def _share_layer_params(self) -> None:
        """Expose the wrapped layer's other parameters as the very same arrays."""
        for key, value in self.layer.params.items():
            if key != self.name:
                self.params[key] = value
                self.grads[key] = self.layer.grads[key]

    def label(self) -> str:
        return f"WeightNorm({self.layer.label()})"

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        self.layer.train(mode)
        return self

    def to(self, dtype: DTypeLike) -> Module:
        own = (f"{self.name}_g", f"{self.name}_v")
        for key in own:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = self.grads[key].astype(dtype)
        self.layer.to(dtype)
        self._share_layer_params()
        return self

    def forward(self, *inputs: Array) -> Any:
        """Set the layer's weight from ``g`` and ``v``, then run the layer."""
        g = self.params[f"{self.name}_g"]
        v = self.params[f"{self.name}_v"]
        norm = np.sqrt((v * v).sum(axis=self._axes, keepdims=True))
        vhat = v / norm
        self.layer.params[self.name][...] = g * vhat
        self._cache = (vhat, norm, g.copy())
        return self.layer.forward(*inputs)

    def backward(self, grad: Array) -> Any:
        """Backward through the layer, then from ``dw`` to ``dg`` and ``dv``."""
        if self._cache is None:
            raise self._missing_forward()
        vhat, norm, g = self._cache
        dw = self.layer.grads[self.name]
        dw.fill(0)  # scratch space: the layer adds this call's dw into it
        dx = self.layer.backward(grad)
        dg = (dw * vhat).sum(axis=self._axes, keepdims=True)
        self.grads[f"{self.name}_g"] += dg
        self.grads[f"{self.name}_v"] += (g / norm) * (dw - vhat * dg)
        return dx
