"""A slow, plain-loop reference for COCO bbox evaluation, equal to pycocotools bit for bit.

This module is the referee for ``evaluator.evaluate_coco``: it is written for
readability, one step per function, with Python loops over images, categories,
detections and ground truth. It reproduces pycocotools' ``COCOeval`` (``iouType="bbox"``)
including its quirks, so that every number can be compared with ``==``:

* Thresholds come from the same ``np.linspace`` calls as pycocotools' ``Params``.
* Detections are ranked by descending score with a *stable* sort, so ties keep file
  order inside an (image, category) group, and image-id order across images.
* Only the top ``max(max_dets)`` detections of each (image, category) group are
  matched; each entry of ``max_dets`` then truncates every image's list again.
* A ground truth is ignored when it is a crowd (its ``ignore`` field is overwritten by
  ``iscrowd``) or its ``area`` *field* lies outside the inclusive area range.
* A crowd ground truth can absorb many detections; its IoU is the intersection over
  the detection's area.
* A ground truth whose annotation id is 0 never counts as matched (pycocotools stores
  the matched id and reads 0 as "no match"), yet it stays "taken" for later detections.
* Annotation ids resolve to the *last* annotation that carries them.
* Precision adds ``np.spacing(1)`` to its denominator; categories without ground truth
  get -1 and are left out of the means; ``stats[0]`` always reads ``maxDets == 100``;
  each stat is ``np.mean`` over the same flattened array as pycocotools.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

COCO_AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0**2, 1e5**2),
    "small": (0**2, 32**2),
    "medium": (32**2, 96**2),
    "large": (96**2, 1e5**2),
}
"""pycocotools' default area ranges, label -> inclusive (lo, hi) in square pixels."""

COCO_MAX_DETS: tuple[int, ...] = (1, 10, 100)
"""pycocotools' default per-image detection limits."""

# The denominator term pycocotools adds to precision (tp / (tp + fp + eps)).
_PRECISION_EPS = float(np.spacing(1))

# pycocotools caps the IoU threshold just below 1 so that a threshold of 1.0 can match.
_IOU_CAP = 1 - 1e-10

# Annotation = one JSON object from the GT or results file.
Annotation = Mapping[str, Any]


def default_iou_thresholds() -> np.ndarray:
    """IoU thresholds 0.50:0.05:0.95 built exactly as pycocotools builds them.

    Returns
    -------
    thresholds : ndarray of shape (10,), dtype float64
    """
    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def recall_thresholds() -> np.ndarray:
    """The 101 recall points 0.00:0.01:1.00 built exactly as pycocotools builds them.

    Returns
    -------
    thresholds : ndarray of shape (101,), dtype float64
    """
    return np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)


@dataclass(frozen=True)
class OracleParams:
    """Evaluation settings, in pycocotools' normalised form.

    Attributes
    ----------
    iou_thresholds : ndarray of shape (T,), dtype float64
    max_dets : tuple of int, length M
        Sorted increasingly, as pycocotools sorts ``maxDets``.
    area_labels : tuple of str, length A
    area_ranges : tuple of (lo, hi), length A
        Inclusive bounds on the ground-truth ``area`` field / detection ``w * h``.
    use_cats : bool
        False pools all categories into one, as pycocotools' ``useCats=0``.
    """

    iou_thresholds: np.ndarray
    max_dets: tuple[int, ...]
    area_labels: tuple[str, ...]
    area_ranges: tuple[tuple[float, float], ...]
    use_cats: bool


@dataclass(frozen=True)
class OracleResult:
    """What pycocotools' ``accumulate`` and ``summarize`` produce.

    Attributes
    ----------
    precision : ndarray of shape (T, R, K, A, M), dtype float64
        Interpolated precision at each recall threshold; -1 where a category has no
        non-ignored ground truth (or nothing at all) in that area range.
    recall : ndarray of shape (T, K, A, M), dtype float64
        Final recall; -1 where precision is -1.
    stats : ndarray of shape (12,), dtype float64
        AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 when undefined.
    category_ids : tuple of int, length K
        The K axis; ``(-1,)`` when categories are pooled.
    """

    precision: np.ndarray
    recall: np.ndarray
    stats: np.ndarray
    category_ids: tuple[int, ...]


