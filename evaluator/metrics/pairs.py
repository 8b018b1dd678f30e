"""(detection, ground truth) pairs that share a key (an image, or an image and a class).

Every matcher in the package starts here: COCO matching, the confusion matrix and the
TIDE error breakdown all compare each detection only with the ground truth of its own
image (and class), and most of those pairs do not overlap at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluator.geometry.boxes import paired_iou

# Pairs handled per chunk, so that memory stays bounded on crowded images.
_PAIR_CHUNK = 1 << 21


def overlapping_pairs(
    det_key: NDArray[np.int64],
    det_boxes: NDArray[np.float64],
    gt_key: NDArray[np.int64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    min_iou: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Every pair with equal keys whose COCO IoU is at least ``min_iou``.

    Parameters
    ----------
    det_key : ndarray of shape (n,), dtype int64
    det_boxes : ndarray of shape (n, 4), dtype float64
        ``xywh``.
    gt_key : ndarray of shape (m,), dtype int64
    gt_boxes : ndarray of shape (m, 4), dtype float64
        ``xywh``.
    gt_crowd : ndarray of shape (m,), dtype bool
        Crowd regions, whose IoU is over the detection's area (see ``paired_iou``).
    min_iou : float
        ``-inf`` keeps every pair with equal keys.

    Returns
    -------
    pair_det, pair_gt : ndarray of shape (P,), dtype int64
        Indices into the detections and the ground truth, sorted by detection, then by
        ground-truth index.
    iou : ndarray of shape (P,), dtype float64
    """
    gt_order = np.argsort(gt_key, kind="stable")
    sorted_key = gt_key[gt_order]
    first = np.searchsorted(sorted_key, det_key, side="left")  # (n,)
    count = np.searchsorted(sorted_key, det_key, side="right") - first  # (n,)
    pair_end = np.cumsum(count)  # (n,)
    dets_out, gts_out, ious_out = [], [], []
    d0 = 0
    while d0 < det_key.shape[0]:
        # Take detections until about _PAIR_CHUNK pairs.
        base = pair_end[d0 - 1] if d0 else 0
        d1 = max(int(np.searchsorted(pair_end, base + _PAIR_CHUNK, side="right")), d0 + 1)
        d1 = min(d1, det_key.shape[0])
        det = np.repeat(np.arange(d0, d1), count[d0:d1])  # (p,)
        offset = np.arange(det.shape[0]) - np.repeat(
            pair_end[d0:d1] - count[d0:d1] - base, count[d0:d1]
        )  # (p,) position of the pair within its detection's run
        gt = gt_order[first[det] + offset]  # (p,)
        iou = paired_iou(det_boxes[det], gt_boxes[gt], gt_crowd[gt])  # (p,)
        near = iou >= min_iou
        dets_out.append(det[near])
        gts_out.append(gt[near])
        ious_out.append(iou[near])
        d0 = d1
    if not dets_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return np.concatenate(dets_out), np.concatenate(gts_out), np.concatenate(ious_out)
