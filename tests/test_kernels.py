"""The compiled kernels' building blocks against NumPy, on random inputs full of ties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluator.metrics.matching import stable_order
from evaluator.metrics.pairs import best_pair_per_detection, overlapping_pairs
from evaluator.metrics.parallel import kernels


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
    no_tiebreak = stable_order(key, score, None, n_keys)
    np.testing.assert_array_equal(no_tiebreak, np.lexsort((-score, key)))


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
    want = np.lexsort((tiebreak, -score, key))
    np.testing.assert_array_equal(stable_order(key, score, tiebreak, n_keys), want)
    np.testing.assert_array_equal(stable_order(key, score, None, n_keys), want)  # no tiebreak


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
        # The same boxes read through rows of a shuffled table.
        rows = rng.permutation(n)
        table = np.empty_like(det_boxes)
        table[rows] = det_boxes
        got = overlapping_pairs(det_key, table, gt_key, gt_boxes, crowd, floor, det_rows=rows)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_pair_iou_is_box_iou_on_touching_huge_and_nan_boxes() -> None:
    """The pairs kernel compares where box_iou calls fmin and fmax: on boxes that touch,
    overflow or hold NaN its IoUs must still be box_iou's, bit for bit."""
    from evaluator.masks import _rle

    values = np.array([0.0, -0.0, 1.0, 2.5, 1e308, np.inf, -np.inf, np.nan, 5e-324])
    rng = np.random.default_rng(7)
    boxes, gt_boxes = rng.choice(values, (400, 4)), rng.choice(values, (40, 4))
    crowd = rng.random(40) < 0.3
    det, gt, iou = overlapping_pairs(
        np.zeros(400, np.int64), boxes, np.zeros(40, np.int64), gt_boxes, crowd, -np.inf
    )
    table = np.empty((400, 40))
    _rle.box_iou(boxes, gt_boxes, crowd.astype(np.uint8), table)
    np.testing.assert_array_equal(iou.view(np.int64), table[det, gt].view(np.int64))