@dataclass(frozen=True)
class GroupEval:
    """Matching result of one (image, category) group in one area range.

    Attributes
    ----------
    scores : list of float, length D
        Detection scores, highest first (at most ``max(max_dets)`` of them).
    matched_gt_ids : list of list of int, shape (T, D)
        Annotation id of the ground truth each detection matched at each IoU threshold,
        0 when it matched nothing (so a match with annotation id 0 looks unmatched).
    dt_ignored : list of list of bool, shape (T, D)
    gt_ignored : list of bool, length G
    """

    scores: list[float]
    matched_gt_ids: list[list[int]]
    dt_ignored: list[list[bool]]
    gt_ignored: list[bool]


def make_params(
    iou_thresholds: Sequence[float] | np.ndarray | None = None,
    max_dets: Sequence[int] = COCO_MAX_DETS,
    area_ranges: Mapping[str, tuple[float, float]] | None = None,
    use_cats: bool = True,
) -> OracleParams:
    """Normalise user settings the way pycocotools' ``evaluate`` does.

    Parameters
    ----------
    iou_thresholds : sequence of float, optional
        Defaults to :func:`default_iou_thresholds`.
    max_dets : sequence of int
        At least 3 values (``summarize`` reads the first three); sorted here.
    area_ranges : mapping of str to (lo, hi), optional
        Defaults to :data:`COCO_AREA_RANGES`; insertion order is the A axis.
    use_cats : bool

    Returns
    -------
    OracleParams
    """
    if len(max_dets) < 3:
        raise ValueError(f"max_dets needs at least 3 values for the summary, got {max_dets!r}")
    thresholds = (
        default_iou_thresholds()
        if iou_thresholds is None
        else np.asarray(iou_thresholds, dtype=np.float64)
    )
    ranges = COCO_AREA_RANGES if area_ranges is None else area_ranges
    return OracleParams(
        iou_thresholds=thresholds,
        max_dets=tuple(sorted(max_dets)),
        area_labels=tuple(ranges),
        area_ranges=tuple((lo, hi) for lo, hi in ranges.values()),
        use_cats=use_cats,
    )


def load_ground_truth(
    gt: Mapping[str, Any], use_cats: bool
) -> tuple[list[Any], list[Any], dict[tuple[Any, Any], list[Annotation]]]:
    """Select and group ground truth as pycocotools' ``COCO`` index and ``_prepare`` do.

    Annotations are visited image by image (image ids sorted), in file order within an
    image. With categories on, only declared categories are kept. Each visited
    annotation is then replaced by the *last* annotation with the same id, and grouped
    by that annotation's own (image_id, category_id).

    Parameters
    ----------
    gt : mapping
        COCO ground truth.
    use_cats : bool
        False keeps annotations of undeclared categories too (pycocotools does; they
        are never read, as pooled groups only gather declared categories).

    Returns
    -------
    image_ids : list
        Sorted unique image ids from ``gt["images"]``.
    category_ids : list
        Sorted unique category ids from ``gt["categories"]``.
    groups : dict of (image_id, category_id) to list of annotation
    """
    image_ids = sorted({image["id"] for image in gt["images"]})
    declared = [category["id"] for category in gt["categories"]]
    if len(set(declared)) != len(declared):
        raise ValueError("the oracle does not model duplicate category ids")
    category_ids = sorted(declared)
    annotations = gt.get("annotations", [])

    last_with_id: dict[Any, Annotation] = {}
    per_image: dict[Any, list[Annotation]] = defaultdict(list)
    for annotation in annotations:
        last_with_id[annotation["id"]] = annotation
        per_image[annotation["image_id"]].append(annotation)

    groups: dict[tuple[Any, Any], list[Annotation]] = defaultdict(list)
    for image_id in image_ids:
        for annotation in per_image[image_id]:
            if use_cats and annotation["category_id"] not in category_ids:
                continue
            resolved = last_with_id[annotation["id"]]
            groups[resolved["image_id"], resolved["category_id"]].append(resolved)
    return image_ids, category_ids, groups


