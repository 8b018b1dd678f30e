"""Mask IoU of every pair in a group, as pycocotools' ``computeIoU`` for segm (``iou``).

The pairs are the groups' blocks of :func:`keypoint_similarity.pair_rows`; each IoU is
maskApi.c's ``rleIou`` in the compiled kernel of :mod:`evaluator.masks` (the boxes of
the two masks first, then, where they overlap, the runs), with crowd semantics:
intersection over the detection's area for a crowd ground truth. Chunks of pairs run
on every core.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluator.masks import RunLengths
from evaluator.masks.compressed import MaskBatch, pair_iou_into
from evaluator.metrics.greedy import GroupSimilarity
from evaluator.metrics.keypoint_similarity import pair_rows
from evaluator.metrics.parallel import run_in_chunks


def mask_similarity(
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    det_masks: MaskBatch,
    det_rows: NDArray[np.int64],
    gt_masks: RunLengths,
    gt_rows: NDArray[np.int64],
    gt_crowd: NDArray[np.bool_],
) -> GroupSimilarity:
    """Mask IoU of every pair of the groups, in the blocks :func:`match_groups` reads.

    Parameters
    ----------
    det_start, gt_lo, gt_hi : ndarray of dtype int64
        The groups, as :func:`evaluator.metrics.greedy.group_bounds` gives them.
    det_masks : RunLengths or CompressedMasks
        The results' masks.
    det_rows : ndarray of shape (D,), dtype int64
        Mask of each detection row (in the groups' order) in ``det_masks``.
    gt_masks : RunLengths
        The ground truth's masks, one per annotation.
    gt_rows : ndarray of shape (G,), dtype int64
        Mask of each ground-truth row in ``gt_masks``.
    gt_crowd : ndarray of shape (G,), dtype bool
        Crowd flag of each ground-truth row.

    Returns
    -------
    GroupSimilarity
    """
    pair_det, pair_gt, block_start = pair_rows(det_start, gt_lo, gt_hi)
    dt = np.ascontiguousarray(det_rows[pair_det], dtype=np.int64)  # (P,) mask rows
    gt = np.ascontiguousarray(gt_rows[pair_gt], dtype=np.int64)  # (P,)
    crowd = np.zeros(len(gt_masks), dtype=np.uint8)
    crowd[gt_rows] = gt_crowd
    dt_box, gt_box = det_masks.to_bbox(), gt_masks.to_bbox()
    values = np.empty(dt.shape[0], dtype=np.float64)

    def run(first: int, last: int) -> None:
        pair_iou_into(
            det_masks, dt_box, gt_masks, gt_box, crowd, dt[first:last], gt[first:last],
            values[first:last],
        )  # fmt: skip

    run_in_chunks(run, np.ones(dt.shape[0], dtype=np.int64))
    return GroupSimilarity(values, block_start)