def _oks_by_numpy(det_kp: Any, gt_kp: Any, gt_box: Any, gt_area: Any, sigmas: Any) -> Any:
    """(D, G) OKS as pycocotools' computeOks computes them, pair by pair."""
    variances = (sigmas * 2) ** 2
    ious = np.zeros((det_kp.shape[0], gt_kp.shape[0]))
    for j, (g, bb, area) in enumerate(zip(gt_kp, gt_box, gt_area, strict=True)):
        xg, yg, vg = g[:, 0], g[:, 1], g[:, 2]
        k1 = np.count_nonzero(vg > 0)
        x0, x1, y0, y1 = bb[0] - bb[2], bb[0] + bb[2] * 2, bb[1] - bb[3], bb[1] + bb[3] * 2
        for i, d in enumerate(det_kp):
            xd, yd = d[:, 0], d[:, 1]
            if k1 > 0:
                dx, dy = xd - xg, yd - yg
            else:
                z = np.zeros(sigmas.shape[0])
                dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
            e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
            if k1 > 0:
                e = e[vg > 0]
            ious[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return ious


@pytest.mark.parametrize("k", [1, 5, 17, 40, 150, 300])
def test_oks_is_computeoks_bit_for_bit(k: int) -> None:
    # K past 8 and 128 crosses each regime of NumPy's pairwise sum; results far from
    # small ground truths give terms beyond the underflow of exp (left out of NumPy's exp)
    # and near it (denormal results); a third of the ground truths have no labelled point.
    from evaluator.metrics.keypoint_similarity import keypoint_similarity

    rng = np.random.default_rng(k)
    n_det, n_gt = 12, 7
    det_kp = rng.random((n_det, k, 3)) * rng.choice([10.0, 300.0, 3000.0], (n_det, 1, 1))
    gt_kp = rng.random((n_gt, k, 3)) * 300
    gt_kp[:, :, 2] = rng.integers(0, 3, (n_gt, k)) * (rng.random((n_gt, 1)) < 0.66)
    gt_box = np.c_[rng.random((n_gt, 2)) * 200, rng.random((n_gt, 2)) * 50]
    gt_area = rng.choice([0.5, 4.0, 38.0, 5e3], n_gt)
    sigmas = rng.random(k) * 0.1 + 0.02
    det_rows = rng.permutation(n_det).astype(np.int64)
    # Two groups: detections 0..4 with ground truths 0..2, the others with 3..6.
    det_start, gt_lo, gt_hi = (np.array(a, dtype=np.int64) for a in ([0, 5, 12], [0, 3], [3, 7]))
    got = keypoint_similarity(
        det_start, gt_lo, gt_hi, det_kp, det_rows, gt_kp, gt_box, gt_area, sigmas
    )
    blocks = []
    for g in range(2):
        rows = det_rows[det_start[g] : det_start[g + 1]]
        span = slice(gt_lo[g], gt_hi[g])
        oks = _oks_by_numpy(det_kp[rows], gt_kp[span], gt_box[span], gt_area[span], sigmas)
        blocks.append(oks.ravel())
    assert got.block_start.tolist() == [0, 15]
    assert got.values.tobytes() == np.concatenate(blocks).tobytes()


def test_exp_beyond_the_oks_cut_is_zero() -> None:
    # The OKS kernels count exp(-e) as 0.0 for e > 750 instead of asking NumPy: true of
    # NumPy's exp on arrays of any length (its SIMD loops and their tails) and on scalars.
    for n in (1, 3, 8, 17, 64):
        assert not np.exp(-np.linspace(750.0, 1e300, n)).any()
    assert np.exp(np.float64(-750.0)) == 0.0 and np.exp(-np.inf) == 0.0


def test_oks_kernels_refuse_groups_outside_the_arrays() -> None:
    from evaluator.metrics.parallel import kernels

    one = np.zeros((1, 1, 3))
    ints = [np.array(a, dtype=np.int64) for a in ([0, 1], [0], [2], [0])]  # gt_hi past G
    with pytest.raises(ValueError, match="outside the arrays"):
        kernels.oks_group_terms(
            *ints, one, one, np.zeros((1, 4)), np.ones(1), np.ones(1), 0, 1, np.zeros(1),
            np.zeros(1),
        )  # fmt: skip
    with pytest.raises(ValueError, match="outside the arrays"):
        kernels.oks_group_means(*ints[:3], one, 1, 0, 1, np.zeros(1), np.zeros(1), np.zeros(1))


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


@pytest.mark.parametrize("seed", range(10))
def test_best_pair_per_set_is_each_set_alone(seed: int) -> None:
    """Several sets in one pass: each set's best as best_pair_per_detection finds it with
    the pairs outside the set disqualified."""
    from evaluator.metrics.pairs import best_pair_per_set

    rng = np.random.default_rng(50 + seed)
    n_det = int(rng.integers(1, 60))
    n_pairs = int(rng.integers(0, 300))
    pair_det = np.sort(rng.integers(0, n_det, n_pairs)).astype(np.int64)
    value = rng.choice(np.array([-1.0, 0.0, 0.1, 0.5, 0.5, 0.75, 1.0, np.nan]), n_pairs)
    tiebreak = rng.integers(0, 4, n_pairs).astype(np.int64)
    sets = rng.integers(0, 8, n_pairs).astype(np.uint8)
    got_value, got_pair = best_pair_per_set(pair_det, sets, value, tiebreak, n_det, 3)
    for s in range(3):
        alone = np.where((sets >> s) & 1 == 1, value, -1.0)
        want_value, want_pair = best_pair_per_detection(pair_det, alone, tiebreak, n_det)
        np.testing.assert_array_equal(got_pair[s], want_pair)
        np.testing.assert_array_equal(got_value[s], want_value)


@pytest.mark.parametrize("seed", range(10))
def test_nearest_ground_truth_is_the_best_pair(seed: int) -> None:
    """Without forming the pairs: the pair best_pair_per_detection picks (highest IoU,
    the lowest ground-truth index on a tie), or -1."""
    from evaluator.metrics.pairs import nearest_ground_truth

    rng = np.random.default_rng(200 + seed)
    n, m = int(rng.integers(0, 150)), int(rng.integers(0, 80))
    det_key = rng.integers(-1, 6, n).astype(np.int64)
    gt_key = rng.integers(0, 6, m).astype(np.int64)
    det_boxes = np.round(rng.uniform(0, 20, (n, 4)), 0)  # coarse: equal IoUs happen
    gt_boxes = np.round(rng.uniform(0, 20, (m, 4)), 0)
    crowd = rng.random(m) < 0.2
    for floor in (0.0, 0.3):
        got = nearest_ground_truth(det_key, det_boxes, gt_key, gt_boxes, crowd, floor)
        det, gt, iou = overlapping_pairs(det_key, det_boxes, gt_key, gt_boxes, crowd, floor)
        _, best = best_pair_per_detection(det, iou, gt, n)
        want = np.where(best >= 0, gt[best] if gt.size else 0, -1)
        np.testing.assert_array_equal(got, want)
        # With classes: the same as keys that combine key and class.
        det_class = rng.integers(0, 3, n).astype(np.int64)
        gt_class = rng.integers(0, 3, m).astype(np.int64)
        got = nearest_ground_truth(
            det_key, det_boxes, gt_key, gt_boxes, crowd, floor, det_class, gt_class
        )
        det_both = np.where(det_key >= 0, det_key * 3 + det_class, -1)
        want = nearest_ground_truth(
            det_both, det_boxes, gt_key * 3 + gt_class, gt_boxes, crowd, floor
        )
        np.testing.assert_array_equal(got, want)


def test_nearest_ground_truth_takes_classes_on_both_sides_or_neither() -> None:
    from evaluator.metrics.pairs import nearest_ground_truth

    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="both or neither"):
        nearest_ground_truth(one, np.ones((1, 4)), one, np.ones((1, 4)), one == 1, 0.5, one)


