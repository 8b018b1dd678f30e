"""Detection confusion matrix: which class each object was taken for, at one operating point.

The rules, applied to each image on its own:

1. Predictions scoring below ``score_threshold`` are dropped (``score >= threshold`` stays).
2. Ground truth flagged ``iscrowd`` or ``difficult`` is *ignored*: it never appears in
   the matrix and never turns a prediction into an error.
3. The remaining predictions are taken in descending score (ties in input order). Each
   one matches the not-yet-matched, non-ignored ground truth **of any class** that it
   overlaps most, provided the IoU is ``>= iou_threshold``; on equal IoU the ground truth
   earlier in the input wins. The pair adds one to ``counts[true class, predicted class]``
   (the diagonal when the classes agree). Each ground truth is matched at most once.
4. A prediction left unmatched is ignored if it overlaps an ignored ground truth with
   IoU ``>= iou_threshold`` (COCO's crowd IoU, intersection over the prediction's area,
   for a crowd region; ordinary IoU for a difficult object; such ground truth may absorb
   any number of predictions). Otherwise it adds one to
   ``counts["background", predicted class]``.
5. A non-ignored ground truth left unmatched adds one to ``counts[true class, "missed"]``.
6. ``counts["background", "missed"]`` is always 0.

IoU is continuous (COCO's geometry, no +1 pixel). Row sums over the class rows are the
non-ignored ground truth per class; column sums over the class columns are the kept,
non-ignored predictions per class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.input.columns import GroundTruth, Predictions
from evaluator.metrics.matching import index_of, stable_order
from evaluator.metrics.pairs import image_positions, overlapping_mask_pairs, overlapping_pairs
from evaluator.metrics.parallel import kernels


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Counts of (true class, predicted class) at one IoU and score threshold.

    Attributes
    ----------
    counts : ndarray of shape (K + 1, K + 1), dtype int64
        Rows: the K categories then ``"background"`` (a prediction that matched nothing).
        Columns: the K categories then ``"missed"`` (ground truth that nothing matched).
    category_ids : tuple of int
        The K categories, ascending.
    names : tuple of str
        Their names (the id as text where no name was given).
    iou_threshold, score_threshold : float
    n_ignored : int
        Predictions absorbed by crowd or difficult ground truth (in no cell).
    """

    counts: NDArray[np.int64]
    category_ids: tuple[int, ...]
    names: tuple[str, ...]
    iou_threshold: float
    score_threshold: float
    n_ignored: int

    @property
    def row_labels(self) -> tuple[str, ...]:
        """Labels of the ``K + 1`` rows: the class names, then ``"background"``."""
        return (*self.names, "background")

    @property
    def column_labels(self) -> tuple[str, ...]:
        """Labels of the ``K + 1`` columns: the class names, then ``"missed"``."""
        return (*self.names, "missed")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: settings, labels and ``counts`` as nested lists (rows first)."""
        return {
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
            "category_ids": list(self.category_ids),
            "row_labels": list(self.row_labels),
            "column_labels": list(self.column_labels),
            "counts": self.counts.tolist(),
            "n_ignored_predictions": self.n_ignored,
        }


def _greedy_match(
    pair_det: NDArray[np.int64],
    pair_gt: NDArray[np.int64],
    iou: NDArray[np.float64],
    det_order: NDArray[np.int64],
    n_gt: int,
) -> NDArray[np.int64]:
    """Greedy one-to-one matching over candidate pairs, all images at once.

    Parameters
    ----------
    pair_det, pair_gt : ndarray of shape (p,), dtype int64
        Candidate pairs (IoU already above the threshold), sorted by detection.
    iou : ndarray of shape (p,), dtype float64
    det_order : ndarray of shape (n_det,), dtype int64
        The detections by image, then descending score (ties in input order).
    n_gt : int

    Returns
    -------
    matched_gt : ndarray of shape (n_det,), dtype int64
        Ground truth matched by each detection, -1 if none.

    Notes
    -----
    Detections of different images never compete for a ground truth, so each image's
    detections in score order, image after image, is the greedy order. The compiled
    kernel takes, for each, its best free pair (highest IoU, the earlier ground truth on
    equal IoU).
    """
    n_det = det_order.shape[0]
    pair_start = np.zeros(n_det + 1, dtype=np.int64)  # each detection's pairs, by counting
    np.cumsum(np.bincount(pair_det, minlength=n_det), out=pair_start[1:])
    matched_gt = np.full(n_det, -1, dtype=np.int64)
    kernels.greedy_match(
        pair_start,
        np.ascontiguousarray(pair_gt, dtype=np.int64),
        np.ascontiguousarray(iou, dtype=np.float64),
        np.ascontiguousarray(det_order, dtype=np.int64),
        np.zeros(n_gt, dtype=np.uint8),
        matched_gt,
    )
    return matched_gt


def detection_confusion_matrix(
    ground_truth: GroundTruth,
    detections: Predictions,
    *,
    score_threshold: float,
    iou_threshold: float = 0.5,
    category_names: Mapping[int, str] | None = None,
) -> ConfusionMatrix:
    """Confusion matrix of a detector at one score threshold (rules in the module docstring).

    Parameters
    ----------
    ground_truth : GroundTruth
        Annotations on an undeclared image or category are left out.
    detections : Predictions
        Every detection is counted, whatever its category.
    score_threshold : float
        Predictions with ``score >= score_threshold`` are counted.
    iou_threshold : float
        Minimum IoU of a match, in ``(0, 1]``.
    category_names : mapping of int to str, optional
        Names for the labels; its keys are categories even if no box has them.

    Returns
    -------
    ConfusionMatrix
        Its categories are the ground truth's declared ones, those of the detections
        (below the threshold too) and the keys of ``category_names``, so that matrices
        at several thresholds line up.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if not np.isfinite(score_threshold):
        raise ValueError(f"score_threshold must be finite, got {score_threshold}")
    names = dict(category_names or {})
    named = np.fromiter(names, dtype=np.int64, count=len(names))
    ground_truth = ground_truth.declared_only()
    # Usually every detection's category is declared: then the union needs no sort of
    # the detections' ids, only of those outside the declared ones.
    _, declared = index_of(ground_truth.category_ids, detections.category_ids)
    others = np.unique(detections.category_ids[~declared]) if not declared.all() else named
    categories = np.union1d(np.union1d(ground_truth.category_ids, others), named)  # (k,)
    k = categories.shape[0]

    kept = np.flatnonzero(detections.scores >= score_threshold)
    det_image = detections.image_ids[kept]
    det_class = index_of(categories, detections.category_ids[kept])[0]  # (n,)
    gt_class = np.searchsorted(categories, ground_truth.ann_category_ids)  # (m,)
    ignored_gt = ground_truth.iscrowd | ground_truth.difficult  # (m,)
    n_det, n_gt = kept.shape[0], len(ground_truth)

    # Dense image keys: a detection on an undeclared image gets a negative one (no pairs).
    gt_key, det_key = image_positions(ground_truth.image_ids, ground_truth.ann_image_ids, det_image)
    # The greedy order: by image, then descending score (ties in input order).
    n_images = ground_truth.image_ids.shape[0]
    order = stable_order(
        np.where(det_key >= 0, det_key, n_images),
        detections.scores[kept],
        None,
        n_images + 1,
    )

    if detections.masks is not None and ground_truth.masks is not None:  # a segm evaluation
        pair_det, pair_gt, iou = overlapping_mask_pairs(
            det_key,
            detections.masks,
            kept,
            gt_key,
            ground_truth.masks,
            np.arange(n_gt),
            ground_truth.iscrowd,
            iou_threshold,
        )  # (p,) only pairs close enough to match or be absorbed
    else:
        pair_det, pair_gt, iou = overlapping_pairs(
            det_key,
            detections.boxes,
            gt_key,
            ground_truth.boxes,
            ground_truth.iscrowd,
            iou_threshold,
            det_rows=kept,
        )  # (p,)
    regular = ~ignored_gt[pair_gt]
    matched_gt = _greedy_match(pair_det[regular], pair_gt[regular], iou[regular], order, n_gt)
    matched = matched_gt >= 0
    absorbed = np.zeros(n_det, dtype=bool)
    absorbed[pair_det[ignored_gt[pair_gt]]] = True
    absorbed &= ~matched
    background = ~matched & ~absorbed
    found = np.zeros(n_gt, dtype=bool)
    found[matched_gt[matched]] = True
    missed = ~found & ~ignored_gt

    # One (row, column) entry per matched pair, per background prediction, per miss.
    rows = np.concatenate(
        [gt_class[matched_gt[matched]], np.full(int(background.sum()), k), gt_class[missed]]
    )
    cols = np.concatenate(
        [det_class[matched], det_class[background], np.full(int(missed.sum()), k)]
    )
    counts = np.bincount(rows * (k + 1) + cols, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    counts = counts.astype(np.int64)
    counts.setflags(write=False)
    return ConfusionMatrix(
        counts=counts,
        category_ids=tuple(categories.tolist()),
        names=tuple(names.get(c, str(c)) for c in categories.tolist()),
        iou_threshold=float(iou_threshold),
        score_threshold=float(score_threshold),
        n_ignored=int(absorbed.sum()),
    )
