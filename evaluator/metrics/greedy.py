"""COCO's greedy matching, group by group, in the compiled kernel, on every core.

The kernel (``_kernels.match``, C) computes the IoU of each (detection, ground truth)
pair of a group and steps through the detections in rank order at every area range and
IoU threshold. It releases the GIL, so chunks of groups run in parallel threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

try:
    from evaluator.metrics import _kernels
except ImportError:  # a checkout used without installing it
    raise ImportError(
        "evaluator's compiled engine (evaluator.metrics._kernels) is not built: install the "
        "package (pip install -e . builds it; a C compiler is needed)"
    ) from None

# Below this many (detection, ground truth) pairs, threads cost more than they save.
_PAIRS_PER_CHUNK = 1 << 16


def _threads() -> int:
    """Cores this process may use (``DETEVAL_THREADS`` overrides; at least 1)."""
    configured = os.environ.get("DETEVAL_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 1)


def match_groups(
    det_group: NDArray[np.int64],
    det_boxes: NDArray[np.float64],
    gt_group: NDArray[np.int64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    gt_ignored: NDArray[np.bool_],
    thresholds: NDArray[np.float64],
) -> NDArray[np.int32]:
    """Greedy matching of every group at every area range and threshold.

    Parameters
    ----------
    det_group : ndarray of shape (D,), dtype int64
        Group of each detection, ascending; inside a group, detections by rank.
    det_boxes : ndarray of shape (D, 4), dtype float64
        ``xywh``.
    gt_group : ndarray of shape (G,), dtype int64
        Group of each ground truth, ascending; inside a group, pycocotools' list order.
    gt_boxes : ndarray of shape (G, 4), dtype float64
    gt_crowd : ndarray of shape (G,), dtype bool
    gt_ignored : ndarray of shape (A, G), dtype bool
        Ignored ground truth in each area range.
    thresholds : ndarray of shape (T,), dtype float64
        IoU thresholds, already capped at ``1 - 1e-10`` as pycocotools does.

    Returns
    -------
    matched : ndarray of shape (A, T, D), dtype int32
        Index of the ground truth each detection matches, -1 for none.
    """
    n_area, n_det = gt_ignored.shape[0], det_group.shape[0]
    matched = np.full((n_area, thresholds.shape[0], n_det), -1, dtype=np.int32)
    groups = np.union1d(det_group, gt_group)  # (K,)
    det_start = np.append(np.searchsorted(det_group, groups), n_det).astype(np.int64)
    gt_start = np.append(np.searchsorted(gt_group, groups), gt_group.shape[0]).astype(np.int64)
    det_box = np.ascontiguousarray(det_boxes, dtype=np.float64)
    gt_box = np.ascontiguousarray(gt_boxes, dtype=np.float64)
    crowd = np.ascontiguousarray(gt_crowd, dtype=np.uint8)
    ignored = np.ascontiguousarray(gt_ignored, dtype=np.uint8)
    capped = np.ascontiguousarray(thresholds, dtype=np.float64)

    def run(first: int, last: int) -> None:
        _kernels.match(
            det_start,
            gt_start,
            det_box,
            gt_box,
            crowd,
            ignored,
            capped,
            matched,
            n_area,
            first,
            last,
        )

    # Chunks of consecutive groups with about the same number of pairs each.
    pairs = np.cumsum(np.diff(det_start) * (np.diff(gt_start) + 1))  # (K,)
    total = int(pairs[-1]) if pairs.size else 0
    n_chunks = min(max(total // _PAIRS_PER_CHUNK, 1), 4 * _threads())
    bounds = np.unique(
        np.r_[0, np.searchsorted(pairs, np.linspace(0, total, n_chunks + 1)[1:-1]), groups.size]
    )
    chunks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    if len(chunks) == 1 or _threads() == 1:
        for first, last in chunks:
            run(first, last)
        return matched
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for done in [pool.submit(run, first, last) for first, last in chunks]:
            done.result()
    return matched
