"""``evaluate_coco``: COCO bbox, segm and keypoints evaluation, bit-identical to pycocotools."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from evaluator.analyses.confusion import detection_confusion_matrix
from evaluator.analyses.f1_curves import f1_curves_section
from evaluator.analyses.operating_points import operating_points
from evaluator.analyses.tide import error_section
from evaluator.errors import DataWarning
from evaluator.input.coco_json import Source
from evaluator.input.columns import GroundTruth, Predictions
from evaluator.input.ids import index_of
from evaluator.input.loading import load_evaluation_inputs
from evaluator.masks.compressed import CompressedMasks
from evaluator.memory import ordinary_pages
from evaluator.metrics.accumulation import accumulate
from evaluator.metrics.matching import Progress, match_detections, section_planes
from evaluator.metrics.params import CocoParams, IouType, Mode
from evaluator.metrics.voc import evaluate_voc_interpolations
from evaluator.report.coco_report import CocoReport
from evaluator.threads import on_this_thread


def evaluate_coco(
    gt: Source | GroundTruth,
    predictions: Source | Predictions | np.ndarray,
    *,
    iou_thresholds: Sequence[float] | None = None,
    recall_thresholds: Sequence[float] | None = None,
    max_dets: Sequence[int] | None = None,
    area_ranges: Mapping[str, tuple[float, float]] | None = None,
    use_cats: bool = True,
    mode: Mode = "pycocotools",
    iou_type: IouType = "bbox",
    oks_sigmas: Sequence[float] | None = None,
    unknown_categories: Literal["drop", "error"] = "drop",
    score_threshold: float | None = None,
    extras: bool = False,
    progress: Progress | None = None,
) -> CocoReport:
    """Evaluate detections the way pycocotools' ``COCOeval`` does, to the bit.

    Parameters
    ----------
    gt : path, JSON bytes, COCO dict, or GroundTruth
    predictions : path, JSON bytes, list of result dicts, dict with an ``annotations``
        list, ndarray (n, 7) ``[image_id, x, y, w, h, score, category_id]`` (boxes only),
        or Predictions
    iou_thresholds, recall_thresholds, max_dets, area_ranges, use_cats
        pycocotools' ``Params`` (``iouThrs``, ``recThrs``, ``maxDets``, ``areaRng`` with its
        labels as keys, ``useCats``); None keeps the default of ``iou_type``.
    mode : {"pycocotools", "corrected"}
        See :class:`evaluator.metrics.params.CocoParams`.
    iou_type : {"bbox", "segm", "keypoints"}
        Boxes by IoU; masks by mask IoU (ground-truth polygons or RLE at their image's
        ``height`` and ``width``, results with an RLE ``segmentation``); or keypoints
        by OKS (results carry ``keypoints``; pycocotools'
        keypoint defaults: maxDets 20, areas all / medium / large, 10 stats).
    oks_sigmas : sequence of float, optional
        Per-keypoint OKS sigmas for skeletons other than COCO's 17-keypoint person.
    unknown_categories : {"drop", "error"}
        Results whose category the ground truth lacks: dropped with a warning, or an error.
    score_threshold : float, optional
        Also report precision, recall and F1 at this score (section ``operating_points``;
        the F1-optimal thresholds are always there).
    extras : bool
        Add the sections that cost extra time: ``voc`` (PASCAL VOC AP at IoU 0.5,
        all-point and 11-point) and ``confusion_matrix`` (at ``score_threshold``, or at
        the pooled F1-optimal threshold).
    progress : callable, optional
        Called with the fraction done, in [0, 1].

    Returns
    -------
    CocoReport

    Raises
    ------
    InputError
        Input that cannot be evaluated, with the location of the problem.
    """
    params = CocoParams.build(
        iou_thresholds=iou_thresholds,
        recall_thresholds=recall_thresholds,
        max_dets=max_dets,
        area_ranges=area_ranges,
        use_cats=use_cats,
        mode=mode,
        iou_type=iou_type,
        oks_sigmas=oks_sigmas,
    )
    kind = {"iou_type": params.iou_type, "n_keypoints": params.oks_sigmas.shape[0]}
    _report(progress, 0.1)  # the parameters are good: the loading starts
    with ordinary_pages():
        gt, preds = load_evaluation_inputs(gt, predictions, unknown_categories, **kind)
        _report(progress, 0.3)
        for message in gt.warnings + preds.warnings:
            warnings.warn(message, DataWarning, stacklevel=2)
        return evaluate_loaded(gt, preds, params, score_threshold, extras, progress)


# The sections built on box IoU; a report of another type says why they are absent.
NOT_APPLICABLE = {
    "keypoints": {
        "voc": "VOC AP matches boxes; this is a keypoints evaluation",
        "confusion_matrix": "the confusion matrix matches boxes; this is a keypoints evaluation",
        "errors": "the TIDE error types are defined on boxes; this is a keypoints evaluation",
    },
    "segm": {"voc": "VOC AP is a box metric; this is a segm evaluation"},
}


def _extra_sections(
    gt: GroundTruth, preds: Predictions, score_threshold: float, with_voc: bool
) -> dict[str, Any]:
    """The ``confusion_matrix`` report section (by mask IoU when ``preds`` hold masks), and
    with ``with_voc`` the ``voc`` section, on the calling thread alone (they run beside
    the error breakdown, which has the thread pool)."""
    with on_this_thread():
        return _confusion_and_voc(gt, preds, score_threshold, with_voc)


def _confusion_and_voc(
    gt: GroundTruth, preds: Predictions, score_threshold: float, with_voc: bool
) -> dict[str, Any]:
    """:func:`_extra_sections` on any thread."""
    names = dict(zip(gt.category_ids.tolist(), gt.category_names, strict=True))
    preds = preds.of_declared_categories(gt)
    confusion = detection_confusion_matrix(
        gt, preds, score_threshold=score_threshold, category_names=names
    )
    sections = {"confusion_matrix": confusion.to_dict()}
    if with_voc:
        both = evaluate_voc_interpolations(
            gt, preds, ("all_point", "11_point"), category_names=names
        )
        sections["voc"] = {
            interpolation: result.to_dict() for interpolation, result in both.items()
        }
    return sections


def evaluate_loaded(
    gt: GroundTruth,
    preds: Predictions,
    params: CocoParams,
    score_threshold: float | None = None,
    extras: bool = False,
    progress: Progress | None = None,
) -> CocoReport:
    """:func:`evaluate_coco` on loaded, validated input."""
    # Which ground truth each detection matched is read by the error breakdown alone.
    with_errors = extras and "errors" not in NOT_APPLICABLE.get(params.iou_type, {})
    matching = match_detections(gt, preds, params, progress, with_matches=with_errors)
    acc = accumulate(matching, params)
    _report(progress, 0.85)
    if params.use_cats:
        category_ids = gt.category_ids
        names = gt.category_names
        position, known = index_of(category_ids, preds.category_ids)
        n_pred = np.bincount(position[known], minlength=category_ids.shape[0])
        area_all = params.area_labels.index("all") if "all" in params.area_labels else 0
    else:
        category_ids = np.array([-1], dtype=np.int64)
        names = ("all",)
        n_pred = np.array([int(np.isin(preds.category_ids, gt.category_ids).sum())])
        area_all = params.area_labels.index("all") if "all" in params.area_labels else 0
    fields: dict[str, Any] = {
        "category_ids": category_ids,
        "category_names": names,
        "n_gt": matching.n_positive[:, area_all].copy(),
        "n_pred": n_pred.astype(np.int64),
        "warnings": gt.warnings + preds.warnings,
    }
    matching, section_params = section_planes(matching, params)
    points = operating_points(
        matching, section_params, category_ids, score_threshold=score_threshold
    )
    ids = category_ids.tolist()
    sections: dict[str, Any] = {
        "operating_points": points.to_dict(),
        "f1_curves": f1_curves_section(matching, section_params, ids),
    }
    absent = NOT_APPLICABLE.get(params.iou_type, {})
    if extras and absent:
        sections["not_applicable"] = dict(absent)
    if with_errors:
        threshold = score_threshold
        if threshold is None or not np.isfinite(threshold):
            best = points.overall_best_f1.threshold
            threshold = best if np.isfinite(best) else 0.0
        if isinstance(preds.masks, CompressedMasks):
            # each section reads every mask's box: strings are measured once, kept after
            preds.masks.to_bbox()
        # The confusion matrix and VOC run beside the error breakdown: they are independent,
        # and much of each is single-threaded NumPy.
        with ThreadPoolExecutor(max_workers=1) as pool:
            others = pool.submit(_extra_sections, gt, preds, threshold, "voc" not in absent)
            errors = error_section(matching, section_params, gt, preds, ids, names)
            sections.update(others.result())
        sections["errors"] = errors
        _report(progress, 0.95)
    fields["sections"] = sections
    report = CocoReport.from_arrays(acc.precision, acc.recall, acc.scores, params, **fields)
    _report(progress, 1.0)
    return report


def _report(progress: Progress | None, fraction: float) -> None:
    """Tell ``progress`` (when given) how far the evaluation is, in [0, 1]."""
    if progress is not None:
        progress(fraction)
