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
    area_idx = [i for i, label in enumerate(params.area_labels) if label == spec.area]
    max_det = stat_max_dets(spec, params.max_dets, params.mode)
    det_idx = [i for i, m in enumerate(params.max_dets) if m == max_det]
    values = precision if spec.kind == "AP" else recall
    if spec.iou is not None:
        values = values[np.flatnonzero(spec.iou == params.iou_thresholds)]
    if spec.kind == "AP":
        values = (
            values[:, :, :, area_idx, det_idx]
            if category is None
            else (values[:, :, [category]][:, :, :, area_idx, det_idx])
        )
    else:
        values = (
            values[:, :, area_idx, det_idx]
            if category is None
            else (values[:, [category]][:, :, area_idx, det_idx])
        )
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def summarize(
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    category: int | None = None,
) -> NDArray[np.float64]:
    """``COCOeval.stats``: shape (12,) for boxes, (10,) for keypoints, -1 where undefined."""
    specs = stat_specs(params.iou_type)
    return np.array([summarize_one(s, precision, recall, params, category) for s in specs])
