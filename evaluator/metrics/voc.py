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

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from evaluator.errors import DataWarning
from evaluator.input.coco_json import Source, load_ground_truth, load_predictions
from evaluator.input.columns import GroundTruth, Predictions, readonly
from evaluator.metrics.matching import index_of, stable_order
from evaluator.metrics.pairs import best_pair_per_detection, overlapping_pairs

Interpolation = Literal["all_point", "11_point"]
# The one name of each VOC mean AP where metrics are named side by side (deteval check,
# comparisons), with the interpolation whose section holds it as ``mAP``.
VOC_METRICS: dict[str, Interpolation] = {"VOC_mAP50": "all_point", "VOC_mAP50_11pt": "11_point"}
_INTERPOLATIONS = ("all_point", "11_point")

# The VOC2007 recall thresholds, built as the devkit builds them.
_ELEVEN_RECALLS = np.linspace(0, 1, 11)


# --------------------------------------------------------------------------- result


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
    """

    category_id: int
    name: str | None
    ap: float
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    score: NDArray[np.float64]
    n_gt: int
    n_difficult: int
    n_det: int
    tp: int
    fp: int
    n_ignored: int

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
    gt: GroundTruth, det: Predictions, pixel_offset: int, min_iou: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For each detection, the same-image same-category ground truth it overlaps most,
    if that overlap reaches ``min_iou``.

    Only pairs reaching ``min_iou`` are formed, so that the work follows the overlapping
    pairs rather than every pair of an image and category.

    Returns
    -------
    target : ndarray of shape (n_det,), dtype int64
        Index into ``gt``'s annotations of the ground truth with the highest IoU (the
        first one on equal IoU); -1 when no ground truth of the detection's image and
        category reaches ``min_iou``.
    overlap : ndarray of shape (n_det,), dtype float64
        That IoU; 0 where ``target`` is -1.
    """
    n_det, n_gt = len(det), len(gt)
    target = np.full(n_det, -1, dtype=np.int64)
    overlap = np.zeros(n_det, dtype=np.float64)
    if n_det == 0 or n_gt == 0:
        return target, overlap
    # Dense codes for (image, category), so that one integer names a group: positions
    # among the ground truth's images and categories; a detection elsewhere gets -1 (it
    # meets no ground truth).
    images, categories = np.unique(gt.ann_image_ids), np.unique(gt.ann_category_ids)
    gt_key = index_of(images, gt.ann_image_ids)[0] * categories.shape[0] + np.searchsorted(
        categories, gt.ann_category_ids
    )
    det_image, image_known = index_of(images, det.image_ids)
    det_category, category_known = index_of(categories, det.category_ids)
    det_key = np.where(
        image_known & category_known, det_image * categories.shape[0] + det_category, -1
    )
    det_boxes, gt_boxes = det.boxes, gt.boxes
    if pixel_offset:  # the +1 pixel convention: a box spans w + 1 pixels, so widen them all
        grow = np.array([0, 0, pixel_offset, pixel_offset], dtype=np.float64)
        det_boxes, gt_boxes = det_boxes + grow, gt_boxes + grow
    pair_det, pair_gt, iou = overlapping_pairs(
        det_key, det_boxes, gt_key, gt_boxes, np.zeros(n_gt, dtype=bool), min_iou
    )  # (p,) each, by detection, then ground truth in input order
    best_iou, best_pair = best_pair_per_detection(pair_det, iou, pair_gt, n_det)
    found = best_pair >= 0
    target[found] = pair_gt[best_pair[found]]
    overlap[found] = best_iou[found]
    return target, overlap


def _sequential_sum(values: NDArray[np.float64]) -> float:
    """Sum from first to last element, the order the reference tools use.

    numpy's pairwise ``sum`` may differ from it in the last bit; published values were
    produced with plain loops, and this reproduces them exactly.
    """
    return float(np.cumsum(values)[-1]) if values.shape[0] else 0.0


