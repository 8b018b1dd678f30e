"""``index_of``: ids found in sorted ids, by table and by binary search, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.input.ids import index_of

INT64 = np.iinfo(np.int64)


def expected(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ``index_of`` must give, from ``searchsorted``: 0 where an id is absent."""
    if sorted_ids.size == 0:
        return np.zeros(ids.shape, np.int64), np.zeros(ids.shape, bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.shape[0] - 1)
    found = sorted_ids[at] == ids
    return np.where(found, at, 0), found


@pytest.mark.parametrize("spread", [1, 3, 10**6, 10**15])  # tables, then binary searches
@pytest.mark.parametrize("seed", range(5))
def test_random_ids_found_as_searchsorted_finds_them(spread: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sorted_ids = np.unique(rng.integers(-50, 400, 80)) * spread
    ids = np.concatenate([rng.choice(sorted_ids, 300), rng.integers(-60, 420, 300) * spread])
    position, found = index_of(sorted_ids, ids)
    want_position, want_found = expected(sorted_ids, ids)
    np.testing.assert_array_equal(found, want_found)
    np.testing.assert_array_equal(position, want_position)
    assert position.dtype == np.int64 and found.dtype == bool


@pytest.mark.parametrize(
    "sorted_ids",
    [[INT64.min, 0, INT64.max], [INT64.max - 2, INT64.max], [INT64.min, INT64.min + 1], [7]],
)
def test_extreme_ids_neither_wrap_nor_overflow(sorted_ids: list[int]) -> None:
    declared = np.array(sorted_ids, dtype=np.int64)
    ids = np.array([INT64.min, INT64.min + 1, -1, 0, 6, 7, 8, INT64.max - 2, INT64.max])
    position, found = index_of(declared, ids)
    want_position, want_found = expected(declared, ids)
    np.testing.assert_array_equal(found, want_found)
    np.testing.assert_array_equal(position, want_position)


def test_nothing_declared_finds_nothing() -> None:
    position, found = index_of(np.zeros(0, np.int64), np.array([0, 1, 2]))
    assert not found.any() and not position.any()
    position, found = index_of(np.array([1, 2]), np.zeros(0, np.int64))
    assert position.shape == found.shape == (0,)


def test_unsorted_ids_are_refused() -> None:
    with pytest.raises(ValueError, match=r"sorted_ids\[2\]"):
        index_of(np.array([1, 5, 5]), np.array([1]))
