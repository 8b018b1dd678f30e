"""detection-eval: object-detection metrics identical to pycocotools, fast."""

from .boxes import box_area, box_convert, box_iou, crowd_iou, generalized_box_iou
from .coco import evaluate_coco
from .errors import DataWarning, InputError
from .loading import GroundTruth, Predictions, load_ground_truth, load_predictions
from .params import CocoParams
from .report import CocoReport

__all__ = [
    "CocoParams",
    "CocoReport",
    "DataWarning",
    "GroundTruth",
    "InputError",
    "Predictions",
    "box_area",
    "box_convert",
    "box_iou",
    "crowd_iou",
    "evaluate_coco",
    "generalized_box_iou",
    "load_ground_truth",
    "load_predictions",
]
