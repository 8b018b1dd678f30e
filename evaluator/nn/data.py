"""A seeded mini-batch loader: the batch size chooses between the three gradient descents.

* ``batch_size = n`` (or None): batch gradient descent, every sample in every step;
* ``batch_size = 1``: stochastic gradient descent, one random sample per step;
* anything between: mini-batch gradient descent.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .init import RNGLike, make_rng


class BatchLoader:
    """Iterate over aligned arrays in (shuffled) batches, one pass per ``for`` loop.

    Parameters
    ----------
    *arrays : array_like
        Inputs, targets, ...; all with the same length along axis 0.
    batch_size : int, optional
        Samples per batch; None means all of them.
    shuffle : bool
        Draw a new permutation at the start of every pass.
    drop_last : bool
        Skip a final batch smaller than ``batch_size``.
    rng : int, Generator or None
        Seed of the permutations.

    Yields
    ------
    tuple of ndarray
        One slice per array, each of length ``batch_size`` (the last may be shorter).
    """

    def __init__(
        self,
        *arrays: ArrayLike,
        batch_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: RNGLike = None,
    ) -> None:
        if not arrays:
            raise ValueError("BatchLoader: expected at least one array")
        self.arrays: list[NDArray] = [np.asarray(a) for a in arrays]
        n = self.arrays[0].shape[0] if self.arrays[0].ndim else 0
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError(
                    f"BatchLoader: array {i} has shape {a.shape}; expected length {n} "
                    "along axis 0 like array 0"
                )
        if n == 0:
            raise ValueError("BatchLoader: the arrays are empty")
        self.n_samples = n
        self.batch_size = n if batch_size is None else int(batch_size)
        if not 1 <= self.batch_size <= n:
            raise ValueError(f"BatchLoader: batch_size must be in [1, {n}], got {batch_size}")
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = make_rng(rng)

    @property
    def mode(self) -> str:
        """``"batch"``, ``"stochastic"`` or ``"mini-batch"`` gradient descent."""
        if self.batch_size == self.n_samples:
            return "batch"
        if self.batch_size == 1:
            return "stochastic"
        return "mini-batch"

    def __len__(self) -> int:
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[NDArray, ...]]:
        order = self._rng.permutation(self.n_samples) if self.shuffle else np.arange(self.n_samples)
        for b in range(len(self)):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield tuple(a[index] for a in self.arrays)
