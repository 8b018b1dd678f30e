"""(detection, ground truth) pairs that share a key (an image, or an image and a class),
and their IoU: of boxes, or of masks.

Every matcher in the package starts here: COCO matching, the confusion matrix and the
TIDE error breakdown all compare each detection only with the ground truth of its own
image (and class), and most of those pairs do not overlap at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluator.input.ids import index_of
from evaluator.masks import RunLengths
from evaluator.masks.compressed import MaskBatch, pair_iou_into
from evaluator.metrics.parallel import kernels, run_in_chunks


def image_positions(
    image_ids: NDArray[np.int64], gt_ids: NDArray[np.int64], det_ids: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positions of the annotations' and the detections' images among ``image_ids``
    (sorted, unique): dense keys for :func:`overlapping_pairs`.

    Returns
    -------
    gt_image : ndarray of shape (n_gt,), dtype int64
        Every annotation's image is among ``image_ids``.
    det_image : ndarray of shape (n_det,), dtype int64
        ``-(len(image_ids) + 1)`` for a detection on another image.
    """
    det_image, known = index_of(image_ids, det_ids)
    np.copyto(det_image, -(image_ids.shape[0] + 1), where=~known)
    return index_of(image_ids, gt_ids)[0], det_image


def _key_runs(
    gt_key: NDArray[np.int64], sorted_key: NDArray[np.int64], det_key: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Where each key's ground truths start among the sorted keys, and each detection's
    key among them (the kernels look the runs up).

    Keys that are small non-negative integers (dense codes of image and class) index the
    table directly, counted; others are searched among the distinct keys of the ground
    truth.

    Returns
    -------
    key_start : ndarray of shape (K + 1,), dtype int64
        Key ``k``'s ground truths are ``sorted_key[key_start[k]:key_start[k + 1]]``.
    det_slot : ndarray of shape (n,), dtype int64
        Each detection's key in the table; outside ``[0, K)``: no ground truth.
    """
    if not gt_key.size:
        return np.zeros(1, dtype=np.int64), np.full(det_key.shape[0], -1, dtype=np.int64)
    if _small_keys(gt_key, max(gt_key.shape[0], det_key.shape[0])):
        per_key = np.bincount(gt_key)  # (max key + 1,)
        key_start = np.empty(per_key.shape[0] + 1, dtype=np.int64)
        key_start[0] = 0
        np.cumsum(per_key, out=key_start[1:])
        return key_start, np.ascontiguousarray(det_key, dtype=np.int64)
    distinct_at = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])  # (K,)
    distinct = sorted_key[distinct_at]
    key_start = np.r_[distinct_at, sorted_key.shape[0]].astype(np.int64)
    slot = np.searchsorted(distinct, det_key).astype(np.int64)  # (n,)
    found = slot < distinct.shape[0]
    found[found] = distinct[slot[found]] == det_key[found]
    slot[~found] = -1
    return key_start, slot


def overlapping_pairs(
    det_key: NDArray[np.int64],
    det_boxes: NDArray[np.float64],
    gt_key: NDArray[np.int64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    min_iou: float,
    det_rows: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Every pair with equal keys whose COCO IoU is at least ``min_iou``.

    Parameters
    ----------
    det_key : ndarray of shape (n,), dtype int64
    det_boxes : ndarray of shape (n, 4), or (r, 4) with ``det_rows``, dtype float64
        ``xywh``.
    gt_key : ndarray of shape (m,), dtype int64
    gt_boxes : ndarray of shape (m, 4), dtype float64
        ``xywh``.
    gt_crowd : ndarray of shape (m,), dtype bool
        Crowd regions, whose IoU is over the detection's area (see ``paired_iou``).
    min_iou : float
        ``-inf`` keeps every pair with equal keys.
    det_rows : ndarray of shape (n,), dtype int64, optional
        Each detection's row of ``det_boxes``, read there by the kernel rather than
        gathered into a copy first.

    Returns
    -------
    pair_det, pair_gt : ndarray of shape (P,), dtype int64
        Indices into the detections and the ground truth, sorted by detection, then by
        ground-truth index.
    iou : ndarray of shape (P,), dtype float64
    """
    gt_order = _stable_order_of(gt_key)
    key_start, det_slot = _key_runs(gt_key, gt_key[gt_order], det_key)
    rows = np.zeros(0, np.int64) if det_rows is None else np.ascontiguousarray(det_rows, np.int64)
    det_box = np.ascontiguousarray(det_boxes, dtype=np.float64)
    gt_box = np.ascontiguousarray(gt_boxes[gt_order], dtype=np.float64)  # runs contiguous
    crowd = np.ascontiguousarray(gt_crowd[gt_order], dtype=np.uint8)
    found: dict[int, tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = {}

    def run(d0: int, d1: int) -> None:
        room = kernels.pair_candidates(key_start, det_slot, d0, d1)
        out = (np.empty(room, np.int64), np.empty(room, np.int64), np.empty(room, np.float64))
        n = kernels.pairs(
            key_start,
            det_slot,
            gt_order,
            rows,
            det_box,
            gt_box,
            crowd,
            float(min_iou),
            d0,
            d1,
            *out,
        )
        found[d0] = (out[0][:n], out[1][:n], out[2][:n])

    run_in_chunks(run, det_slot.shape[0])  # work: detections, alike
    chunks = [found[d0] for d0 in sorted(found)]
    if not chunks:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return (
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]),
        np.concatenate([c[2] for c in chunks]),
    )


