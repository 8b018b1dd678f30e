"""COCO's summary numbers from the accumulated arrays, as ``COCOeval.summarize()``.

Twelve for boxes (``_summarizeDets``), ten for keypoints (``_summarizeKps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.params import CocoParams, IouType


@dataclass(frozen=True)
class StatSpec:
    """One summary number: AP or AR at an IoU threshold (None: all), area and max_dets."""

    name: str
    kind: str  # "AP" or "AR"
    iou: float | None
    area: str
    max_dets_index: int | None  # index into max_dets; None: the literal (see below)
    literal_max_dets: int = 100


# pycocotools' order. stats[0] looks up maxDets == 100 literally (so it is -1 when 100 is
# not among max_dets); the others take max_dets[0], [1] or [2] by position.
STAT_SPECS: tuple[StatSpec, ...] = (
    StatSpec("AP", "AP", None, "all", None),
    StatSpec("AP50", "AP", 0.5, "all", 2),
    StatSpec("AP75", "AP", 0.75, "all", 2),
    StatSpec("APs", "AP", None, "small", 2),
    StatSpec("APm", "AP", None, "medium", 2),
    StatSpec("APl", "AP", None, "large", 2),
    StatSpec("AR1", "AR", None, "all", 0),
    StatSpec("AR10", "AR", None, "all", 1),
    StatSpec("AR100", "AR", None, "all", 2),
    StatSpec("ARs", "AR", None, "small", 2),
    StatSpec("ARm", "AR", None, "medium", 2),
    StatSpec("ARl", "AR", None, "large", 2),
)
STAT_NAMES = tuple(spec.name for spec in STAT_SPECS)

# _summarizeKps: every stat looks up maxDets == 20 literally.
KEYPOINT_STAT_SPECS: tuple[StatSpec, ...] = tuple(
    StatSpec(name, kind, iou, area, None, 20)
    for kind in ("AP", "AR")
    for name, iou, area in (
        (kind, None, "all"),
        (f"{kind}50", 0.5, "all"),
        (f"{kind}75", 0.75, "all"),
        (f"{kind}m", None, "medium"),
        (f"{kind}l", None, "large"),
    )
)
KEYPOINT_STAT_NAMES = tuple(spec.name for spec in KEYPOINT_STAT_SPECS)


def stat_specs(iou_type: IouType) -> tuple[StatSpec, ...]:
    """The summary numbers of an evaluation type, in pycocotools' order (masks: as boxes)."""
    return KEYPOINT_STAT_SPECS if iou_type == "keypoints" else STAT_SPECS


def stat_max_dets(spec: StatSpec, max_dets: Sequence[int], mode: str) -> int | None:
    """The maxDets a stat reads: the one place this rule is written.

    Parameters
    ----------
    spec : StatSpec
    max_dets : sequence of int
        ``CocoParams.max_dets`` (or the report's ``params.max_dets``).
    mode : {"pycocotools", "corrected"}

    Returns
    -------
    int or None
        pycocotools looks up a literal (100 for the boxes' ``AP``, 20 for every keypoint
        stat; ``"corrected"``: the largest maxDets) and takes the others by position;
        None when that position is missing.
    """
    if spec.max_dets_index is None:
        return max_dets[-1] if mode == "corrected" else spec.literal_max_dets
    if spec.max_dets_index >= len(max_dets):
        return None
    return max_dets[spec.max_dets_index]


Gathered = dict[tuple[str, tuple[int, ...], tuple[int, ...]], NDArray[np.float64]]
"""Planes of precision or recall already cut out, by (kind, area indices, max_dets indices)."""


