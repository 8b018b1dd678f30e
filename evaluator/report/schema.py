"""The report JSON as typed structures: what ``CocoReport.to_dict()`` produces.

One schema for the product: the library produces it, the HTML page, the terminal
tables and the service read it through :func:`read_report`, and the service publishes
its JSON Schema (:func:`report_json_schema`) as the answer of ``GET .../report``.

Naming rules the schema enforces (unknown fields are refused):

* a value that cannot be computed is ``null``, and the reason sits beside it in a field
  called ``undefined_reason``, in every section;
* each metric has one name: the 12 COCO stats as in
  :data:`evaluator.metrics.summary.STAT_NAMES`; VOC mean AP is
  ``mAP`` inside its section and ``VOC_mAP50`` / ``VOC_mAP50_11pt`` wherever metrics are
  named side by side (``deteval check``, comparisons): see
  :data:`evaluator.metrics.voc.VOC_METRICS`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from evaluator.metrics.summary import stat_specs

Number = float | None


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every schema struct: an unknown field is an error."""


Absent = msgspec.UnsetType
ABSENT = msgspec.UNSET


class Metrics(_Strict):
    """The stats by name, pycocotools' order; ``null`` where it prints -1.

    Boxes have the 12 of ``_summarizeDets`` (AP, AP50, AP75, APs, APm, APl, AR1, AR10,
    AR100, ARs, ARm, ARl), keypoints the 10 of ``_summarizeKps`` (AP, AP50, AP75, APm,
    APl, AR, AR50, AR75, ARm, ARl); the others are absent.
    """

    AP: Number
    AP50: Number
    AP75: Number
    APm: Number
    APl: Number
    ARm: Number
    ARl: Number
    APs: Number | Absent = ABSENT
    AR1: Number | Absent = ABSENT
    AR10: Number | Absent = ABSENT
    AR100: Number | Absent = ABSENT
    ARs: Number | Absent = ABSENT
    AR: Number | Absent = ABSENT
    AR50: Number | Absent = ABSENT
    AR75: Number | Absent = ABSENT


class ClassRow(_Strict):
    """One category's numbers (area "all", the largest maxDets unless named).

    Boxes: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100; keypoints: AP, AP50, AP75,
    APm, APl, AR.
    """

    category_id: int
    name: str
    AP: Number
    AP50: Number
    AP75: Number
    APm: Number
    APl: Number
    n_gt: int
    n_pred: int
    APs: Number | Absent = ABSENT
    AR1: Number | Absent = ABSENT
    AR10: Number | Absent = ABSENT
    AR100: Number | Absent = ABSENT
    AR: Number | Absent = ABSENT
    undefined_reason: str | None = None


class PRCurve(_Strict):
    """Precision at each recall threshold of one category, by IoU (``"0.50"``, ``"0.75"``)."""

    category_id: int
    precision: dict[str, list[float] | None]


class PRCurves(_Strict):
    recall_thresholds: list[float]
    area: str
    max_dets: int
    per_class: list[PRCurve]


class Params(_Strict):
    iou_thresholds: list[float]
    max_dets: list[int]
    area_ranges: dict[str, tuple[float, float]]
    use_cats: bool
    mode: str
    oks_sigmas: list[float] | None = None


class OperatingPoint(_Strict):
    """Counts and rates of the detections scoring at least ``threshold``."""

    tp: int
    fp: int
    fn: int
    threshold: Number
    precision: Number
    recall: Number
    f1: Number


class ClassOperatingPoints(_Strict):
    category_id: int
    best_f1: OperatingPoint
    at_threshold: OperatingPoint | None = None
    undefined_reason: str | None = None


class OperatingPoints(_Strict):
    iou_threshold: float
    score_threshold: float | None
    overall_best_f1: OperatingPoint
    per_class: list[ClassOperatingPoints]
    overall_at_threshold: OperatingPoint | None = None
    undefined_reason: str | None = None


class BestF1(_Strict):
    threshold: float
    precision: Number
    recall: float
    f1: float


class F1Curve(_Strict):
    """Precision, recall and F1 at up to ``max_points`` of the ``n_thresholds`` scores."""

    thresholds: list[float]
    precision: list[Number]
    recall: list[Number] | None
    f1: list[Number] | None
    n_thresholds: int
    best: BestF1 | None
    undefined_reason: str | None
    category_id: int | None = None


class F1Curves(_Strict):
    iou_threshold: float
    area: str
    max_points: int
    overall: F1Curve
    per_class: list[F1Curve]