def load_detections(
    predictions: Sequence[Annotation], image_ids: Sequence[Any]
) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    """Group detections as pycocotools' ``loadRes`` and ``_prepare`` do.

    A detection's ``area`` is recomputed as ``w * h`` on the values as given, whatever
    ``area`` (or ``id``, ``iscrowd``) field it carried. Groups keep file order.
    pycocotools also numbers detections from 1; the oracle needs no ids (see
    :func:`match_group`).

    Returns
    -------
    groups : dict of (image_id, category_id) to list of dict
        Each dict has ``score``, ``bbox``, ``area``.
    """
    known_images = set(image_ids)
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for position, prediction in enumerate(predictions):
        if prediction["image_id"] not in known_images:
            raise ValueError(f"predictions[{position}].image_id is not a GT image")
        box = prediction["bbox"]
        detection = {
            "score": prediction["score"],
            "bbox": box,
            "area": box[2] * box[3],
        }
        groups[prediction["image_id"], prediction["category_id"]].append(detection)
    return groups


def group_for_evaluation(
    groups: Mapping[tuple[Any, Any], list[Any]],
    image_id: Any,
    category_id: Any,
    category_ids: Sequence[Any],
    use_cats: bool,
) -> list[Any]:
    """The list pycocotools evaluates for one (image, category) cell.

    With categories pooled (``category_id == -1``) it is the concatenation of the
    image's groups in sorted category order; unknown categories never appear.
    """
    if use_cats:
        return list(groups.get((image_id, category_id), []))
    return [item for cid in category_ids for item in groups.get((image_id, cid), [])]


def rank_detections(detections: Sequence[dict[str, Any]], max_det: int) -> list[dict[str, Any]]:
    """Highest score first with a stable sort (ties keep input order), cut to ``max_det``."""
    ranked = sorted(detections, key=lambda detection: -detection["score"])
    return ranked[:max_det]


def bbox_iou(detection_box: Sequence[float], gt_box: Sequence[float], crowd: bool) -> float:
    """IoU of two ``[x, y, w, h]`` boxes with pycocotools' floating-point operation order.

    For a crowd ground truth the denominator is the detection's area alone.
    """
    dx, dy, dw, dh = (float(v) for v in detection_box)
    gx, gy, gw, gh = (float(v) for v in gt_box)
    inter_w = min(dw + dx, gw + gx) - max(dx, gx)
    if inter_w <= 0:
        return 0.0
    inter_h = min(dh + dy, gh + gy) - max(dy, gy)
    if inter_h <= 0:
        return 0.0
    intersection = inter_w * inter_h
    detection_area = dw * dh
    union = detection_area if crowd else detection_area + gw * gh - intersection
    return intersection / union


