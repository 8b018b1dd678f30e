"""Optimizers that update parameters in place, stepping exactly as ``torch.optim`` does.

Each takes a module, or a list of modules, collects every ``(owner, key)`` parameter
once, and keeps its per-parameter state in a dict. ``step()`` reads ``owner.grads[key]``
and updates ``owner.params[key]`` in place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .container import ModuleOrList, modules_of
from .module import Array, Module


class Optimizer:
    """Parameter collection, learning rate and ``zero_grad`` shared by the optimizers.

    Attributes
    ----------
    lr : float
        Current learning rate; schedulers in :mod:`evaluator.nn.schedules` set it.
    initial_lr : float or None
        The rate the first scheduler attached to this optimizer started from.
    """

    def __init__(self, params: ModuleOrList, lr: float) -> None:
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = float(lr)
        self.initial_lr: float | None = None
        self._slots: list[tuple[Module, str]] = []
        seen: set[int] = set()
        for module in modules_of(params):
            for _, owner, key in module.named_parameters():
                if id(owner.params[key]) not in seen:
                    seen.add(id(owner.params[key]))
                    self._slots.append((owner, key))
        if not self._slots:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        self.state: list[dict[str, Any]] = [{} for _ in self._slots]

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place."""
        for owner, key in self._slots:
            owner.grads[key].fill(0)

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        for (owner, key), state in zip(self._slots, self.state, strict=True):
            self._update(owner.params[key], owner.grads[key], state)

    def _update(self, param: Array, grad: Array, state: dict[str, Any]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    Notes
    -----
    PyTorch's update, per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b  if nesterov else  b      (when momentum != 0)
        p = p - lr * g
    """

    def __init__(
        self,
        params: ModuleOrList,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError("SGD: momentum and weight_decay must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def _update(self, param: Array, grad: Array, state: dict[str, Any]) -> None:
        d = grad + self.weight_decay * param if self.weight_decay else grad
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        param -= self.lr * d


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter steps from running gradient moments.

    Parameters
    ----------
    params : Module or list of Module
    lr : float
    betas : (float, float)
        Decay of the first and second moment estimates.
    eps : float
        Added to the denominator.
    weight_decay : float
        L2 term added to the gradient (coupled); see :class:`AdamW` for decoupled decay.
    amsgrad : bool
        Use the running maximum of the second moment.

    Notes
    -----
    At step ``t``: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, then
    ``p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    decoupled = False

    def __init__(
        self,
        params: ModuleOrList,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad

    def _update(self, param: Array, grad: Array, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        if self.weight_decay:
            if self.decoupled:
                param *= 1 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * grad * grad
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = self.lr / (1 - beta1**step)
        denom = np.sqrt(v) / math.sqrt(1 - beta2**step) + self.eps
        param -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The decay shrinks the weights directly, ``p *= 1 - lr * weight_decay``, before the
    Adam step, instead of entering the moment estimates; default ``weight_decay=0.01``.
    """

    decoupled = True

    def __init__(
        self,
        params: ModuleOrList,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