def _average_precision(
    precision: NDArray[np.float64], recall: NDArray[np.float64], interpolation: Interpolation
) -> float:
    """Area under the interpolated precision/recall curve of one category."""
    if interpolation == "11_point":
        if precision.shape[0] == 0:
            return 0.0
        envelope = np.maximum.accumulate(precision[::-1])[::-1]  # (k,)
        reach = np.searchsorted(recall, _ELEVEN_RECALLS, side="left")  # first recall >= t
        reached = reach < precision.shape[0]
        points = np.where(reached, envelope[np.minimum(reach, precision.shape[0] - 1)], 0.0)
        return _sequential_sum(points) / 11
    mrec = np.concatenate([[0.0], recall, [1.0]])  # (k + 2,)
    mpre = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    areas = (mrec[steps + 1] - mrec[steps]) * envelope[steps + 1]
    return _sequential_sum(areas)


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
    _, declared = index_of(ground_truth.category_ids, detections.category_ids)
    others = np.unique(detections.category_ids[~declared]) if not declared.all() else named
    categories = np.union1d(np.union1d(ground_truth.category_ids, others), named)  # (K,)

    hard = ground_truth.difficult | ground_truth.iscrowd  # (n_gt,)
    gt_code = np.searchsorted(categories, ground_truth.ann_category_ids)
    n_pos = np.bincount(gt_code[~hard], minlength=categories.shape[0])  # (K,)
    n_hard = np.bincount(gt_code[hard], minlength=categories.shape[0])  # (K,)

    target, overlap = _best_ground_truth(ground_truth, detections, pixel_offset, iou_threshold)
    hit = target >= 0  # (n_det,)
    ignored = np.zeros(len(detections), dtype=bool)
    ignored[hit] = hard[target[hit]]
    candidate = hit & ~ignored

    # Rank: by category, then descending score, ties in input order.
    det_code = index_of(categories, detections.category_ids)[0]
    no_tiebreak = np.zeros(len(detections), dtype=np.int64)
    rank = stable_order(det_code, detections.scores, no_tiebreak, categories.shape[0])
    ranked_candidate = np.flatnonzero(candidate[rank])
    _, first = np.unique(target[rank][ranked_candidate], return_index=True)
    tp = np.zeros(rank.shape[0], dtype=bool)  # in rank order
    tp[ranked_candidate[first]] = True
    kept = ~ignored[rank]  # in rank order

    bounds = np.zeros(categories.shape[0] + 1, dtype=np.int64)  # (K + 1,) each class's run
    np.cumsum(np.bincount(det_code, minlength=categories.shape[0]), out=bounds[1:])
    per_class: dict[str, list[VOCClassResult]] = {i: [] for i in interpolations}
    for k, category_id in enumerate(categories.tolist()):
        segment = slice(bounds[k], bounds[k + 1])
        keep = kept[segment]
        tp_k = tp[segment][keep]
        cum_tp = np.cumsum(tp_k)  # (k,) int64
        cum_fp = np.cumsum(~tp_k)
        precision = readonly((cum_tp / (cum_tp + cum_fp)).astype(np.float64))
        recall = readonly(
            (cum_tp / n_pos[k]).astype(np.float64)
            if n_pos[k] > 0
            else np.full(cum_tp.shape[0], np.nan)
        )
        score = readonly(detections.scores[rank[segment]][keep])
        n_det = int(bounds[k + 1] - bounds[k])
        n_tp = int(cum_tp[-1]) if cum_tp.shape[0] else 0
        for interpolation in interpolations:
            ap = (
                _average_precision(precision, recall, interpolation)
                if n_pos[k] > 0
                else float("nan")
            )
            per_class[interpolation].append(
                VOCClassResult(
                    category_id=category_id,
                    name=names.get(category_id),
                    ap=ap,
                    precision=precision,
                    recall=recall,
                    score=score,
                    n_gt=int(n_pos[k]),
                    n_difficult=int(n_hard[k]),
                    n_det=n_det,
                    tp=n_tp,
                    fp=int(keep.sum()) - n_tp,
                    n_ignored=n_det - int(keep.sum()),
                )
            )
    with_gt = n_pos > 0
    results: dict[str, VOCResult] = {}
    for interpolation in interpolations:
        aps = np.array([c.ap for c in per_class[interpolation]], dtype=np.float64)
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