def match_group(
    detections: Sequence[dict[str, Any]],
    gts: Sequence[Annotation],
    area_range: tuple[float, float],
    iou_thresholds: np.ndarray,
) -> GroupEval:
    """Greedy matching of ranked detections to ground truth in one area range.

    For each threshold, each detection in rank order takes the best still-available
    ground truth with IoU >= threshold (later ground truth wins IoU ties). Ground truth
    is scanned non-ignored first; once a non-ignored match is held, ignored ground truth
    is not considered. Crowd ground truth stays available after a match.

    pycocotools marks a ground truth as taken by storing the detection's id, always >= 1,
    so a boolean says the same. It marks a detection as matched by storing the ground
    truth's id, so a match with annotation id 0 reads as no match: kept here.

    Parameters
    ----------
    detections : sequence of dict
        Already ranked and truncated (:func:`rank_detections`).
    gts : sequence of annotation
    area_range : (lo, hi)
    iou_thresholds : ndarray of shape (T,)

    Returns
    -------
    GroupEval
    """
    lo, hi = area_range
    ignored = [bool(g["iscrowd"]) or g["area"] < lo or g["area"] > hi for g in gts]
    # Non-ignored ground truth first, stable.
    order = sorted(range(len(gts)), key=lambda index: ignored[index])
    ordered_gts = [gts[index] for index in order]
    gt_ignored = [ignored[index] for index in order]
    crowd = [int(g["iscrowd"]) != 0 for g in ordered_gts]
    ious = [
        [bbox_iou(d["bbox"], g["bbox"], c) for g, c in zip(ordered_gts, crowd, strict=True)]
        for d in detections
    ]

    matched_gt_ids: list[list[int]] = []
    dt_ignored: list[list[bool]] = []
    for threshold in iou_thresholds:
        gt_taken = [False] * len(ordered_gts)
        matched_row = [0] * len(detections)
        ignored_row = [False] * len(detections)
        for d_index in range(len(detections)):
            best_iou = min(float(threshold), _IOU_CAP)
            best = -1
            for g_index in range(len(ordered_gts)):
                if gt_taken[g_index] and not crowd[g_index]:
                    continue
                if best > -1 and not gt_ignored[best] and gt_ignored[g_index]:
                    break
                if ious[d_index][g_index] < best_iou:
                    continue
                best_iou = ious[d_index][g_index]
                best = g_index
            if best == -1:
                continue
            ignored_row[d_index] = gt_ignored[best]
            matched_row[d_index] = ordered_gts[best]["id"]
            gt_taken[best] = True
        for d_index, detection in enumerate(detections):
            outside = detection["area"] < lo or detection["area"] > hi
            if matched_row[d_index] == 0 and outside:
                ignored_row[d_index] = True
        matched_gt_ids.append(matched_row)
        dt_ignored.append(ignored_row)
    return GroupEval(
        scores=[d["score"] for d in detections],
        matched_gt_ids=matched_gt_ids,
        dt_ignored=dt_ignored,
        gt_ignored=gt_ignored,
    )


def count_positives(evals: Sequence[GroupEval]) -> int:
    """Number of non-ignored ground truth over all images of one (category, area) cell."""
    return sum(not flag for group in evals for flag in group.gt_ignored)


def precision_recall_curve(
    evals: Sequence[GroupEval], max_det: int, t_index: int, n_positive: int
) -> tuple[list[float], list[float]]:
    """Cumulative precision and recall over all images of one (category, area) cell.

    Each image contributes its first ``max_det`` detections; they are merged and ranked
    by a stable descending-score sort (ties keep image order, then rank order). Ignored
    detections keep their place in the curve and repeat the previous values.

    Returns
    -------
    precision : list of float, length N
        ``tp / (fp + tp + eps)`` after each detection.
    recall : list of float, length N
        ``tp / n_positive`` after each detection.
    """
    entries: list[tuple[float, bool, bool]] = []  # (score, is_match, is_ignored)
    for group in evals:
        for d_index in range(min(max_det, len(group.scores))):
            entries.append(
                (
                    group.scores[d_index],
                    group.matched_gt_ids[t_index][d_index] != 0,
                    group.dt_ignored[t_index][d_index],
                )
            )
    entries.sort(key=lambda entry: -entry[0])

    precision: list[float] = []
    recall: list[float] = []
    tp = fp = 0
    for _, is_match, is_ignored in entries:
        if not is_ignored:
            if is_match:
                tp += 1
            else:
                fp += 1
        recall.append(float(tp) / n_positive)
        precision.append(float(tp) / (float(fp) + float(tp) + _PRECISION_EPS))
    return precision, recall