def _stat_values(
    spec: StatSpec,
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    gathered: Gathered | None = None,
) -> NDArray[np.float64]:
    """pycocotools' slice of a stat, every class.

    Parameters
    ----------
    gathered : dict, optional
        Planes cut out for earlier stats, reused and added to: at COCO's scale each cut
        reads the whole precision array.

    Returns
    -------
    ndarray of shape (T', R, K, L) for AP, (T', K, L) for AR, dtype float64
        T' is the IoU thresholds read (one, or all); L the positions of pycocotools' area
        and max_dets index lists broadcast together (usually 1, can be 0).
    """
    area_idx = tuple(i for i, label in enumerate(params.area_labels) if label == spec.area)
    max_det = stat_max_dets(spec, params.max_dets, params.mode)
    det_idx = tuple(i for i, m in enumerate(params.max_dets) if m == max_det)
    gathered = {} if gathered is None else gathered
    key = (spec.kind, area_idx, det_idx)
    if key not in gathered:
        values = precision if spec.kind == "AP" else recall
        gathered[key] = values[..., list(area_idx), list(det_idx)]
    values = gathered[key]
    if spec.iou is not None:
        values = values[np.flatnonzero(spec.iou == params.iou_thresholds)]
    return values


def _mean_defined(values: NDArray[np.float64]) -> float:
    """``np.mean`` of the entries > -1 in C order (-1 without any), as pycocotools."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def _class_means(values: NDArray[np.float64], class_axis: int) -> NDArray[np.float64]:
    """:func:`_mean_defined` of each class of ``values``.

    Returns
    -------
    ndarray of shape (K,), dtype float64

    Notes
    -----
    A class whose entries are all defined (or all -1, as pycocotools leaves a class
    without ground truth) is averaged as a row of a C-contiguous (K, n) array:
    ``np.mean`` along the last axis sums each row pairwise exactly as it sums that row
    alone. A class with some entries -1 is averaged on its own.
    """
    rows = np.ascontiguousarray(np.moveaxis(values, class_axis, 0))
    rows = rows.reshape(rows.shape[0], rows[:1].size)
    if rows.shape[1] == 0:  # no area range or max_dets of that label
        return np.full(rows.shape[0], -1.0)
    defined = rows > -1
    full = defined.all(axis=1)
    out = np.where(full, rows.mean(axis=1), -1.0)
    for k in np.flatnonzero(~full & defined.any(axis=1)).tolist():
        out[k] = _mean_defined(rows[k])
    return out


def summarize_one(
    spec: StatSpec,
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    category: int | None = None,
) -> float:
    """One summary number, -1 when undefined.

    Parameters
    ----------
    precision : ndarray of shape (T, R, K, A, M)
    recall : ndarray of shape (T, K, A, M)
    category : int, optional
        Restrict to one class index (per-class tables); all classes when None.

    Notes
    -----
    The mean is ``np.mean`` over the values > -1 of the same slice, flattened in the same
    order as pycocotools, so the floating-point sum is the same.
    """
    values = _stat_values(spec, precision, recall, params)
    if category is not None:
        values = np.take(values, [category], axis=2 if spec.kind == "AP" else 1)
    return _mean_defined(values)


def summarize_classes(
    spec: StatSpec,
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    gathered: Gathered | None = None,
) -> NDArray[np.float64]:
    """:func:`summarize_one` of every class, in one pass.

    Parameters
    ----------
    gathered : dict, optional
        See :func:`_stat_values`.

    Returns
    -------
    ndarray of shape (K,), dtype float64
        -1 where undefined.
    """
    values = _stat_values(spec, precision, recall, params, gathered)
    return _class_means(values, 2 if spec.kind == "AP" else 1)


def summarize(
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    category: int | None = None,
) -> NDArray[np.float64]:
    """``COCOeval.stats``: shape (12,) for boxes, (10,) for keypoints, -1 where undefined."""
    specs = stat_specs(params.iou_type)
    return np.array([summarize_one(s, precision, recall, params, category) for s in specs])


def summary_tables(
    precision: NDArray[np.float64], recall: NDArray[np.float64], params: CocoParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`summarize` of all classes and of each, each plane cut out once.

    Returns
    -------
    stats : ndarray of shape (S,), dtype float64
        ``summarize(precision, recall, params)``.
    per_class : ndarray of shape (K, S), dtype float64
        Row ``k`` is ``summarize(precision, recall, params, category=k)``.
    """
    gathered: Gathered = {}
    stats, columns = [], []
    for spec in stat_specs(params.iou_type):
        values = _stat_values(spec, precision, recall, params, gathered)
        stats.append(_mean_defined(values))
        columns.append(_class_means(values, 2 if spec.kind == "AP" else 1))
    return np.array(stats), np.stack(columns, axis=1)