def test_pair_kernels_refuse_a_key_table_that_points_outside_the_ground_truth() -> None:
    """A run past the ground truth is refused with the detection, found inside the loop
    that reads it (with the GIL released), before anything is read out of bounds."""
    from evaluator.metrics.parallel import kernels

    key_start = np.array([0, 1, 5], dtype=np.int64)  # key 1's run: 4 of 2 ground truths
    det_slot = np.array([0, 1], dtype=np.int64)
    gt_order = np.arange(2, dtype=np.int64)
    boxes, crowd = np.ones((2, 4)), np.zeros(2, dtype=np.uint8)
    none = np.zeros(0, dtype=np.int64)
    out = [np.empty(8, np.int64), np.empty(8, np.int64), np.empty(8)]
    with pytest.raises(ValueError, match="detection 1: its key's run is outside"):
        kernels.pairs(key_start, det_slot, gt_order, none, boxes, boxes, crowd, 0.0, 0, 2, *out)
    with pytest.raises(ValueError, match="detection 1: its key's run is outside"):
        kernels.nearest(
            key_start, det_slot, gt_order, boxes, boxes, crowd, none, none, 0.0, 0, 2, out[0][:2]
        )
    with pytest.raises(ValueError, match="key_start: needs at least one item"):
        kernels.pair_candidates(none, det_slot, 0, 2)
    with pytest.raises(ValueError, match="room for 0 pairs"):
        kernels.pairs(key_start[:2], det_slot, gt_order, none, boxes, boxes, crowd, 0.0, 0, 2,
                      none, none, np.zeros(0))  # fmt: skip


