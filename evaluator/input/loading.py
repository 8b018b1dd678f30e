"""Load an evaluation's two files by what it compares: boxes, masks or keypoints.

One entry point for each file kind, whatever the evaluation type; each type's own
loader (:mod:`coco_json`, :mod:`segmentation`, :mod:`keypoints`) reads its fields.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from evaluator.errors import InputError
from evaluator.input import coco_json
from evaluator.input.columns import GroundTruth, Predictions
from evaluator.input.keypoints import load_keypoint_ground_truth, load_keypoint_predictions
from evaluator.input.result_scan import scan_results
from evaluator.input.segmentation import (
    load_segmentation_ground_truth,
    load_segmentation_inputs,
    load_segmentation_predictions,
)

IouType = Literal["bbox", "segm", "keypoints"]
COCO_KEYPOINTS = 17  # COCO's person skeleton, the default OKS sigmas


def load_ground_truth(
    src: coco_json.Source | GroundTruth,
    *,
    iou_type: IouType = "bbox",
    n_keypoints: int = COCO_KEYPOINTS,
) -> GroundTruth:
    """Load COCO ground truth from a path, JSON bytes or a parsed dict.

    Parameters
    ----------
    src : path, JSON bytes, COCO dict, or GroundTruth
    iou_type : {"bbox", "segm", "keypoints"}
        ``"segm"`` also reads each annotation's mask at its image's size,
        ``"keypoints"`` each annotation's keypoints.
    n_keypoints : int
        Keypoints per object for ``"keypoints"`` (the number of OKS sigmas).

    Raises
    ------
    InputError
        With the location of the first problem.
    """
    if iou_type == "segm":
        return load_segmentation_ground_truth(src)
    if iou_type == "keypoints":
        return load_keypoint_ground_truth(src, n_keypoints)
    return coco_json.load_ground_truth(src)


def load_predictions(
    src: coco_json.Source | NDArray[Any] | Predictions,
    gt: GroundTruth,
    unknown_categories: Literal["drop", "error"] = "drop",
    *,
    iou_type: IouType = "bbox",
    n_keypoints: int = COCO_KEYPOINTS,
) -> Predictions:
    """Load COCO results and check them against the ground truth.

    Parameters
    ----------
    src : path, bytes, list of dicts, dict with an ``annotations`` list, ndarray (n, 7)
        (boxes only), or Predictions
    gt : GroundTruth
        Loaded with the same ``iou_type``.
    unknown_categories : {"drop", "error"}
        Results whose category the ground truth lacks: dropped with a warning, or an
        error.
    iou_type : {"bbox", "segm", "keypoints"}
    n_keypoints : int

    Raises
    ------
    InputError
        With the location of the first problem.
    """
    if iou_type != "bbox" and isinstance(src, np.ndarray):
        what = "mask" if iou_type == "segm" else "keypoint"
        raise InputError("predictions", f"{what} results cannot come as an (n, 7) array")
    if iou_type == "segm":
        return load_segmentation_predictions(src, gt, unknown_categories)  # type: ignore[arg-type]
    if iou_type == "keypoints":
        return load_keypoint_predictions(src, gt, n_keypoints, unknown_categories)  # type: ignore[arg-type]
    return coco_json.load_predictions(src, gt, unknown_categories)


def load_evaluation_inputs(
    gt_src: coco_json.Source | GroundTruth,
    pred_src: coco_json.Source | NDArray[Any] | Predictions,
    unknown_categories: Literal["drop", "error"] = "drop",
    *,
    iou_type: IouType = "bbox",
    n_keypoints: int = COCO_KEYPOINTS,
) -> tuple[GroundTruth, Predictions]:
    """:func:`load_ground_truth` then :func:`load_predictions`, overlapped where they can be.

    Box, keypoint and mask results in a file or bytes are read and scanned on a second
    thread while the ground truth loads (the scanners release the GIL); they are checked
    against it once both are there. The outcome, errors included, is that of the two calls
    in turn: a ground truth that fails to load is reported before anything about the
    results.

    Returns
    -------
    GroundTruth, Predictions
    """
    kind: dict[str, Any] = {"iou_type": iou_type, "n_keypoints": n_keypoints}
    if iou_type == "segm" and not isinstance(pred_src, np.ndarray):
        return load_segmentation_inputs(gt_src, pred_src, unknown_categories)
    if iou_type == "segm" or not isinstance(pred_src, str | os.PathLike | bytes):
        gt = load_ground_truth(gt_src, **kind)
        return gt, load_predictions(pred_src, gt, unknown_categories, **kind)
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(
            scan_results, pred_src, n_keypoints if iou_type == "keypoints" else 0
        )
        gt = load_ground_truth(gt_src, **kind)
        scanned = scanning.result()
    del scanning  # it holds the results too
    if iou_type == "keypoints":
        return gt, load_keypoint_predictions(scanned, gt, n_keypoints, unknown_categories)
    return gt, coco_json.load_predictions(scanned, gt, unknown_categories)
