"""Plain-text renderings of a report for terminals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluator.metrics.summary import STAT_SPECS, summarize_one
from evaluator.metrics.voc import VOC_METRICS
from evaluator.report.coco_report import CocoReport

_TITLES = {"AP": "Average Precision  (AP)", "AR": "Average Recall     (AR)"}


def summary_lines(report: CocoReport) -> list[str]:
    """The 12 lines pycocotools' ``summarize()`` prints, with the same numbers."""
    params = report.params
    thresholds = params.iou_thresholds
    lines = []
    for spec, value in zip(STAT_SPECS, report.stats.tolist()):
        iou = (
            f"{thresholds[0]:0.2f}:{thresholds[-1]:0.2f}"
            if spec.iou is None
            else f"{spec.iou:0.2f}"
        )
        if spec.max_dets_index is None:
            max_dets = params.max_dets[-1] if params.mode == "corrected" else 100
        elif spec.max_dets_index < len(params.max_dets):
            max_dets = params.max_dets[spec.max_dets_index]
        else:
            max_dets = -1
        lines.append(
            f" {_TITLES[spec.kind]} @[ IoU={iou:<9} | area={spec.area:>6s} | "
            f"maxDets={max_dets:>3d} ] = {value:0.3f}"
        )
    return lines


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


def per_class_lines(report: CocoReport) -> list[str]:
    """One row per class: counts, the per-class COCO numbers and VOC AP50 if computed."""
    voc = report.sections.get("voc", {}).get("all_point")
    voc_ap = {row["category_id"]: row["AP"] for row in voc["per_class"]} if voc else {}
    headers = ["class", "id", "n_gt", "n_pred", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"]
    if voc:
        headers.append("VOC AP50")
    rows = []
    for row in report.to_dict()["per_class"]:
        cells = [row["name"] or str(row["category_id"]), row["category_id"], row["n_gt"]]
        cells += [row["n_pred"]] + [row[m] for m in headers[4:11]]
        if voc:
            cells.append(voc_ap.get(row["category_id"]))
        rows.append(cells)
    return render_table(headers, rows)


def operating_point_lines(report: CocoReport) -> list[str]:
    """Pooled precision / recall / F1 at the best-F1 threshold (and the asked one)."""
    section = report.sections.get("operating_points")
    if not section:
        return []
    lines = []
    for key, label in (("overall_at_threshold", "at score >="), ("overall_best_f1", "best F1 at")):
        point = section.get(key)
        if point is None:
            continue
        values = {k: ("-" if v is None else f"{v:.3f}") for k, v in point.items()}
        lines.append(
            f" {label} {values['threshold']} (IoU {section['iou_threshold']:.2f}): "
            f"precision {values['precision']}  recall {values['recall']}  F1 {values['f1']}  "
            f"(TP {point['tp']}, FP {point['fp']}, FN {point['fn']})"
        )
    return lines


def stat_value(report: CocoReport, name: str) -> float | None:
    """A named metric: one of the 12 stats, or a VOC mean AP (``VOC_METRICS``)."""
    if name in VOC_METRICS:
        voc = report.sections.get("voc", {}).get(VOC_METRICS[name])
        return None if voc is None else voc["mAP"]
    for spec in STAT_SPECS:
        if spec.name == name:
            value = summarize_one(spec, report.precision, report.recall, report.params)
            return None if value == -1 else value
    raise KeyError(name)