@pytest.mark.parametrize("seed", range(10))
def test_ranked_columns_are_the_values_in_stable_order(seed: int) -> None:
    """Grouped as read, each group sorted in place: the values in stable_order's order,
    on short groups (merge sort) and long ones (radix), with ties and both zeros."""
    from evaluator.metrics.matching import ranked_columns

    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(0, 20000))
    n_keys = int(rng.integers(1, 40))
    key = (rng.integers(0, n_keys, n) ** 2 % n_keys).astype(np.int64)  # uneven groups
    specials = np.array([0.9, 0.5, 0.0, -0.0, 1e-300, -np.inf, np.inf])
    score = np.where(rng.random(n) < 0.3, rng.choice(specials, n), rng.random(n))
    column = rng.integers(-5, 10**12, n).astype(np.int64)
    start = np.empty(n_keys + 1, dtype=np.int64)
    ranked_score, ranked_column = ranked_columns(key, score, n_keys, start, column)
    want = stable_order(key, score, None, n_keys)
    np.testing.assert_array_equal(ranked_score, score[want])
    np.testing.assert_array_equal(np.signbit(ranked_score), np.signbit(score[want]))
    np.testing.assert_array_equal(ranked_column, column[want])
    np.testing.assert_array_equal(start, np.r_[0, np.cumsum(np.bincount(key, minlength=n_keys))])


@pytest.mark.parametrize("seed", range(10))
def test_ranked_claims_is_a_plain_loop(seed: int) -> None:
    """VOC's rule, walked in rank order: a detection aimed at hard ground truth is
    ignored; the first kept one aimed at a ground truth takes it; the rest are false."""
    rng = np.random.default_rng(400 + seed)
    n_det, n_gt = int(rng.integers(0, 300)), int(rng.integers(0, 40))
    target = (
        rng.integers(-1, max(n_gt, 1), n_det).astype(np.int64)
        if n_gt
        else -np.ones(n_det, dtype=np.int64)
    )
    hard = (rng.random(n_gt) < 0.2).astype(np.uint8)
    flags = np.empty(n_det, dtype=np.uint8)
    n_tp = kernels.ranked_claims(target, hard, flags)
    taken: set[int] = set()
    want = []
    for t in target.tolist():
        if t >= 0 and hard[t]:
            want.append(0)
        elif t >= 0 and t not in taken:
            taken.add(t)
            want.append(3)
        else:
            want.append(1)
    np.testing.assert_array_equal(flags, np.array(want, dtype=np.uint8))
    assert n_tp == len(taken)


def test_ranked_claims_and_curves_refuse_what_does_not_fit() -> None:
    flags = np.empty(2, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"target\[1\]: outside"):
        kernels.ranked_claims(np.array([0, 2], np.int64), np.zeros(2, np.uint8), flags)
    flags = np.array([3, 1], dtype=np.uint8)  # a true positive, then a false positive
    bounds, n_pos = np.array([0, 2], np.int64), np.array([1], np.int64)
    precision, recall, score = np.empty((3, 1))
    with pytest.raises(ValueError, match="room for 1, 2 to write"):
        kernels.ranked_curves(
            bounds, flags, n_pos, np.ones(2), precision, recall, score, np.empty(1, np.uint8),
            np.empty(2, np.int64), np.empty(2, np.int64), True,
        )  # fmt: skip
    with pytest.raises(ValueError, match="class 0: bounds outside"):
        kernels.ranked_curves(
            np.array([0, 3], np.int64), flags, n_pos, np.ones(2), precision, recall, score,
            np.empty(1, np.uint8), np.empty(2, np.int64), np.empty(2, np.int64), False,
        )  # fmt: skip


def test_counting_sorts_refuse_keys_outside_their_range() -> None:
    key = np.array([0, 2, 1], dtype=np.int64)
    start = np.empty(3, dtype=np.int64)
    values = np.zeros(3), np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"key\[1\]: outside \[0, n_keys\)"):
        kernels.order_by_key(key, 2, np.empty(3, dtype=np.int64), start)
    with pytest.raises(ValueError, match=r"key\[1\]: outside \[0, n_keys\)"):
        kernels.group_by_key(key, 2, *values, start, np.empty(3), np.empty(3, dtype=np.int64))
    with pytest.raises(ValueError, match="n_keys: out of range"):
        kernels.group_by_key(key, -1, *values, start, np.empty(3), np.empty(3, dtype=np.int64))