def interpolate_precision(
    precision: Sequence[float], recall: Sequence[float], thresholds: np.ndarray
) -> list[float]:
    """Precision envelope sampled at each recall threshold (0 past the last recall).

    The envelope makes precision non-increasing from the right; each threshold reads it
    at the first position whose recall reaches the threshold.
    """
    envelope = list(precision)
    for index in range(len(envelope) - 1, 0, -1):
        if envelope[index] > envelope[index - 1]:
            envelope[index - 1] = envelope[index]
    sampled = [0.0] * len(thresholds)
    for r_index, threshold in enumerate(thresholds):
        position = 0
        while position < len(recall) and recall[position] < threshold:
            position += 1
        if position == len(recall):
            break
        sampled[r_index] = envelope[position]
    return sampled


def evaluate_groups(
    gt_groups: Mapping[tuple[Any, Any], list[Annotation]],
    dt_groups: Mapping[tuple[Any, Any], list[dict[str, Any]]],
    image_ids: Sequence[Any],
    category_ids: Sequence[Any],
    params: OracleParams,
) -> dict[tuple[int, int, Any], GroupEval]:
    """Match every (category, area range, image) cell that has a detection or a GT.

    Returns
    -------
    evals : dict of (k_index, a_index, image_id) to GroupEval
        Cells with neither ground truth nor detections are absent.
    """
    cells = category_ids if params.use_cats else [-1]
    evals: dict[tuple[int, int, Any], GroupEval] = {}
    for k_index, category_id in enumerate(cells):
        for image_id in image_ids:
            gts = group_for_evaluation(
                gt_groups, image_id, category_id, category_ids, params.use_cats
            )
            dts = group_for_evaluation(
                dt_groups, image_id, category_id, category_ids, params.use_cats
            )
            if not gts and not dts:
                continue
            ranked = rank_detections(dts, params.max_dets[-1])
            for a_index, area_range in enumerate(params.area_ranges):
                evals[k_index, a_index, image_id] = match_group(
                    ranked, gts, area_range, params.iou_thresholds
                )
    return evals


