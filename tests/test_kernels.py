"""The compiled kernels' building blocks against NumPy, on random inputs full of ties."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.metrics.matching import stable_order
from evaluator.metrics.pairs import overlapping_pairs


@pytest.mark.parametrize("seed", range(20))
def test_stable_order_is_numpys_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    n_keys = int(rng.integers(1, 50))
    key = rng.integers(0, n_keys, n).astype(np.int64)
    # Few distinct scores (ties everywhere), both zeros, and some long runs of one key.
    score = rng.choice(np.array([0.9, 0.5, 0.0, -0.0, 0.25, 1e-300]), n)
    tiebreak = rng.integers(0, 3, n).astype(np.int64)
    got = stable_order(key, score, tiebreak, n_keys)
    np.testing.assert_array_equal(got, np.lexsort((tiebreak, -score, key)))


def _pairs_by_numpy(
    det_key: np.ndarray,
    det_boxes: np.ndarray,
    gt_key: np.ndarray,
    gt_boxes: np.ndarray,
    gt_crowd: np.ndarray,
    min_iou: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every same-key pair, by detection then ground truth in stable key order."""
    from evaluator.geometry.boxes import paired_iou

    order = np.argsort(gt_key, kind="stable")
    rows = [(d, g) for d in range(det_key.shape[0]) for g in order if gt_key[g] == det_key[d]]
    det = np.array([d for d, _ in rows], dtype=np.int64)
    gt = np.array([g for _, g in rows], dtype=np.int64)
    iou = paired_iou(det_boxes[det], gt_boxes[gt], gt_crowd[gt]) if rows else np.zeros(0)
    keep = iou >= min_iou
    return det[keep], gt[keep], iou[keep]


@pytest.mark.parametrize("spread", [1, -1, 10**12])  # dense keys counted; others searched
@pytest.mark.parametrize("seed", range(10))
def test_overlapping_pairs_are_numpys(seed: int, spread: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(0, 120)), int(rng.integers(0, 80))
    det_key = rng.integers(0, 6, n).astype(np.int64) * spread
    gt_key = rng.integers(0, 6, m).astype(np.int64) * spread
    det_boxes = np.round(rng.uniform(0, 20, (n, 4)), 1)
    gt_boxes = np.round(rng.uniform(0, 20, (m, 4)), 1)
    crowd = rng.random(m) < 0.2
    for floor in (-np.inf, 0.0, 0.3):
        got = overlapping_pairs(det_key, det_boxes, gt_key, gt_boxes, crowd, floor)
        want = _pairs_by_numpy(det_key, det_boxes, gt_key, gt_boxes, crowd, floor)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(5))
def test_segment_sums_are_numpys_sum_of_each_slice(seed: int) -> None:
    # NumPy sums pairwise (8 partial sums up to 128 items, halves above): lengths 0..300
    # cross each of its regimes, and values spanning many magnitudes make the order show.
    from evaluator.metrics.parallel import kernels

    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 300, 200)
    values = np.exp(-rng.random(int(lengths.sum())) * rng.choice([1.0, 30.0, 700.0]))
    starts = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    sums = np.empty(lengths.shape[0])
    kernels.segment_sums(values, starts, sums)
    want = [np.sum(values[a:b]) for a, b in zip(starts[:-1], starts[1:])]
    np.testing.assert_array_equal(sums, want)


def test_segment_sums_refuse_starts_outside_the_values() -> None:
    from evaluator.metrics.parallel import kernels

    out = np.empty(2)
    with pytest.raises(ValueError, match="outside the values or decreasing"):
        kernels.segment_sums(np.zeros(3), np.array([0, 2, 5], dtype=np.int64), out)
    with pytest.raises(ValueError, match="outside the values or decreasing"):
        kernels.segment_sums(np.zeros(3), np.array([0, 2, 1], dtype=np.int64), out)


def test_match_refuses_a_similarity_block_outside_its_array() -> None:
    from evaluator.metrics.greedy import GroupSimilarity, match_groups

    too_short = GroupSimilarity(np.zeros(3), np.zeros(1, dtype=np.int64))  # 2 x 2 needed
    with pytest.raises(ValueError, match="similarity block outside the array"):
        match_groups(
            np.zeros(2, dtype=np.int64),
            np.zeros((2, 4)),
            np.arange(2, dtype=np.int64),
            np.zeros(2, dtype=np.int64),
            np.zeros((2, 4)),
            np.zeros(2, dtype=bool),
            np.ones(2, dtype=bool),
            np.zeros((1, 2), dtype=bool),
            np.array([[0.0, 1e10]]),
            np.array([0.5]),
            too_short,
        )
