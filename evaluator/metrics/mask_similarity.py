"""Mask IoU of every pair in a group, as pycocotools' ``computeIoU`` for segm (``iou``).

The pairs are the groups' blocks of :func:`keypoint_similarity.pair_rows`, computed group
by group without listing them; each IoU is maskApi.c's ``rleIou`` in the compiled kernel
of :mod:`evaluator.masks` (the boxes of the two masks first, then, where they overlap,
the runs, each detection's mask decoded once), with crowd semantics: intersection over
the detection's area for a crowd ground truth. Chunks of groups run on every core.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluator.masks import RunLengths
from evaluator.masks.compressed import Groups, MaskBatch, group_iou_into
from evaluator.metrics.greedy import GroupSimilarity
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
    gt_measures: tuple[NDArray[np.float64], NDArray[np.uint32]] | None = None,
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
    gt_measures : (boxes (n, 4) float64, areas (n,) uint32), optional
        ``gt_masks.to_bbox()`` and ``gt_masks.area()``, when the caller has them already.

    Returns
    -------
    GroupSimilarity
    """
    n_det = np.diff(det_start)  # (K,) per group
    block_size = n_det * (gt_hi - gt_lo)
    block_start = np.zeros(block_size.shape[0], dtype=np.int64)
    np.cumsum(block_size[:-1], out=block_start[1:])
    crowd = np.zeros(len(gt_masks), dtype=np.uint8)
    crowd[gt_rows] = gt_crowd
    dt_measures = None  # strings not measured: measured in their groups, as needed
    if isinstance(det_masks, RunLengths) or det_masks.boxes is not None:
        dt_measures = det_masks.to_bbox(), det_masks.area()
    if gt_measures is None:
        gt_measures = gt_masks.to_bbox(), gt_masks.area()
    values = np.empty(int(block_size.sum()), dtype=np.float64)
    groups = Groups(
        *(
            np.ascontiguousarray(a, dtype=np.int64)
            for a in (det_rows, gt_rows, det_start, gt_lo, gt_hi, block_start)
        )
    )

    def run(first: int, last: int) -> None:
        group_iou_into(
            det_masks, dt_measures, gt_masks, gt_measures, crowd, groups, values, first, last
        )

    run_in_chunks(run, block_size + n_det)
    return GroupSimilarity(values, block_start)
