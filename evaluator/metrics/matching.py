"""COCO's greedy detection-to-ground-truth matching, identical to pycocotools' ``evaluate()``.

pycocotools matches one (image, category) at a time in Python. Here the detections and
ground truths are put in their groups (image and category, or image alone when
class-agnostic) with a few array sorts, and the compiled kernel of
:mod:`evaluator.metrics.greedy` matches every group at every area range and IoU
threshold, on every core. What pycocotools then derives from the matches (true
positive, ignored) is array arithmetic here.

The rule pycocotools applies to a detection, given the ground truths of its group sorted
non-ignored first (stable): among those still free (a crowd region is never used up)
with IoU >= threshold, take the non-ignored one with the highest IoU, or failing that
the ignored one with the highest IoU; on equal IoU the later one in that order wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from evaluator.input.coco_json import GroundTruth, Predictions
from evaluator.input.ids import index_of
from evaluator.metrics.greedy import IGNORED, TRUE_POSITIVE, group_bounds, match_groups
from evaluator.metrics.keypoint_similarity import keypoint_similarity
from evaluator.metrics.mask_similarity import mask_similarity
from evaluator.metrics.parallel import kernels, run_in_chunks
from evaluator.metrics.params import CocoParams
from evaluator.threads import beside

Progress = Callable[[float], None]


@dataclass(frozen=True, eq=False)
class EvaluatedGroundTruth:
    """The ground truths an evaluation scores, grouped, in pycocotools' order.

    Attributes
    ----------
    source : ndarray of shape (G,), dtype int64
        Index of each into the :class:`GroundTruth` annotations. In pycocotools mode an
        annotation can appear twice (duplicate ids) or not at all (unknown image/category).
    group : ndarray of shape (G,), dtype int64
        Group key, sorted ascending.
    category_index : ndarray of shape (G,), dtype int64
        Index into ``GroundTruth.category_ids`` (not the category id itself).
    boxes : ndarray of shape (G, 4), dtype float64
    areas : ndarray of shape (G,), dtype float64
    crowd : ndarray of shape (G,), dtype bool
    ignore : ndarray of shape (G,), dtype bool
        Ignored in every area range (crowd, or ``ignore`` in corrected mode).
    counts_as_match : ndarray of shape (G,), dtype bool
        False for annotation id 0 in pycocotools mode, whose matches read as no match.
    """

    source: NDArray[np.int64]
    group: NDArray[np.int64]
    category_index: NDArray[np.int64]
    boxes: NDArray[np.float64]
    areas: NDArray[np.float64]
    crowd: NDArray[np.bool_]
    ignore: NDArray[np.bool_]
    counts_as_match: NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Matching:
    """Outcome of matching for every kept detection, in accumulation order.

    Detections are sorted by (category, descending score, image, rank in group): the order
    in which pycocotools accumulates them, ties included. A detection is kept when its
    category is evaluated and it is among the ``max_dets[-1]`` best of its group.

    Attributes
    ----------
    det_source : ndarray of shape (D,), dtype int64
        Index into the :class:`Predictions`.
    det_category_index : ndarray of shape (D,), dtype int64
        Index into ``GroundTruth.category_ids`` (not the category id itself).
    det_class : ndarray of shape (D,), dtype int64
        Accumulation class: ``det_category_index`` with categories, 0 without.
    det_image_index : ndarray of shape (D,), dtype int64
        Index into ``GroundTruth.image_ids`` (not the image id itself).
    det_rank : ndarray of shape (D,), dtype int64
        0 for the best-scored detection of its group.
    det_score : ndarray of shape (D,), dtype float64
    matched_gt : ndarray of shape (T, D), dtype int32
        Index into ``gt`` of the match at each IoU threshold in the first area range
        (``"all"`` by default), -1 if none; shape (0, D) when the matching was asked
        not to keep it.
    outcome : ndarray of shape (A, T, D), dtype uint8
        At each area range and IoU threshold: :data:`~evaluator.metrics.greedy.TRUE_POSITIVE`,
        :data:`~evaluator.metrics.greedy.IGNORED`, or 0 for a false positive (one byte:
        at COCO's scale two planes of flags would be tens of megabytes more).
    gt : EvaluatedGroundTruth
    gt_ignored : ndarray of shape (A, G), dtype bool
    n_positive : ndarray of shape (C, A), dtype int64
        Non-ignored ground truths per accumulation class and area range.
    """

    det_source: NDArray[np.int64]
    det_category_index: NDArray[np.int64]
    det_class: NDArray[np.int64]
    det_image_index: NDArray[np.int64]
    det_rank: NDArray[np.int64]
    det_score: NDArray[np.float64]
    matched_gt: NDArray[np.int32]
    outcome: NDArray[np.uint8]
    gt: EvaluatedGroundTruth
    gt_ignored: NDArray[np.bool_]
    n_positive: NDArray[np.int64]

    @property
    def true_positive(self) -> NDArray[np.bool_]:
        """(A, T, D) bool, where ``outcome`` is a true positive (a new array)."""
        return (self.outcome & TRUE_POSITIVE).astype(bool)

    @property
    def ignored(self) -> NDArray[np.bool_]:
        """(A, T, D) bool, where ``outcome`` is ignored (a new array)."""
        return (self.outcome & IGNORED).astype(bool)


def _last_with_same_id(ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each annotation, the index of the last annotation in the file with its id."""
    if ids.size == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((np.arange(ids.shape[0]), ids))  # by id, then file order
    sorted_ids = ids[order]
    run_end = np.flatnonzero(np.r_[sorted_ids[1:] != sorted_ids[:-1], True])  # last of each id
    run_of = np.cumsum(np.r_[0, sorted_ids[1:] != sorted_ids[:-1]])  # run index per sorted item
    last = np.empty_like(order)
    last[order] = order[run_end[run_of]]
    return last


def _select_ground_truth(gt: GroundTruth, params: CocoParams) -> EvaluatedGroundTruth:
    """The ground truths pycocotools evaluates, sorted by group then by its list order.

    pycocotools collects annotation ids image by image (images in id order, annotations
    in file order), filters them by category, then *looks each id up again*, which turns
    every duplicated id into the last annotation carrying it. Corrected mode skips the
    look-up.
    """
    n_images = gt.image_ids.shape[0]
    img_pos, img_ok = index_of(gt.image_ids, gt.ann_image_ids)
    cat_pos, cat_ok = index_of(gt.category_ids, gt.ann_category_ids)
    entries = np.flatnonzero(img_ok & cat_ok if params.use_cats else img_ok)
    resolved = _last_with_same_id(gt.ann_ids)[entries] if params.mode == "pycocotools" else entries
    usable = img_ok[resolved] & cat_ok[resolved]
    entries, resolved = entries[usable], resolved[usable]
    if params.use_cats:
        group = cat_pos[resolved] * n_images + img_pos[resolved]
        within_group = np.zeros_like(group)
    else:
        group = img_pos[resolved]
        within_group = cat_pos[resolved]
    order = np.lexsort((entries, img_pos[entries], within_group, group))
    src = resolved[order]
    ignore = gt.iscrowd[src] | (gt.ignore[src] if params.mode == "corrected" else False)
    if params.iou_type == "keypoints":
        ignore = ignore | (gt.keypoint_columns()[1][src] == 0)  # as pycocotools' _prepare
    counts = gt.ann_ids[src] != 0 if params.mode == "pycocotools" else np.ones(src.size, bool)
    return EvaluatedGroundTruth(
        source=src,
        group=group[order],
        category_index=cat_pos[src],
        boxes=gt.boxes[src],
        areas=gt.areas[src],
        crowd=gt.iscrowd[src],
        ignore=ignore,
        counts_as_match=counts,
    )


def stable_order(
    key: NDArray[np.int64],
    score: NDArray[np.float64],
    tiebreak: NDArray[np.int64] | None,
    n_keys: int,
    start: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """The permutation sorting by (key, descending score, tiebreak, position), stable.

    What ``np.lexsort((tiebreak, -score, key))`` gives: a counting sort by ``key`` in
    ``[0, n_keys)`` (``_kernels.order_by_key``), then each key's run sorted
    (``_kernels.order_runs``: a radix sort of the scores' bits where the run's tiebreaks
    agree, else a merge sort), the keys spread over the cores. ``tiebreak`` None: none
    (ties stay in position order).

    ``start``, when given (shape ``(n_keys + 1,)``, dtype int64), receives where each
    key's run begins in the sorted order.
    """
    permutation = np.empty(key.shape[0], dtype=np.int64)
    if start is None:
        start = np.empty(n_keys + 1, dtype=np.int64)
    kernels.order_by_key(np.ascontiguousarray(key, dtype=np.int64), n_keys, permutation, start)
    score = np.ascontiguousarray(score, dtype=np.float64)
    tiebreak = (
        np.zeros(0, dtype=np.int64)
        if tiebreak is None
        else np.ascontiguousarray(tiebreak, dtype=np.int64)
    )

    def run(k0: int, k1: int) -> None:
        kernels.order_runs(permutation, start, score, tiebreak, k0, k1)

    run_in_chunks(run, np.diff(start) + 1)  # work: items per key
    return permutation


def ranked_columns(
    key: NDArray[np.int64],
    score: NDArray[np.float64],
    n_keys: int,
    start: NDArray[np.int64],
    column: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``score`` and ``column`` in the order of :func:`stable_order` (by key, descending
    score, then position), without that permutation.

    The values are grouped by key as they are read (``_kernels.group_by_key``), then each
    key's group is sorted within itself (``_kernels.sort_groups``), the keys spread over
    the cores: every read stays inside one group, a few hundred kilobytes that the cache
    holds however large the input, instead of gathering from all over it.

    Parameters
    ----------
    key : ndarray of shape (n,), dtype int64
        In ``[0, n_keys)``.
    score : ndarray of shape (n,), dtype float64
        No NaN.
    n_keys : int
    start : ndarray of shape (n_keys + 1,), dtype int64
        Receives where each key's run begins.
    column : ndarray of shape (n,), dtype int64
        Values carried along.

    Returns
    -------
    ranked_score : ndarray of shape (n,), dtype float64
    ranked_column : ndarray of shape (n,), dtype int64
    """
    ranked_score = np.empty(key.shape[0], dtype=np.float64)
    ranked_column = np.empty(key.shape[0], dtype=np.int64)
    kernels.group_by_key(
        np.ascontiguousarray(key, dtype=np.int64),
        n_keys,
        np.ascontiguousarray(score, dtype=np.float64),
        np.ascontiguousarray(column, dtype=np.int64),
        start,
        ranked_score,
        ranked_column,
    )

    def run(k0: int, k1: int) -> None:
        kernels.sort_groups(start, ranked_score, ranked_column, k0, k1)

    run_in_chunks(run, np.diff(start) + 1)  # work: items per key
    return ranked_score, ranked_column


def section_planes(matching: Matching, params: CocoParams) -> tuple[Matching, CocoParams]:
    """The matching and parameters cut down to what the report's sections read, once the
    accumulation is done with the rest.

    The sections (operating points, F1 curves, TIDE) read one IoU threshold, 0.5 (else the
    first one), and the area ranges "all" and the first; at COCO's scale the other planes
    of ``outcome`` are tens of megabytes.

    Returns
    -------
    Matching
        With T = 1 and the kept area ranges, in their order; new arrays (copies), so the
        full ones go with the original matching.
    CocoParams
        ``params`` with that threshold and those area ranges only.
    """
    hits = np.flatnonzero(params.iou_thresholds == 0.5)
    t = int(hits[0]) if hits.size else 0
    labels = params.area_labels
    areas = sorted({0, labels.index("all")} if "all" in labels else {0})
    kept = replace(
        matching,
        matched_gt=matching.matched_gt[t : t + 1].copy(),
        outcome=matching.outcome[:, t][areas][:, None],  # (A', 1, D), a copy
        gt_ignored=matching.gt_ignored[areas],
        n_positive=matching.n_positive[:, areas],
    )
    cut = replace(
        params,
        iou_thresholds=params.iou_thresholds[t : t + 1].copy(),
        area_ranges=tuple(params.area_ranges[a] for a in areas),
    )
    return kept, cut


def _rank_detections(
    gt: GroundTruth, preds: Predictions, params: CocoParams
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Kept detections sorted by (group, descending score, pycocotools' list order).

    Every temporary is per detection, so each is let go as soon as it is used: at COCO's
    scale they are megabytes apiece.

    Returns
    -------
    source, group, rank : ndarray of shape (D,), dtype int64
    """
    n_images = gt.image_ids.shape[0]
    img_pos, known = index_of(gt.image_ids, preds.image_ids)
    cat_pos, cat_known = index_of(gt.category_ids, preds.category_ids)
    known &= cat_known
    del cat_known
    source = None if known.all() else np.flatnonzero(known)  # None: every detection
    del known
    if source is not None:
        img_pos, cat_pos = img_pos[source], cat_pos[source]
    scores = preds.scores if source is None else preds.scores[source]
    # Stable: equal scores keep file order, as pycocotools' mergesort does.
    if params.use_cats:
        group = cat_pos
        group *= n_images
        group += img_pos
        del img_pos
        n_groups = gt.category_ids.shape[0] * n_images
        start = np.empty(n_groups + 1, dtype=np.int64)
        order = stable_order(group, scores, None, n_groups, start)
    else:
        # Class-agnostic lists are concatenated category by category before sorting.
        group = img_pos
        start = np.empty(n_images + 1, dtype=np.int64)
        order = stable_order(group, scores, cat_pos, n_images, start)
        del cat_pos
    del scores
    group = group[order]
    source = order if source is None else source[order]
    del order
    rank = np.arange(group.shape[0])
    rank -= start[group]  # position in its group
    del start
    kept = rank < params.max_dets[-1]
    if kept.all():
        return source, group, rank
    return source[kept], group[kept], rank[kept]


def match_detections(
    gt: GroundTruth,
    preds: Predictions,
    params: CocoParams,
    progress: Progress | None = None,
    with_matches: bool = True,
) -> Matching:
    """Match detections to ground truth exactly as pycocotools' ``evaluate()`` does.

    ``with_matches=False`` leaves ``matched_gt`` without rows, for a caller that needs only
    the true and false positives (at COCO's scale it is tens of megabytes).
    """
    gt_measuring = None
    if params.iou_type == "segm":  # the masks' boxes and areas, while the detections rank
        gt_masks = gt.mask_column()
        gt_measuring = beside(lambda: (gt_masks.to_bbox(), gt_masks.area()))
    gts = _select_ground_truth(gt, params)
    det_src, det_group, det_rank = _rank_detections(gt, preds, params)
    n_images = gt.image_ids.shape[0]
    det_class = det_group // n_images if params.use_cats else np.zeros_like(det_group)
    det_score = preds.scores[det_src]
    thresholds = np.minimum(params.iou_thresholds, 1 - 1e-10)
    n_area = len(params.area_ranges)
    area_ranges = np.array([(lo, hi) for _, lo, hi in params.area_ranges], dtype=np.float64)
    gt_ignored = np.empty((n_area, gts.source.shape[0]), dtype=bool)
    for a, (lo, hi) in enumerate(area_ranges.tolist()):
        gt_ignored[a] = gts.ignore | (gts.areas < lo) | (gts.areas > hi)
    # Accumulation order: (class, descending score, image, rank). Detections are sorted
    # by (group, rank) now, as the kernel takes them, and a stable sort on (class,
    # -score) keeps that order for ties; the kernel writes each into its final column.
    n_classes = gt.category_ids.shape[0] if params.use_cats else 1
    order = stable_order(det_class, det_score, None, n_classes)
    # Sorted by class, the classes are runs of known lengths; the scores are gathered
    # again once sorted. Neither column is held through the matching.
    class_sizes = np.bincount(det_class, minlength=n_classes)
    del det_class, det_score
    position = np.empty_like(order)
    position[order] = np.arange(order.shape[0])
    similarity, bounds = None, None
    if gt_measuring is not None:
        bounds = det_start, gt_lo, gt_hi = group_bounds(det_group, gts.group)
        similarity = mask_similarity(
            det_start,
            gt_lo,
            gt_hi,
            preds.mask_column(),
            det_src,
            gt.mask_column(),
            gts.source,
            gts.crowd,
            gt_measuring.result(),
        )
    elif params.iou_type == "keypoints":
        bounds = det_start, gt_lo, gt_hi = group_bounds(det_group, gts.group)
        similarity = keypoint_similarity(
            det_start,
            gt_lo,
            gt_hi,
            preds.keypoint_column(),
            det_src,
            gt.keypoint_columns()[0][gts.source],
            gts.boxes,
            gts.areas,
            params.oks_sigmas,
        )
        if not params.use_cats and params.mode == "pycocotools":
            # computeOks ignores useCats: it looks the pairs up under category -1, finds
            # none, and nothing matches. No similarity ever reaches a threshold.
            similarity = replace(similarity, values=np.full_like(similarity.values, -np.inf))
    matches = match_groups(
        det_group,
        det_src,
        preds.boxes,
        position,
        gts.group,
        gts.boxes,
        gts.crowd,
        gts.counts_as_match,
        gt_ignored,
        area_ranges,
        thresholds,
        similarity,
        preds.areas,
        with_matches,
        bounds,
    )
    if progress is not None:
        progress(0.8)
    del position
    # Into accumulation order one column at a time, each let go as its copy is made: at
    # COCO's scale they are megabytes apiece, and the outcome plane is held meanwhile.
    det_src = det_src[order]
    det_group = det_group[order]
    det_rank = det_rank[order]
    del order
    det_class = np.repeat(np.arange(n_classes, dtype=np.int64), class_sizes)
    det_score = preds.scores[det_src]
    if params.use_cats:
        det_category, det_image = det_class, det_group
        det_image %= n_images  # det_group is not needed after this
    else:
        det_category = gt.category_ids.searchsorted(preds.category_ids[det_src])
        det_image = det_group

    gt_class = gts.category_index if params.use_cats else np.zeros_like(gts.category_index)
    n_positive = np.stack(
        [np.bincount(gt_class[~gt_ignored[a]], minlength=n_classes) for a in range(n_area)],
        axis=1,
    ).astype(np.int64)
    return Matching(
        det_source=det_src,
        det_category_index=det_category,
        det_class=det_class,
        det_image_index=det_image,
        det_rank=det_rank,
        det_score=det_score,
        matched_gt=matches.matched,
        outcome=matches.outcome,
        gt=gts,
        gt_ignored=gt_ignored,
        n_positive=n_positive.reshape(n_classes, n_area),
    )
