"""detection-eval: object-detection metrics identical to pycocotools, fast."""

from .boxes import box_area, box_convert, box_iou, crowd_iou, generalized_box_iou
from .coco import evaluate_coco
from .compare import compare_reports
from .confusion import ConfusionMatrix, detection_confusion_matrix
from .errors import DataWarning, InputError
from .html_report import render_html, render_leaderboard_html
from .loading import GroundTruth, Predictions, load_ground_truth, load_predictions
from .params import CocoParams
from .report import CocoReport
from .voc import VOCResult, evaluate_voc, evaluate_voc_coco
from .voctext import load_voc_text

__all__ = [
    "CocoParams",
    "CocoReport",
    "ConfusionMatrix",
    "DataWarning",
    "GroundTruth",
    "InputError",
    "Predictions",
    "VOCResult",
    "box_area",
    "box_convert",
    "box_iou",
    "compare_reports",
    "crowd_iou",
    "detection_confusion_matrix",
    "evaluate_coco",
    "evaluate_voc",
    "evaluate_voc_coco",
    "generalized_box_iou",
    "load_ground_truth",
    "load_predictions",
    "load_voc_text",
    "render_html",
    "render_leaderboard_html",
]
