"""detection-eval: object-detection metrics identical to pycocotools, fast."""

from evaluator.analyses.compare import compare_reports
from evaluator.analyses.confusion import ConfusionMatrix, detection_confusion_matrix
from evaluator.coco import evaluate_coco
from evaluator.errors import DataWarning, InputError
from evaluator.geometry.boxes import box_area, box_convert, box_iou, crowd_iou, generalized_box_iou
from evaluator.input.columns import DetectionArrays, GroundTruth, GroundTruthArrays, Predictions
from evaluator.input.loading import load_ground_truth, load_predictions
from evaluator.input.voc_text import load_voc_text
from evaluator.metrics.params import CocoParams
from evaluator.metrics.voc import VOCResult, evaluate_voc, evaluate_voc_coco
from evaluator.report.coco_report import CocoReport
from evaluator.report.html import render_html, render_leaderboard_html
from evaluator.report.schema import ReportJSON, read_report, report_json_schema

__all__ = [
    "CocoParams",
    "CocoReport",
    "ConfusionMatrix",
    "DataWarning",
    "DetectionArrays",
    "GroundTruth",
    "GroundTruthArrays",
    "InputError",
    "Predictions",
    "ReportJSON",
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
    "read_report",
    "render_html",
    "render_leaderboard_html",
    "report_json_schema",
]
