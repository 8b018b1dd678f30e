"""The compiled kernels' building blocks against NumPy, on random inputs full of ties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluator.metrics.matching import stable_order
from evaluator.metrics.pairs import best_pair_per_detection, overlapping_pairs


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


@pytest.mark.parametrize("seed", range(10))
def test_stable_order_by_score_alone_is_numpys_lexsort(seed: int) -> None:
    """Long runs with one tiebreak each take the radix sort of the scores' bits: every
    sign, magnitude, infinity, subnormal and both zeros must order as NumPy orders them."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 20000))
    n_keys = int(rng.integers(1, 6))
    key = rng.integers(0, n_keys, n).astype(np.int64)
    score = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324, 1.0, 0.5])
    picked = rng.random(n) < 0.2
    score[picked] = rng.choice(special, int(picked.sum()))  # ties among the specials
    tiebreak = np.full(n, seed, dtype=np.int64)
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


def _match_two(rows: np.ndarray, similarity: Any = None) -> None:
    """match_groups on one group of two detections and two ground truths."""
    from evaluator.metrics.greedy import match_groups

    match_groups(
        np.zeros(2, dtype=np.int64),
        rows,
        np.zeros((2, 4)),
        np.arange(2, dtype=np.int64),
        np.zeros(2, dtype=np.int64),
        np.zeros((2, 4)),
        np.zeros(2, dtype=bool),
        np.ones(2, dtype=bool),
        np.zeros((1, 2), dtype=bool),
        np.array([[0.0, 1e10]]),
        np.array([0.5]),
        similarity,
    )


def test_match_refuses_a_similarity_block_outside_its_array() -> None:
    from evaluator.metrics.greedy import GroupSimilarity

    too_short = GroupSimilarity(np.zeros(3), np.zeros(1, dtype=np.int64))  # 2 x 2 needed
    with pytest.raises(ValueError, match="similarity block outside the array"):
        _match_two(np.arange(2, dtype=np.int64), too_short)


@pytest.mark.parametrize("seed", range(20))
def test_best_pair_per_detection_is_a_plain_loop(seed: int) -> None:
    """Highest value per detection, ties to the lowest tiebreak then the first pair, -1
    values never winning: against the rule written out as a Python loop."""
    rng = np.random.default_rng(seed)
    n_det = int(rng.integers(0, 60))
    n_pairs = int(rng.integers(0, 300)) if n_det else 0
    pair_det = np.sort(rng.integers(0, max(n_det, 1), n_pairs)).astype(np.int64)
    value = rng.choice(np.array([-1.0, 0.0, 0.1, 0.5, 0.5, 0.75, 1.0]), n_pairs)
    tiebreak = rng.integers(0, 4, n_pairs).astype(np.int64)
    got_value, got_pair = best_pair_per_detection(pair_det, value, tiebreak, n_det)
    want_value, want_pair = np.full(n_det, -1.0), np.full(n_det, -1, dtype=np.int64)
    for p in range(n_pairs):
        d = pair_det[p]
        best = want_pair[d]
        if value[p] < 0:
            continue
        if best < 0 or (value[p], -tiebreak[p]) > (value[best], -tiebreak[best]):
            want_value[d], want_pair[d] = value[p], p
    np.testing.assert_array_equal(got_pair, want_pair)
    np.testing.assert_array_equal(got_value, want_value)


def test_match_refuses_a_detection_row_outside_the_boxes() -> None:
    with pytest.raises(ValueError, match=r"det_row\[1\]: outside the rows"):
        _match_two(np.array([0, 2], dtype=np.int64))  # two boxes: row 2 is past them
