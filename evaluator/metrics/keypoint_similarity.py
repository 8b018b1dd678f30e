"""Object keypoint similarity (OKS) of every pair in a group, as pycocotools' ``computeOks``.

For a detection d and a ground truth g with K keypoints, pycocotools computes, per
keypoint, ``e = (dx**2 + dy**2) / (2 * sigma)**2 / (area + eps) / 2`` where ``dx, dy``
are d's offsets from g's keypoints, or, when g has no labelled keypoint (all
visibilities 0), d's distances outside g's box grown by its size on every side. The
similarity is the mean of ``exp(-e)`` over g's labelled keypoints (over all K when none
is labelled).

The compiled kernels write every pair's terms ``-e`` with pycocotools' operations in its
order; ``exp`` is NumPy's own (its SIMD version can differ from the C library's in the
last bit), taken of the terms above about -745 only (below, every ``exp`` gives 0.0, and
NumPy's underflow path is slow); the kernels then sum each pair's ``exp(-e)`` as NumPy's
pairwise summation does, so every double equals pycocotools'. The groups are done a
range at a time, over the cores, so that no array of all the terms is ever held.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.greedy import GroupSimilarity
from evaluator.metrics.parallel import kernels, run_in_chunks

EPS = np.spacing(1)  # pycocotools adds it to the area
_BATCH_TERMS = 1 << 17  # terms computed at a time by one thread (two arrays of this size)


def pair_rows(
    det_start: NDArray[np.int64], gt_lo: NDArray[np.int64], gt_hi: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Every (detection, ground truth) pair of every group, groups' blocks row-major.

    Returns
    -------
    pair_det, pair_gt : ndarray of shape (P,), dtype int64
        Rows of the pair's detection and ground truth.
    block_start : ndarray of shape (K,), dtype int64
        Index of group k's first pair.
    """
    n_det = np.diff(det_start)
    n_gt = gt_hi - gt_lo
    block_size = n_det * n_gt
    block_start = np.r_[0, np.cumsum(block_size)[:-1]].astype(np.int64)
    group = np.repeat(np.arange(n_det.shape[0]), block_size)
    within = np.arange(int(block_size.sum())) - block_start[group]
    pair_det = det_start[:-1][group] + within // n_gt[group]
    pair_gt = gt_lo[group] + within % n_gt[group]
    return pair_det, pair_gt, block_start


def keypoint_similarity(
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    det_keypoints: NDArray[np.float64],
    det_rows: NDArray[np.int64],
    gt_keypoints: NDArray[np.float64],
    gt_boxes: NDArray[np.float64],
    gt_areas: NDArray[np.float64],
    sigmas: NDArray[np.float64],
) -> GroupSimilarity:
    """OKS of every pair of the groups, in the blocks :func:`match_groups` reads.

    Parameters
    ----------
    det_start, gt_lo, gt_hi : ndarray of dtype int64
        The groups, as :func:`evaluator.metrics.greedy.group_bounds` gives them.
    det_keypoints : ndarray of shape (N, K, 3), dtype float64
        ``x, y, v`` of every result's keypoints (``v`` is not read).
    det_rows : ndarray of shape (D,), dtype int64
        Row of each detection (in the groups' order) in ``det_keypoints``.
    gt_keypoints : ndarray of shape (G, K, 3), dtype float64
        ``x, y, v``; a keypoint is labelled when ``v > 0``.
    gt_boxes : ndarray of shape (G, 4), dtype float64
        ``xywh``; bounds the distances of a ground truth with no labelled keypoint.
    gt_areas : ndarray of shape (G,), dtype float64
    sigmas : ndarray of shape (K,), dtype float64

    Returns
    -------
    GroupSimilarity
    """
    n_keypoints = sigmas.shape[0]
    det_start, gt_lo, gt_hi, det_rows = (
        np.ascontiguousarray(a, dtype=np.int64) for a in (det_start, gt_lo, gt_hi, det_rows)
    )
    det_points = np.ascontiguousarray(det_keypoints, dtype=np.float64)
    gt_points = np.ascontiguousarray(gt_keypoints, dtype=np.float64)
    boxes = np.ascontiguousarray(gt_boxes, dtype=np.float64)
    areas, variances = gt_areas + EPS, (sigmas * 2) ** 2
    labelled = np.count_nonzero(gt_points[:, :, 2] > 0, axis=1)  # (G,)
    per_gt = np.r_[0, np.cumsum(np.where(labelled > 0, labelled, n_keypoints))]  # (G + 1,)
    n_det = np.diff(det_start)
    pair_start = np.r_[0, np.cumsum(n_det * (gt_hi - gt_lo))]  # (n + 1,), by group
    term_start = np.r_[0, np.cumsum(n_det * (per_gt[gt_hi] - per_gt[gt_lo]))]
    values = np.empty(int(pair_start[-1]), dtype=np.float64)

    def batch(first: int, last: int) -> None:  # groups first..last-1
        n_terms = int(term_start[last] - term_start[first])
        terms, small = np.empty(n_terms), np.empty(n_terms)
        kept = kernels.oks_group_terms(
            det_start, gt_lo, gt_hi, det_rows, det_points, gt_points, boxes, areas, variances,
            first, last, terms, small,
        )  # fmt: skip
        np.exp(small[:kept], out=small[:kept])  # NumPy's exp, as pycocotools' np.exp(-e)
        kernels.oks_group_means(
            det_start, gt_lo, gt_hi, gt_points, n_keypoints, first, last, terms, small,
            values[pair_start[first] : pair_start[last]],
        )  # fmt: skip

    def run(first: int, last: int) -> None:  # in batches of about _BATCH_TERMS terms
        cuts = np.searchsorted(
            term_start, np.arange(term_start[first], term_start[last], _BATCH_TERMS)[1:]
        )
        bounds = np.unique(np.r_[first, cuts.clip(first + 1, last), last]).tolist()
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
            batch(lo, hi)

    run_in_chunks(run, np.diff(term_start) + 1)
    return GroupSimilarity(values, pair_start[:-1].astype(np.int64))
