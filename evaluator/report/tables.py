"""Plain-text renderings of a report for terminals, read through the report schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from evaluator.analyses.tide import ERROR_TYPES, SPECIAL_ERRORS
from evaluator.metrics.summary import stat_max_dets, stat_specs
from evaluator.metrics.voc import VOC_METRICS
from evaluator.report.schema import ReportJSON

_TITLES = {"AP": "Average Precision  (AP)", "AR": "Average Recall     (AR)"}
_CLASS_METRICS = {
    "bbox": ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"),
    "segm": ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"),
    "keypoints": ("AP", "AP50", "AP75", "APm", "APl", "AR"),
}


def _cell(value: Any, width: int) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return f"{value:.3f}".rjust(width)
    return str(value).rjust(width)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Right-aligned columns (the first left-aligned); None shows as ``-``."""
    texts = [[_cell(v, 0).strip() if i else str(v) for i, v in enumerate(r)] for r in rows]
    widths = [max([len(h)] + [len(t[i]) for t in texts]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(t) for t in texts)
    return out


def metric_value(report: ReportJSON, name: str) -> float | None:
    """A named metric: one of the report's stats or a VOC mean AP (``VOC_METRICS``); None
    when undefined or not computed.

    Raises
    ------
    KeyError
        ``name`` is not a metric of this report's evaluation type.
    """
    if name in VOC_METRICS:
        section = _voc_sections(report).get(VOC_METRICS[name])
        return None if section is None else section.mAP
    value = msgspec.structs.asdict(report.metrics)[name]
    if value is msgspec.UNSET:
        raise KeyError(f"{name} is not a metric of a {report.iou_type} evaluation")
    return value


def _voc_sections(report: ReportJSON) -> dict[str, Any]:
    if report.voc is None:
        return {}
    found = {"all_point": report.voc.all_point, "11_point": report.voc.eleven_point}
    return {key: section for key, section in found.items() if section is not None}


def summary_lines(report: ReportJSON) -> list[str]:
    """The lines pycocotools' ``summarize()`` prints (12 for boxes, 10 for keypoints),
    with the same numbers, then the VOC mean APs when computed."""
    params = report.params
    thresholds = params.iou_thresholds
    lines = []
    for spec, value in zip(stat_specs(report.iou_type), report.stats):
        iou = (
            f"{thresholds[0]:0.2f}:{thresholds[-1]:0.2f}"
            if spec.iou is None
            else f"{spec.iou:0.2f}"
        )
        max_dets = stat_max_dets(spec, params.max_dets, params.mode)
        lines.append(
            f" {_TITLES[spec.kind]} @[ IoU={iou:<9} | area={spec.area:>6s} | "
            f"maxDets={-1 if max_dets is None else max_dets:>3d} ] = "
            f"{-1.0 if value is None else value:0.3f}"
        )
    voc = _voc_sections(report)
    for interpolation in VOC_METRICS.values():
        if interpolation in voc:
            value = voc[interpolation].mAP
            shown = "-" if value is None else f"{value:0.3f}"
            label = interpolation.replace("_", "-")
            lines.append(f" PASCAL VOC mAP @[ IoU=0.50 | {label:>9s} ] = {shown}")
    return lines


def per_class_lines(report: ReportJSON) -> list[str]:
    """One row per class: counts, the per-class COCO numbers and VOC AP50 if computed."""
    voc = _voc_sections(report).get("all_point")
    voc_ap = {row.category_id: row.AP for row in voc.per_class} if voc else {}
    metrics = _CLASS_METRICS[report.iou_type]
    headers = ["class", "id", "n_gt", "n_pred", *metrics]
    if voc:
        headers.append("VOC AP50")
    rows = []
    for row in report.per_class:
        values = msgspec.structs.asdict(row)
        cells = [row.name or str(row.category_id), row.category_id, row.n_gt, row.n_pred]
        cells += [values[m] for m in metrics]
        if voc:
            cells.append(voc_ap.get(row.category_id))
        rows.append(cells)
    return render_table(headers, rows)


def operating_point_lines(report: ReportJSON) -> list[str]:
    """Pooled precision / recall / F1 at the best-F1 threshold (and the asked one)."""
    section = report.operating_points
    if section is None:
        return []
    lines = []
    for point, label in (
        (section.overall_at_threshold, "at score >="),
        (section.overall_best_f1, "best F1 at"),
    ):
        if point is None:
            continue
        shown = {
            name: "-" if value is None else f"{value:.3f}"
            for name, value in msgspec.structs.asdict(point).items()
        }
        lines.append(
            f" {label} {shown['threshold']} (IoU {section.iou_threshold:.2f}): "
            f"precision {shown['precision']}  recall {shown['recall']}  F1 {shown['f1']}  "
            f"(TP {point.tp}, FP {point.fp}, FN {point.fn})"
        )
    return lines


def error_breakdown_lines(report: ReportJSON) -> list[str]:
    """The TIDE error breakdown as a terminal table (empty when not computed)."""
    section = report.errors
    if section is None:
        return []
    title = " Error breakdown (TIDE, IoU 0.5): AP50 gained by fixing each error type"
    if section.overall is None:
        return [f"{title}: unavailable ({section.undefined_reason})"]
    rows: list[list[Any]] = []
    for name in ERROR_TYPES:
        entry = section.overall[name]
        rows.append([name, entry.count, entry.dAP])
    for name in SPECIAL_ERRORS:
        entry = (section.special or {})[name]
        rows.append([name.replace("_", " ") + " (all)", entry.count, entry.dAP])
    return [title, *render_table(["error", "count", "dAP"], rows)]


def report_lines(report: ReportJSON) -> list[str]:
    """What ``deteval evaluate`` prints: the summary, the operating points, the per-class
    table and the error breakdown."""
    lines = summary_lines(report) + operating_point_lines(report)
    lines += ["", *per_class_lines(report)]
    errors = error_breakdown_lines(report)
    lines += ["", *errors] if errors else []
    for section, reason in (report.not_applicable or {}).items():
        lines.append(f" {section}: not applicable ({reason})")
    return lines


def _signed(value: float | None) -> str | None:
    return None if value is None else f"{value:+.4f}"


def comparison_lines(comparison: Mapping[str, Any]) -> list[str]:
    """A comparison from :func:`evaluator.analyses.compare.compare_reports` as terminal tables."""
    lines = [" Metrics (delta = B - A)"]
    metric_rows = [
        [name, pair["a"], pair["b"], _signed(pair["delta"])]
        for name, pair in comparison["metrics"].items()
    ]
    lines += render_table(["metric", "A", "B", "delta"], metric_rows)
    for key, label in (("most_improved", "Most improved"), ("most_regressed", "Most regressed")):
        entries = comparison[key]
        lines.append("")
        if not entries:
            lines.append(f" {label} classes (AP): none")
            continue
        lines.append(f" {label} classes (AP)")
        rows = [
            [
                e["name"] or str(e["category_id"]),
                e["category_id"],
                e["a"],
                e["b"],
                _signed(e["delta"]),
            ]
            for e in entries
        ]
        lines += render_table(["class", "id", "A", "B", "delta"], rows)
    counts = comparison["counts"]
    lines.append("")
    lines.append(
        f" Classes: {counts['improved']} improved, {counts['regressed']} regressed, "
        f"{counts['unchanged']} unchanged, {counts['undefined']} undefined (AP)"
    )
    lines += [f"warning: {w}" for w in comparison["warnings"]]
    return lines
