"""Learning-rate schedules: cosine decay (with linear warm-up) and step decay.

Each scheduler sets ``optimizer.lr`` when created (epoch 0) and on every ``step()``,
from a closed form of the epoch counter, with PyTorch's names and values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from .optim import Optimizer


class LRScheduler:
    """Base class: ``lr_at(epoch)`` gives the rate; ``step()`` advances one epoch.

    Attributes
    ----------
    base_lr : float
        The optimizer's initial rate (``optimizer.initial_lr``, recorded by the first
        scheduler attached to it, as PyTorch's ``initial_lr``).
    last_epoch : int
        Number of ``step()`` calls so far.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if optimizer.initial_lr is None:
            optimizer.initial_lr = optimizer.lr
        self.optimizer = optimizer
        self.base_lr = optimizer.initial_lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch (or iteration) and set the optimizer's rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The rate set by the last step, as a one-element list (PyTorch's shape)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every step_size."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from ``base_lr`` to ``eta_min`` over ``T_max`` epochs.

    Notes
    -----
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: flat at
    the start, steepest half-way, flat again near ``eta_min`` (SGDR without restarts).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class LinearLR(LRScheduler):
    """Scale ``base_lr`` by a factor moving linearly from start_factor to end_factor.

    ``factor = start + (end - start) * min(epoch, total_iters) / total_iters``; a linear
    warm-up with the defaults.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("LinearLR: start_factor must be in (0, 1], end_factor in [0, 1]")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        progress = min(epoch, self.total_iters) / self.total_iters if self.total_iters else 1.0
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return self.base_lr * factor


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` from ``milestones[i-1]`` on, its epoch counted from there."""

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int]
    ) -> None:
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                f"{len(schedulers)} schedulers, got {len(milestones)}"
            )
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must drive the same optimizer")
        self.schedulers = list(schedulers)
        self.milestones = list(milestones)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        index = bisect.bisect_right(self.milestones, epoch)
        start = self.milestones[index - 1] if index else 0
        return self.schedulers[index].lr_at(epoch - start)


def cosine_with_warmup(
    optimizer: Optimizer,
    warmup_steps: int,
    total_steps: int,
    warmup_start_factor: float = 0.1,
    eta_min: float = 0.0,
) -> SequentialLR:
    """Linear warm-up for ``warmup_steps``, then cosine decay to ``eta_min`` at ``total_steps``.

    The same as PyTorch's ``SequentialLR([LinearLR(opt, warmup_start_factor, 1.0,
    warmup_steps), CosineAnnealingLR(opt, total_steps - warmup_steps, eta_min)],
    milestones=[warmup_steps])``.
    """
    if not 0 < warmup_steps < total_steps:
        raise ValueError(
            f"cosine_with_warmup: need 0 < warmup_steps < total_steps, got {warmup_steps} "
            f"and {total_steps}"
        )
    warmup = LinearLR(optimizer, warmup_start_factor, 1.0, warmup_steps)
    cosine = CosineAnnealingLR(optimizer, total_steps - warmup_steps, eta_min)
    return SequentialLR(optimizer, [warmup, cosine], [warmup_steps])
