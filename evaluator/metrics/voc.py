"""PASCAL VOC average precision (mAP-50 and friends).

The protocol, as in the VOC devkit:

* Detections of one category are ranked by descending score over the whole dataset.
  Ties keep input order (a stable sort), so a result can depend on the order of the
  input when two detections of a category share a score.
* Each detection looks for the ground truth of its image and category that it overlaps
  most (IoU). On equal IoU the ground truth that comes first in the input wins. The
  search does **not** skip ground truth already matched; this is the devkit's rule and
  differs from COCO, which moves on to the next-best free ground truth.
* If that IoU is ``>= iou_threshold``: a *difficult* ground truth makes the detection
  ignored (neither TP nor FP); a ground truth not yet matched makes it a TP and marks
  the ground truth matched; a ground truth already matched makes it a FP (duplicate).
  Otherwise, or when the image has no ground truth of the category, it is a FP.
* Precision and recall are taken after each ranked detection that is not ignored;
  recall counts only non-difficult ground truth.
* AP integrates the precision envelope (the running maximum of precision taken from
  high recall down): ``"all_point"`` (VOC2010 onwards) sums it at every step in recall;
  ``"11_point"`` (VOC2007) averages it at recall ``np.linspace(0, 1, 11)``, taking 0
  where the recall is never reached. Those thresholds are the devkit's floats, so a
  recall of exactly 3/10 does *not* reach the threshold 0.30000000000000004.
* mAP is the mean AP over the categories that have non-difficult ground truth, in
  ascending category id. Sums run left to right as in the reference tools, so that
  their published values are reproduced to the last bit.

Because a detection's target ground truth does not depend on which ground truth is
already taken, the greedy match needs no sequential loop: a detection is a TP exactly
when it is the first (in rank order) qualifying detection aimed at its ground truth.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from evaluator.errors import DataWarning
from evaluator.input.coco_json import Source, load_ground_truth, load_predictions
from evaluator.input.columns import GroundTruth, Predictions, readonly
from evaluator.metrics.matching import index_of, ranked_columns
from evaluator.metrics.pairs import image_positions, nearest_ground_truth
from evaluator.metrics.parallel import kernels

Interpolation = Literal["all_point", "11_point"]
# The one name of each VOC mean AP where metrics are named side by side (deteval check,
# comparisons), with the interpolation whose section holds it as ``mAP``.
VOC_METRICS: dict[str, Interpolation] = {"VOC_mAP50": "all_point", "VOC_mAP50_11pt": "11_point"}
_INTERPOLATIONS = ("all_point", "11_point")

# The VOC2007 recall thresholds, built as the devkit builds them.
_ELEVEN_RECALLS = np.linspace(0, 1, 11)


# --------------------------------------------------------------------------- result


class RankedCurves:
    """Precision, recall and score after each ranked detection that is not ignored, of
    every category, worked out the first time one is read (a report reads only the
    average precisions, which need the true positives' points alone).

    Parameters
    ----------
    bounds : ndarray of shape (K + 1,), dtype int64
        Category k's detections are positions ``bounds[k]:bounds[k + 1]`` of the ranking
        (by category, then descending score).
    flags : ndarray of shape (D,), dtype uint8
        By position in the ranking, as ``_kernels.ranked_claims`` writes them: bit 0 not
        ignored, bit 1 a true positive.
    n_pos : ndarray of shape (K,), dtype int64
        Non-difficult ground truth by category.
    ranked_score : ndarray of shape (D,), dtype float64
        The scores, by position in the ranking.
    n_kept : int
        Detections not ignored.
    """

    def __init__(
        self,
        bounds: NDArray[np.int64],
        flags: NDArray[np.uint8],
        n_pos: NDArray[np.int64],
        ranked_score: NDArray[np.float64],
        n_kept: int,
    ) -> None:
        self._inputs = (bounds, flags, n_pos, ranked_score, n_kept)
        self._curves: tuple[NDArray[np.float64], ...] | None = None
        self._lock = threading.Lock()

    def curves(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(precision, recall, score), each of shape (n_kept,), read-only, in rank order."""
        with self._lock:
            if self._curves is None:
                bounds, flags, n_pos, ranked_score, n_kept = self._inputs
                precision, recall, score = np.empty((3, n_kept))
                kernels.ranked_curves(
                    bounds, flags, n_pos, ranked_score, precision, recall, score,
                    np.empty(n_kept, dtype=np.uint8), np.empty_like(bounds),
                    np.empty_like(bounds), True,
                )  # fmt: skip
                self._curves = tuple(readonly(values) for values in (precision, recall, score))
            precision, recall, score = self._curves
            return precision, recall, score


@dataclass(frozen=True, eq=False)
class VOCClassResult:
    """VOC result for one category.

    Attributes
    ----------
    category_id : int
    name : str or None
    ap : float
        Average precision; NaN when the category has no non-difficult ground truth.
    precision, recall : ndarray of shape (k,), dtype float64
        After each of the ``k = tp + fp`` ranked detections that are not ignored.
        ``recall`` is NaN throughout when ``n_gt == 0``.
    score : ndarray of shape (k,), dtype float64
        Score of those detections (non-increasing): the operating points of the curve.
    n_gt : int
        Non-difficult ground truth (the positives).
    n_difficult : int
        Difficult (or crowd) ground truth.
    n_det : int
        All detections of the category, ignored ones included.
    tp, fp : int
    n_ignored : int
        Detections matched to difficult ground truth: ``n_det - tp - fp``.
    curves : RankedCurves
        Every category's curves, shared by the results of one evaluation.
    kept_start : int
        Where this category's points begin in them.
    """

    category_id: int
    name: str | None
    ap: float
    n_gt: int
    n_difficult: int
    n_det: int
    tp: int
    fp: int
    n_ignored: int
    curves: RankedCurves = field(repr=False)
    kept_start: int = field(repr=False)  # where this category's points are in the curves

    @property
    def precision(self) -> NDArray[np.float64]:
        """Shape (k,), dtype float64: see the class's docstring."""
        return self.curves.curves()[0][self._points]

    @property
    def recall(self) -> NDArray[np.float64]:
        """Shape (k,), dtype float64: see the class's docstring."""
        return self.curves.curves()[1][self._points]

    @property
    def score(self) -> NDArray[np.float64]:
        """Shape (k,), dtype float64: see the class's docstring."""
        return self.curves.curves()[2][self._points]

    @property
    def _points(self) -> slice:
        return slice(self.kept_start, self.kept_start + self.tp + self.fp)

    @property
    def undefined_reason(self) -> str | None:
        """Why ``ap`` is undefined, or None when it is defined."""
        if self.n_gt > 0:
            return None
        if self.n_difficult > 0:
            return "only difficult ground truth"
        return "no ground truth"

    def to_dict(self, curves: bool = False) -> dict[str, Any]:
        """JSON-safe dict; ``AP`` is ``null`` with an ``undefined_reason`` when undefined."""
        out: dict[str, Any] = {
            "category_id": self.category_id,
            "name": self.name,
            "AP": None if np.isnan(self.ap) else float(self.ap),
            "undefined_reason": self.undefined_reason,
            "n_gt": self.n_gt,
            "n_difficult": self.n_difficult,
            "n_det": self.n_det,
            "tp": self.tp,
            "fp": self.fp,
            "n_ignored": self.n_ignored,
        }
        if curves:
            out["precision"] = self.precision.tolist()
            out["recall"] = None if self.n_gt == 0 else self.recall.tolist()
            out["score"] = self.score.tolist()
        return out


@dataclass(frozen=True, eq=False)
class VOCResult:
    """PASCAL VOC evaluation of a detection set.

    Attributes
    ----------
    per_class : tuple of VOCClassResult
        One per category, by ascending category id: every declared category and every
        category seen in the ground truth or the detections.
    mAP : float
        Mean AP over the categories with ``n_gt > 0``; NaN when there is none.
    iou_threshold : float
    interpolation : {"all_point", "11_point"}
    pixel_offset : int
    """

    per_class: tuple[VOCClassResult, ...]
    mAP: float
    iou_threshold: float
    interpolation: Interpolation
    pixel_offset: int

    @property
    def category_ids(self) -> NDArray[np.int64]:
        """ndarray of shape (K,), dtype int64: the categories, in ``per_class`` order."""
        return np.array([c.category_id for c in self.per_class], dtype=np.int64)

    @property
    def ap(self) -> NDArray[np.float64]:
        """ndarray of shape (K,), dtype float64: AP per category, NaN where undefined."""
        return np.array([c.ap for c in self.per_class], dtype=np.float64)

    def __getitem__(self, category_id: int) -> VOCClassResult:
        for c in self.per_class:
            if c.category_id == category_id:
                return c
        raise KeyError(category_id)

    def to_dict(self, curves: bool = False) -> dict[str, Any]:
        """JSON-safe dict of the settings, ``mAP`` and ``per_class``.

        Parameters
        ----------
        curves : bool
            Also give each category's ``precision``, ``recall`` and ``score`` lists
            (one entry per ranked detection, so possibly long).
        """
        defined = not np.isnan(self.mAP)
        return {
            "iou_threshold": self.iou_threshold,
            "interpolation": self.interpolation,
            "pixel_offset": self.pixel_offset,
            "mAP": float(self.mAP) if defined else None,
            "undefined_reason": None if defined else "no category has ground truth",
            "n_categories_with_gt": sum(c.n_gt > 0 for c in self.per_class),
            "per_class": [c.to_dict(curves) for c in self.per_class],
        }


# --------------------------------------------------------------------------- matching


def _best_ground_truth(
    gt: GroundTruth,
    det: Predictions,
    gt_code: NDArray[np.int64],
    det_code: NDArray[np.int64],
    pixel_offset: int,
    min_iou: float,
) -> NDArray[np.int64]:
    """For each detection, the same-image same-category ground truth it overlaps most,
    if that overlap reaches ``min_iou``.

    Only pairs reaching ``min_iou`` are formed, so that the work follows the overlapping
    pairs rather than every pair of an image and category.

    Parameters
    ----------
    gt : GroundTruth
        Every annotation on a declared image.
    det : Predictions
    gt_code, det_code : ndarray of shape (n_gt,) and (n_det,), dtype int64
        Category codes.
    pixel_offset, min_iou
        As for :func:`evaluate_voc`.

    Returns
    -------
    ndarray of shape (n_det,), dtype int64
        Index into ``gt``'s annotations of the ground truth with the highest IoU (the
        first one on equal IoU); -1 when no ground truth of the detection's image and
        category reaches ``min_iou``.
    """
    n_det, n_gt = len(det), len(gt)
    if n_det == 0 or n_gt == 0:
        return np.full(n_det, -1, dtype=np.int64)
    # Dense image positions (negative for a detection on an undeclared image: it meets no
    # ground truth); the category is matched inside each image's ground truth.
    gt_image, det_image = image_positions(gt.image_ids, gt.ann_image_ids, det.image_ids)
    det_boxes, gt_boxes = det.boxes, gt.boxes
    if pixel_offset:  # the +1 pixel convention: a box spans w + 1 pixels, so widen them all
        grow = np.array([0, 0, pixel_offset, pixel_offset], dtype=np.float64)
        det_boxes, gt_boxes = det_boxes + grow, gt_boxes + grow
    no_crowd = np.zeros(n_gt, dtype=bool)
    return nearest_ground_truth(
        det_image, det_boxes, gt_image, gt_boxes, no_crowd, min_iou, det_code, gt_code
    )


def _sequential_sum(values: NDArray[np.float64]) -> float:
    """Sum from first to last element, the order the reference tools use.

    numpy's pairwise ``sum`` may differ from it in the last bit; published values were
    produced with plain loops, and this reproduces them exactly.
    """
    return float(np.cumsum(values)[-1]) if values.shape[0] else 0.0


def _average_precisions(
    tp_precision: NDArray[np.float64],
    tp_recall: NDArray[np.float64],
    tp_start: NDArray[np.int64],
    n_pos: NDArray[np.int64],
    interpolation: Interpolation,
) -> NDArray[np.float64]:
    """Area under the interpolated precision/recall curve of every category.

    Parameters
    ----------
    tp_precision, tp_recall : ndarray of shape (n_tp,), dtype float64
        Precision and recall at each true positive, by category then rank.
    tp_start : ndarray of shape (K + 1,), dtype int64
        Category k's true positives: ``tp_start[k]`` to ``tp_start[k + 1]``.
    n_pos : ndarray of shape (K,), dtype int64
    interpolation : {"all_point", "11_point"}

    Returns
    -------
    ndarray of shape (K,), dtype float64
        NaN where ``n_pos`` is 0.

    Notes
    -----
    The devkit walks every ranked detection, but reads the curve only at the true
    positives: recall steps there, and the precision envelope there is the running
    maximum of the true positives' precisions from the right (a false positive's
    precision is below the last true positive's before it). ``all_point`` sums
    ``(recall - previous recall) * envelope`` over the steps (the last step, to recall
    1, adds ``+0.0``); ``11_point`` reads the envelope at the first true positive
    reaching each recall threshold, 0 where none does (also without any: precision 0).
    Sums run left to right, as the devkit's, with the same doubles.
    """
    ap = np.full(n_pos.shape[0], np.nan)
    for k in np.flatnonzero(n_pos > 0).tolist():
        precision = tp_precision[tp_start[k] : tp_start[k + 1]]
        if precision.shape[0] == 0:
            ap[k] = 0.0
            continue
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        recall = tp_recall[tp_start[k] : tp_start[k + 1]]
        if interpolation == "11_point":
            reach = np.searchsorted(recall, _ELEVEN_RECALLS, side="left")
            points = np.where(
                reach < recall.shape[0], envelope[reach.clip(max=recall.shape[0] - 1)], 0.0
            )
            ap[k] = _sequential_sum(points) / 11
        else:
            steps = np.diff(recall, prepend=0.0)
            ap[k] = _sequential_sum(steps * envelope)
    return ap


def evaluate_voc(
    ground_truth: GroundTruth,
    detections: Predictions,
    *,
    iou_threshold: float = 0.5,
    interpolation: Interpolation = "all_point",
    pixel_offset: int = 0,
    category_names: Mapping[int, str] | None = None,
) -> VOCResult:
    """PASCAL VOC average precision per category and mAP.

    Parameters
    ----------
    ground_truth : GroundTruth
        From :meth:`GroundTruth.from_arrays <evaluator.input.columns.GroundTruth.from_arrays>`,
        a loader, or the former ``GroundTruthArrays(...)``. ``difficult`` and ``iscrowd``
        ground truth are both treated as VOC *difficult*: not positives, and a detection
        matched to one is ignored. Annotations on an undeclared image or category are
        left out.
    detections : Predictions
        Every detection is scored, whatever its category (:func:`evaluate_voc_coco`
        leaves out those the ground truth does not declare, as pycocotools does).
    iou_threshold : float
        A detection can match when its IoU is ``>= iou_threshold``; in ``(0, 1]``.
    interpolation : {"all_point", "11_point"}
        ``"all_point"`` as VOC2010 onwards, ``"11_point"`` as VOC2007.
    pixel_offset : {0, 1}
        1 selects the legacy devkit convention where a box covers ``w + 1`` by ``h + 1``
        pixels in the intersection and the areas; 0 is the continuous (COCO) geometry.
    category_names : mapping of int to str, optional
        Names for the result; its keys are also reported when nothing else mentions them.

    Returns
    -------
    VOCResult
        Its categories: the ground truth's declared ones, those of the detections and
        the keys of ``category_names``.

    Notes
    -----
    The module docstring gives the matching rules. Ties in score keep input order:
    detections are stably sorted by descending score, so the earlier one ranks first.
    """
    return evaluate_voc_interpolations(
        ground_truth,
        detections,
        (interpolation,),
        iou_threshold=iou_threshold,
        pixel_offset=pixel_offset,
        category_names=category_names,
    )[interpolation]


def evaluate_voc_interpolations(
    ground_truth: GroundTruth,
    detections: Predictions,
    interpolations: Sequence[Interpolation],
    *,
    iou_threshold: float = 0.5,
    pixel_offset: int = 0,
    category_names: Mapping[int, str] | None = None,
) -> dict[str, VOCResult]:
    """:func:`evaluate_voc` at several interpolations, matching the detections once.

    Returns
    -------
    dict of str to VOCResult
        One result per interpolation, keyed by it.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    bad = [i for i in interpolations if i not in _INTERPOLATIONS]
    if bad:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got {bad[0]!r}")
    if pixel_offset not in (0, 1):
        raise ValueError(f"pixel_offset must be 0 or 1, got {pixel_offset!r}")
    names = dict(category_names or {})
    named = np.fromiter(names, dtype=np.int64, count=len(names))
    ground_truth = ground_truth.declared_only()
    # Usually every detection's category is declared: then the union needs no sort of
    # the detections' ids, only of those outside the declared ones.
    det_code, declared = index_of(ground_truth.category_ids, detections.category_ids)
    others = np.unique(detections.category_ids[~declared]) if not declared.all() else named
    categories = np.union1d(np.union1d(ground_truth.category_ids, others), named)  # (K,)
    if categories.shape[0] > ground_truth.category_ids.shape[0]:  # not the declared ones
        det_code = index_of(categories, detections.category_ids)[0]

    hard = ground_truth.difficult | ground_truth.iscrowd  # (n_gt,)
    gt_code = np.searchsorted(categories, ground_truth.ann_category_ids)
    n_pos = np.bincount(gt_code[~hard], minlength=categories.shape[0])  # (K,)
    n_hard = np.bincount(gt_code[hard], minlength=categories.shape[0])  # (K,)

    target = _best_ground_truth(
        ground_truth,
        detections,
        gt_code,
        det_code,
        pixel_offset,
        iou_threshold,
    )

    # Rank: by category, then descending score, ties in input order; each detection's
    # score and ground truth in that order. Then which ones are kept (not aimed at hard
    # ground truth) and which are true positives (the first kept one aimed at its ground
    # truth), and the points of every category's curve at its true positives (what the
    # average precisions read), each in one pass; whole curves when asked.
    bounds = np.empty(categories.shape[0] + 1, dtype=np.int64)  # (K + 1,) each class's run
    ranked_score, ranked_target = ranked_columns(
        det_code, detections.scores, categories.shape[0], bounds, target
    )
    del target
    flags = np.empty(ranked_score.shape[0], dtype=np.uint8)
    n_tp_all = kernels.ranked_claims(ranked_target, hard.view(np.uint8), flags)
    del ranked_target
    n_pos = n_pos.astype(np.int64)
    precision_tp, recall_tp, score_tp = np.empty((3, n_tp_all))
    kept_start = np.empty(categories.shape[0] + 1, dtype=np.int64)  # (K + 1,)
    tp_start = np.empty(categories.shape[0] + 1, dtype=np.int64)  # (K + 1,)
    kernels.ranked_curves(
        bounds, flags, n_pos, ranked_score, precision_tp, recall_tp, score_tp,
        np.empty(n_tp_all, dtype=np.uint8), kept_start, tp_start, False,
    )  # fmt: skip
    n_kept, n_tp = np.diff(kept_start), np.diff(tp_start)  # (K,)
    ap_by = {
        i: _average_precisions(precision_tp, recall_tp, tp_start, n_pos, i) for i in interpolations
    }
    curves = RankedCurves(bounds, flags, n_pos, ranked_score, int(kept_start[-1]))

    per_class: dict[str, list[VOCClassResult]] = {i: [] for i in interpolations}
    for k, category_id in enumerate(categories.tolist()):
        n_det = int(bounds[k + 1] - bounds[k])
        for interpolation in interpolations:
            per_class[interpolation].append(
                VOCClassResult(
                    category_id=category_id,
                    name=names.get(category_id),
                    ap=float(ap_by[interpolation][k]),
                    n_gt=int(n_pos[k]),
                    n_difficult=int(n_hard[k]),
                    n_det=n_det,
                    tp=int(n_tp[k]),
                    fp=int(n_kept[k] - n_tp[k]),
                    n_ignored=n_det - int(n_kept[k]),
                    curves=curves,
                    kept_start=int(kept_start[k]),
                )
            )
    with_gt = n_pos > 0
    results: dict[str, VOCResult] = {}
    for interpolation in interpolations:
        aps = ap_by[interpolation]
        mean_ap = (
            _sequential_sum(aps[with_gt]) / int(with_gt.sum()) if with_gt.any() else float("nan")
        )
        results[interpolation] = VOCResult(
            per_class=tuple(per_class[interpolation]),
            mAP=mean_ap,
            iou_threshold=float(iou_threshold),
            interpolation=interpolation,
            pixel_offset=int(pixel_offset),
        )
    return results


def evaluate_voc_coco(
    gt: Source | GroundTruth,
    predictions: Source | Predictions | NDArray[Any],
    *,
    iou_threshold: float = 0.5,
    interpolation: Interpolation = "all_point",
    pixel_offset: int = 0,
) -> VOCResult:
    """:func:`evaluate_voc` on COCO ground truth and COCO results.

    Parameters
    ----------
    gt : path, JSON bytes, COCO dict, or GroundTruth
        An annotation may carry ``difficult`` and ``iscrowd`` (0/1 or false/true); an
        ``ignore`` field is not read. Annotations whose image or category is not
        declared are left out.
    predictions : path, JSON bytes, list of result dicts, dict with an ``annotations``
        list, ndarray (n, 7), or Predictions
        As :func:`evaluator.input.coco_json.load_predictions` accepts them; results
        whose category is not declared are left out, as pycocotools does.
    iou_threshold, interpolation, pixel_offset
        As for :func:`evaluate_voc`.

    Returns
    -------
    VOCResult
        Every declared category appears in it, with its name.

    Raises
    ------
    InputError
        Malformed input, with its location (``predictions[17].bbox: ...``), or a result
        on an image the ground truth does not have.

    Warns
    -----
    DataWarning
        Each warning of the loaders (results dropped, duplicate ids, ...).
    """
    ground = load_ground_truth(gt)
    preds = load_predictions(predictions, ground)
    for message in ground.warnings + preds.warnings:
        warnings.warn(message, DataWarning, stacklevel=2)
    names = dict(zip(ground.category_ids.tolist(), ground.category_names, strict=True))
    return evaluate_voc(
        ground,
        preds.of_declared_categories(ground),
        iou_threshold=iou_threshold,
        interpolation=interpolation,
        pixel_offset=pixel_offset,
        category_names=names,
    )