def accumulate(
    evals: Mapping[tuple[int, int, Any], GroupEval],
    image_ids: Sequence[Any],
    n_categories: int,
    params: OracleParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Precision (T, R, K, A, M) and recall (T, K, A, M), -1 where undefined."""
    rec_thresholds = recall_thresholds()
    t_count, k_count = len(params.iou_thresholds), n_categories
    a_count, m_count = len(params.area_ranges), len(params.max_dets)
    precision = -np.ones((t_count, len(rec_thresholds), k_count, a_count, m_count))
    recall = -np.ones((t_count, k_count, a_count, m_count))
    for k_index in range(k_count):
        for a_index in range(a_count):
            cell = [
                evals[k_index, a_index, image_id]
                for image_id in image_ids
                if (k_index, a_index, image_id) in evals
            ]
            n_positive = count_positives(cell)
            if n_positive == 0:  # no GT to find (or nothing at all): stays -1
                continue
            for m_index, max_det in enumerate(params.max_dets):
                for t_index in range(t_count):
                    curve_p, curve_r = precision_recall_curve(cell, max_det, t_index, n_positive)
                    recall[t_index, k_index, a_index, m_index] = curve_r[-1] if curve_r else 0.0
                    sampled = interpolate_precision(curve_p, curve_r, rec_thresholds)
                    precision[t_index, :, k_index, a_index, m_index] = sampled
    return precision, recall


def summary_value(
    values: np.ndarray,
    params: OracleParams,
    iou: float | None,
    area_label: str,
    max_det: int,
) -> float:
    """One summary number: the mean of the defined entries of a slice, or -1.

    The entries are gathered in the C order of pycocotools' slice (threshold, then
    recall point, then category) so that ``np.mean`` sums them in the same order.

    Parameters
    ----------
    values : ndarray of shape (T, R, K, A, M) or (T, K, A, M)
        Precision or recall.
    iou : float, optional
        Restrict to the thresholds equal to this value (none equal: -1).
    area_label, max_det
        Restrict to the area range with this label and the limit with this value.
    """
    t_indices = [
        t for t, threshold in enumerate(params.iou_thresholds) if iou is None or threshold == iou
    ]
    a_indices = [a for a, label in enumerate(params.area_labels) if label == area_label]
    m_indices = [m for m, limit in enumerate(params.max_dets) if limit == max_det]
    # pycocotools indexes the A and M axes with two lists, which numpy broadcasts together.
    if len(a_indices) == 1:
        pairs = [(a_indices[0], m) for m in m_indices]
    elif len(m_indices) == 1:
        pairs = [(a, m_indices[0]) for a in a_indices]
    elif len(a_indices) == len(m_indices):
        pairs = list(zip(a_indices, m_indices, strict=True))
    else:
        raise ValueError(f"area label {area_label!r} and maxDets {max_det} do not broadcast")
    gathered: list[float] = []
    inner_shape = values.shape[1:-2]  # (R, K) for precision, (K,) for recall
    for t in t_indices:
        for inner in np.ndindex(*inner_shape):
            for a, m in pairs:
                value = float(values[(t, *inner, a, m)])
                if value > -1:
                    gathered.append(value)
    if not gathered:
        return -1.0
    return float(np.mean(np.array(gathered, dtype=np.float64)))


def summarize(precision: np.ndarray, recall: np.ndarray, params: OracleParams) -> np.ndarray:
    """The 12 COCO stats, in pycocotools' order (``stats[0]`` reads maxDets == 100)."""
    first, second, third = params.max_dets[:3]
    plan: list[tuple[np.ndarray, float | None, str, int]] = [
        (precision, None, "all", 100),
        (precision, 0.5, "all", third),
        (precision, 0.75, "all", third),
        (precision, None, "small", third),
        (precision, None, "medium", third),
        (precision, None, "large", third),
        (recall, None, "all", first),
        (recall, None, "all", second),
        (recall, None, "all", third),
        (recall, None, "small", third),
        (recall, None, "medium", third),
        (recall, None, "large", third),
    ]
    return np.array(
        [summary_value(values, params, iou, label, limit) for values, iou, label, limit in plan],
        dtype=np.float64,
    )


def evaluate_coco_oracle(
    gt: Mapping[str, Any],
    predictions: Sequence[Annotation],
    *,
    iou_thresholds: Sequence[float] | np.ndarray | None = None,
    max_dets: Sequence[int] = COCO_MAX_DETS,
    area_ranges: Mapping[str, tuple[float, float]] | None = None,
    use_cats: bool = True,
) -> OracleResult:
    """Evaluate bbox detections the way pycocotools' ``COCOeval`` does, slowly.

    Parameters
    ----------
    gt : mapping
        A COCO ground-truth dict (``images``, ``categories``, ``annotations``).
    predictions : sequence of mapping
        A COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``). Not
        modified. Detections in undeclared categories are dropped.
    iou_thresholds, max_dets, area_ranges, use_cats
        As in :func:`make_params`.

    Returns
    -------
    OracleResult
    """
    params = make_params(iou_thresholds, max_dets, area_ranges, use_cats)
    image_ids, category_ids, gt_groups = load_ground_truth(gt, use_cats)
    dt_groups = load_detections(predictions, image_ids)
    evals = evaluate_groups(gt_groups, dt_groups, image_ids, category_ids, params)
    n_categories = len(category_ids) if use_cats else 1
    precision, recall = accumulate(evals, image_ids, n_categories, params)
    stats = summarize(precision, recall, params)
    return OracleResult(
        precision=precision,
        recall=recall,
        stats=stats,
        category_ids=tuple(category_ids) if use_cats else (-1,),
    )
