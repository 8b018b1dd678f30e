"""COCO's greedy matching, group by group, in the compiled kernel, on every core.

The kernel (``_kernels.match``, C) computes the IoU of each (detection, ground truth)
pair of a group, or reads it from blocks computed beforehand (keypoint similarity), and
steps through the detections in rank order at every area range and IoU threshold. It
releases the GIL, so chunks of groups run in parallel threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.parallel import kernels, run_in_chunks

# A detection's outcome at one area range and IoU threshold, one byte in a plane of them
# (0: a false positive). Bits: where callers combine them, both read as a true positive.
TRUE_POSITIVE = 1
IGNORED = 2


@dataclass(frozen=True, eq=False)
class GroupMatches:
    """What the greedy matching decides for each detection, in output column order.

    Attributes
    ----------
    matched : ndarray of shape (T, D) or (0, D), dtype int32
        Ground truth each detection matches in the first area range, -1 for none; no
        rows when not asked for.
    outcome : ndarray of shape (A, T, D), dtype uint8
        :data:`TRUE_POSITIVE`, :data:`IGNORED`, or 0 for a false positive.
    """

    matched: NDArray[np.int32]
    outcome: NDArray[np.uint8]


@dataclass(frozen=True, eq=False)
class GroupSimilarity:
    """IoU-like similarity of every (detection, ground truth) pair, group by group.

    Attributes
    ----------
    values : ndarray of shape (P,), dtype float64
        Group k's block, shape (detections, ground truths) in the orders
        :func:`match_groups` takes them, row-major, from ``block_start[k]``.
    block_start : ndarray of shape (K,), dtype int64
    """

    values: NDArray[np.float64]
    block_start: NDArray[np.int64]

    @classmethod
    def none(cls) -> GroupSimilarity:
        """No similarity given: the kernel computes box IoU."""
        return cls(np.zeros(0, np.float64), np.zeros(0, np.int64))


#: (det_start (K + 1,), gt_lo (K,), gt_hi (K,)), int64: what :func:`group_bounds` gives.
GroupBounds = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def group_bounds(det_group: NDArray[np.int64], gt_group: NDArray[np.int64]) -> GroupBounds:
    """The groups that have detections, and where their rows are.

    Returns
    -------
    det_start : ndarray of shape (K + 1,), dtype int64
        Group k's detections are ``det_start[k]:det_start[k + 1]``.
    gt_lo, gt_hi : ndarray of shape (K,), dtype int64
        Group k's ground truths are ``gt_lo[k]:gt_hi[k]``.
    """
    det_start = np.flatnonzero(np.r_[True, det_group[1:] != det_group[:-1], True])
    det_start = det_start.astype(np.int64) if det_group.shape[0] else np.zeros(1, np.int64)
    groups = det_group[det_start[:-1]]  # (K,)
    gt_lo = np.searchsorted(gt_group, groups, side="left").astype(np.int64)
    gt_hi = np.searchsorted(gt_group, groups, side="right").astype(np.int64)
    return det_start, gt_lo, gt_hi


def match_groups(
    det_group: NDArray[np.int64],
    det_rows: NDArray[np.int64],
    det_boxes: NDArray[np.float64],
    det_position: NDArray[np.int64],
    gt_group: NDArray[np.int64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    gt_counts: NDArray[np.bool_],
    gt_ignored: NDArray[np.bool_],
    area_ranges: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    similarity: GroupSimilarity | None = None,
    det_areas: NDArray[np.float64] | None = None,
    with_matches: bool = True,
    bounds: GroupBounds | None = None,
) -> GroupMatches:
    """Greedy matching of every group at every area range and threshold, and its outcome.

    Parameters
    ----------
    det_group : ndarray of shape (D,), dtype int64
        Group of each detection, ascending; inside a group, detections by rank.
    det_rows : ndarray of shape (D,), dtype int64
        Row of each detection in ``det_boxes`` and ``det_areas`` (read in place, not
        gathered: at COCO's scale a gathered copy is tens of megabytes).
    det_boxes : ndarray of shape (N, 4), dtype float64
        ``xywh``; the area a detection is judged by is ``w * h`` (pycocotools' loadRes).
    det_position : ndarray of shape (D,), dtype int64
        Column of each detection in the outputs (a permutation of ``0..D-1``).
    gt_group : ndarray of shape (G,), dtype int64
        Group of each ground truth, ascending; inside a group, pycocotools' list order.
    gt_boxes : ndarray of shape (G, 4), dtype float64
    gt_crowd : ndarray of shape (G,), dtype bool
    gt_counts : ndarray of shape (G,), dtype bool
        False where a match reads as no match (annotation id 0 in pycocotools mode).
    gt_ignored : ndarray of shape (A, G), dtype bool
        Ignored ground truth in each area range.
    area_ranges : ndarray of shape (A, 2), dtype float64
        ``lo, hi`` of each area range.
    thresholds : ndarray of shape (T,), dtype float64
        IoU thresholds, already capped at ``1 - 1e-10`` as pycocotools does.
    similarity : GroupSimilarity, optional
        The similarity of every pair, computed beforehand for the groups of
        :func:`group_bounds`; None: the box IoU of ``det_boxes`` and ``gt_boxes``.
    det_areas : ndarray of shape (N,), dtype float64, optional
        The area each detection is judged by; None: ``w * h`` of its box.
    with_matches : bool
        Whether to keep which ground truth each detection matched (``matched``); without
        it, ``matched`` has no rows.
    bounds : (det_start, gt_lo, gt_hi), optional
        ``group_bounds(det_group, gt_group)``, when the caller has it already.

    Returns
    -------
    GroupMatches
    """
    n_area, n_thr, n_det = gt_ignored.shape[0], thresholds.shape[0], det_group.shape[0]
    matched = np.full((n_thr if with_matches else 0, n_det), -1, dtype=np.int32)
    outcome = np.zeros((n_area, n_thr, n_det), dtype=np.uint8)
    det_start, gt_lo, gt_hi = bounds if bounds is not None else group_bounds(det_group, gt_group)
    given = similarity if similarity is not None else GroupSimilarity.none()
    boxes = np.ascontiguousarray(det_boxes, dtype=np.float64)
    # None: the kernel takes w * h of each box (no column of D areas held meanwhile).
    no_areas = np.zeros(0, dtype=np.float64)
    det_area = no_areas if det_areas is None else np.ascontiguousarray(det_areas, np.float64)
    position = np.ascontiguousarray(det_position, dtype=np.int64)
    rows = np.ascontiguousarray(det_rows, dtype=np.int64)
    gt_box = np.ascontiguousarray(gt_boxes, dtype=np.float64)
    crowd = np.ascontiguousarray(gt_crowd, dtype=np.uint8)
    counts = np.ascontiguousarray(gt_counts, dtype=np.uint8)
    gt_ign = np.ascontiguousarray(gt_ignored, dtype=np.uint8)
    ranges = np.ascontiguousarray(area_ranges, dtype=np.float64)
    capped = np.ascontiguousarray(thresholds, dtype=np.float64)

    def run(first: int, last: int) -> None:
        kernels.match(
            det_start,
            gt_lo,
            gt_hi,
            rows,
            boxes,
            det_area,
            position,
            gt_box,
            crowd,
            counts,
            gt_ign,
            ranges,
            capped,
            given.values,
            given.block_start,
            matched,
            outcome,
            first,
            last,
        )

    run_in_chunks(run, np.diff(det_start) * (gt_hi - gt_lo + 1))  # work: pairs per group
    return GroupMatches(matched, outcome)