def nearest_ground_truth(
    det_key: NDArray[np.int64],
    det_boxes: NDArray[np.float64],
    gt_key: NDArray[np.int64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    min_iou: float,
    det_class: NDArray[np.int64] | None = None,
    gt_class: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """For each detection, the ground truth of its key (and class, when given) with the
    highest IoU, if that IoU is at least ``min_iou``: what :func:`best_pair_per_detection`
    picks among the pairs of :func:`overlapping_pairs` (ties: the lowest index), without
    forming the pairs.

    Parameters
    ----------
    det_key, det_boxes, gt_key, gt_boxes, gt_crowd, min_iou
        As for :func:`overlapping_pairs`.
    det_class, gt_class : ndarray of shape (n,) and (m,), dtype int64, optional
        Both or neither: only ground truth of the detection's class counts. The same as
        keys made of key and class, with a table of the keys alone: an image's classes
        are then read from a few neighbouring items instead of a table of every (image,
        class) pair, most of it out of cache.

    Returns
    -------
    ndarray of shape (n,), dtype int64
        Index into the ground truth, -1 for a detection without one.
    """
    if (det_class is None) != (gt_class is None):
        raise ValueError("det_class and gt_class: give both or neither")
    if gt_class is None:
        gt_order = _stable_order_of(gt_key)
        det_class = gt_class = np.zeros(0, dtype=np.int64)
    else:
        gt_order = _by_key_then_class(gt_key, gt_class)
        gt_class = np.ascontiguousarray(gt_class[gt_order], dtype=np.int64)
        det_class = np.ascontiguousarray(det_class, dtype=np.int64)
    key_start, det_slot = _key_runs(gt_key, gt_key[gt_order], det_key)
    det_box = np.ascontiguousarray(det_boxes, dtype=np.float64)
    gt_box = np.ascontiguousarray(gt_boxes[gt_order], dtype=np.float64)  # runs contiguous
    crowd = np.ascontiguousarray(gt_crowd[gt_order], dtype=np.uint8)
    out = np.empty(det_slot.shape[0], dtype=np.int64)

    def run(d0: int, d1: int) -> None:
        kernels.nearest(
            key_start,
            det_slot,
            gt_order,
            det_box,
            gt_box,
            crowd,
            det_class,
            gt_class,
            float(min_iou),
            d0,
            d1,
            out,
        )

    run_in_chunks(run, det_slot.shape[0])  # work: detections, alike
    return out


def _small_keys(key: NDArray[np.int64], n: int) -> bool:
    """Whether the (non-empty) keys are small non-negative integers (image positions,
    class codes): under ``4 * n + 1024``, so that a table of them is about as long as the
    ``n`` items looked up in it."""
    return bool(key.min() >= 0 and key.max() < 4 * n + 1024)


def _stable_order_of(key: NDArray[np.int64]) -> NDArray[np.int64]:
    """The stable order by ``key``: a counting sort where the keys are small non-negative
    integers, else NumPy's stable sort."""
    n = key.shape[0]
    if not n or not _small_keys(key, n):
        return np.argsort(key, kind="stable").astype(np.int64)
    order = np.empty(n, dtype=np.int64)
    n_keys = int(key.max()) + 1
    start = np.empty(n_keys + 1, dtype=np.int64)
    kernels.order_by_key(np.ascontiguousarray(key, dtype=np.int64), n_keys, order, start)
    return order


def _by_key_then_class(key: NDArray[np.int64], cls: NDArray[np.int64]) -> NDArray[np.int64]:
    """The stable order by key, then class (two stable sorts, the class first)."""
    by_class = _stable_order_of(cls)
    return by_class[_stable_order_of(key[by_class])]  # the class order kept inside each key


def best_pair_per_detection(
    pair_det: NDArray[np.int64],
    value: NDArray[np.float64],
    tiebreak: NDArray[np.int64],
    n_det: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Highest value of each detection over its pairs, and the pair holding it.

    Parameters
    ----------
    pair_det : ndarray of shape (P,), dtype int64
        Sorted: the pairs of one detection are contiguous, as :func:`overlapping_pairs`
        gives them.
    value : ndarray of shape (P,), dtype float64
        An IoU, or -1 for a pair that does not qualify.
    tiebreak : ndarray of shape (P,), dtype int64
        On equal values the pair with the smallest tiebreak wins (the first of them if
        several share it).
    n_det : int

    Returns
    -------
    best_value : ndarray of shape (n_det,), dtype float64
        -1 for a detection without a qualifying pair.
    best_pair : ndarray of shape (n_det,), dtype int64
        Index into the pairs, -1 where ``best_value`` is -1.
    """
    best_value, best_pair = best_pair_per_set(pair_det, None, value, tiebreak, n_det, 1)
    return best_value[0], best_pair[0]


def best_pair_per_set(
    pair_det: NDArray[np.int64],
    pair_sets: NDArray[np.uint8] | None,
    value: NDArray[np.float64],
    tiebreak: NDArray[np.int64],
    n_det: int,
    n_sets: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`best_pair_per_detection` in several sets of pairs at once, in one pass.

    Parameters
    ----------
    pair_det, value, tiebreak, n_det
        As for :func:`best_pair_per_detection`.
    pair_sets : ndarray of shape (P,), dtype uint8, or None
        Bit ``s`` set: the pair is in set ``s`` (a pair may be in several). None: every
        pair is in set 0.
    n_sets : int
        In [1, 8].

    Returns
    -------
    best_value : ndarray of shape (n_sets, n_det), dtype float64
        Of each detection in each set; -1 where no pair of the set qualifies.
    best_pair : ndarray of shape (n_sets, n_det), dtype int64
        Index into the pairs, -1 where ``best_value`` is -1.
    """
    best_value = np.full((n_sets, n_det), -1.0)
    best_pair = np.full((n_sets, n_det), -1, dtype=np.int64)
    sets = np.zeros(0, np.uint8) if pair_sets is None else pair_sets
    kernels.best_pairs(
        np.ascontiguousarray(pair_det, dtype=np.int64),
        np.ascontiguousarray(sets, dtype=np.uint8),
        np.ascontiguousarray(value, dtype=np.float64),
        np.ascontiguousarray(tiebreak, dtype=np.int64),
        n_sets,
        best_value,
        best_pair,
    )
    return best_value, best_pair


def overlapping_mask_pairs(
    det_key: NDArray[np.int64],
    det_masks: MaskBatch,
    det_rows: NDArray[np.int64],
    gt_key: NDArray[np.int64],
    gt_masks: RunLengths,
    gt_rows: NDArray[np.int64],
    gt_crowd: NDArray[np.bool_],
    min_iou: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """:func:`overlapping_pairs` by mask IoU (pycocotools' ``iou`` on RLE) instead of boxes.

    Parameters
    ----------
    det_key : ndarray of shape (n,), dtype int64
    det_masks : RunLengths or CompressedMasks
    det_rows : ndarray of shape (n,), dtype int64
        Each detection's mask in ``det_masks``.
    gt_key : ndarray of shape (m,), dtype int64
    gt_masks : RunLengths
    gt_rows : ndarray of shape (m,), dtype int64
        Each ground truth's mask in ``gt_masks``.
    gt_crowd : ndarray of shape (m,), dtype bool
        Crowd regions: IoU over the detection's area.
    min_iou : float

    Returns
    -------
    pair_det, pair_gt, iou
        As :func:`overlapping_pairs`.

    Notes
    -----
    Two masks overlap only where their boxes do (maskApi.c's ``rleIou`` tests the boxes
    first), so the candidates are the pairs whose boxes overlap, or every pair of a key
    when ``min_iou <= 0``.
    """
    det_box, gt_box = det_masks.to_bbox(), gt_masks.to_bbox()  # of every mask of the batches
    floor = -np.inf if min_iou <= 0 else np.nextafter(0.0, 1.0)
    pair_det, pair_gt, _ = overlapping_pairs(
        det_key, det_box[det_rows], gt_key, gt_box[gt_rows], gt_crowd, floor
    )
    crowd = np.zeros(len(gt_masks), dtype=np.uint8)  # by mask row, as the kernel reads it
    crowd[gt_rows] = gt_crowd
    iou = np.empty(pair_det.shape[0], dtype=np.float64)
    pair_iou_into(
        det_masks,
        det_box,
        gt_masks,
        gt_box,
        crowd,
        np.ascontiguousarray(det_rows[pair_det], dtype=np.int64),
        np.ascontiguousarray(gt_rows[pair_gt], dtype=np.int64),
        iou,
    )
    keep = iou >= min_iou
    return pair_det[keep], pair_gt[keep], iou[keep]