class VOCClassRow(_Strict):
    category_id: int
    name: str | None
    AP: Number
    undefined_reason: str | None
    n_gt: int
    n_difficult: int
    n_det: int
    tp: int
    fp: int
    n_ignored: int
    precision: list[float] | None = None
    recall: list[float] | None = None
    score: list[float] | None = None


class VOCSection(_Strict):
    """VOC AP of one interpolation; ``mAP`` is the mean over classes with ground truth."""

    iou_threshold: float
    interpolation: Literal["all_point", "11_point"]
    pixel_offset: int
    mAP: Number
    undefined_reason: str | None
    n_categories_with_gt: int
    per_class: list[VOCClassRow]


class VOC(_Strict):
    all_point: VOCSection | None = None
    eleven_point: VOCSection | None = msgspec.field(default=None, name="11_point")


class ConfusionMatrix(_Strict):
    """``counts[i][j]``: row i = predicted class (last: background), column j = true
    class (last: missed)."""

    iou_threshold: float
    score_threshold: float
    category_ids: list[int]
    row_labels: list[str]
    column_labels: list[str]
    counts: list[list[int]]
    n_ignored_predictions: int


class ErrorImpact(_Strict):
    """How many errors of one type, and the AP50 gained if they were fixed."""

    count: int
    dAP: Number


class ErrorClassRow(_Strict):
    category_id: int
    name: str
    AP50: Number
    counts: dict[str, int]
    dAP: dict[str, Number]
    undefined_reason: str | None = None


class Errors(_Strict):
    """The TIDE error breakdown; ``overall`` and ``special`` are keyed by error type."""

    definition: str
    t_foreground: float
    t_background: float
    types: list[str]
    AP50: Number
    max_dets: int | None
    overall: dict[str, ErrorImpact] | None
    special: dict[str, ErrorImpact] | None
    per_class: list[ErrorClassRow]
    undefined_reason: str | None


class RunInfo(_Strict):
    """What was evaluated, as the service labels it: the evaluation's id, name, tags and
    metadata, and its dataset's id and name (the library's reports have no ``run``)."""

    id: str
    name: str | None = None
    tags: list[str] = []
    metadata: dict[str, Any] = {}
    dataset_id: str | None = None
    dataset_name: str | None = None


class ReportJSON(_Strict):
    """The whole report JSON. Optional sections are absent when not computed.

    ``iou_type`` says what was compared (absent in reports older than keypoints: boxes);
    ``not_applicable`` names the sections that do not apply to it, with the reason.
    """

    stats: list[Number]
    metrics: Metrics
    per_class: list[ClassRow]
    params: Params
    pr_curves: PRCurves | None = None
    warnings: list[str] = []
    operating_points: OperatingPoints | None = None
    f1_curves: F1Curves | None = None
    voc: VOC | None = None
    confusion_matrix: ConfusionMatrix | None = None
    errors: Errors | None = None
    iou_type: Literal["bbox", "segm", "keypoints"] = "bbox"
    not_applicable: dict[str, str] | None = None
    run: RunInfo | None = None


def read_report(report: Any) -> ReportJSON:
    """Check a report JSON (a dict, or its JSON bytes) against the schema and type it.

    Parameters
    ----------
    report : dict or bytes or str
        ``CocoReport.to_dict()``, or a report JSON read from a file or the service.

    Returns
    -------
    ReportJSON

    Raises
    ------
    ValueError
        The report does not match the schema; the message says what and where
        (``Expected `int`, got `str` - at `$.per_class[3].n_gt```).
    """
    try:
        if isinstance(report, bytes | str):
            typed = msgspec.json.decode(report, type=ReportJSON)
        else:
            typed = msgspec.convert(report, ReportJSON)
    except msgspec.ValidationError as error:
        raise ValueError(f"not a report JSON of this version: {error}") from None
    names = [n for n in Metrics.__struct_fields__ if getattr(typed.metrics, n) is not ABSENT]
    expected = stat_specs(typed.iou_type)
    if set(names) != {spec.name for spec in expected}:
        raise ValueError(
            f"not a report JSON of this version: metrics: expected the {typed.iou_type} stats "
            f"({', '.join(spec.name for spec in expected)}), got {', '.join(names)}"
        )
    return typed


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ReportJSON` (draft 2020-12, definitions under ``$defs``)."""
    schema: dict[str, Any] = msgspec.json.schema(ReportJSON)
    return schema
