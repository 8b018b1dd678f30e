"""Compare two evaluation reports of one dataset: what a new model improved or broke.

Works on report JSON dicts (``CocoReport.to_dict()``, or a stored report), so the CLI
and the service compare the same way. Every delta is ``B - A``: A is the baseline, B
the candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluator.metrics.summary import stat_specs
from evaluator.metrics.voc import VOC_METRICS

PER_CLASS_METRICS = {
    "bbox": ("AP", "AP50", "AR100"),
    "segm": ("AP", "AP50", "AR100"),
    "keypoints": ("AP", "AP50", "AR"),
}
_PARAM_KEYS = ("iou_thresholds", "max_dets", "area_ranges", "use_cats", "mode")


def _section(report: Mapping[str, Any], key: str, label: str, kind: type) -> Any:
    value = report.get(key)
    if not isinstance(value, kind):
        raise ValueError(
            f"report {label}: expected {kind.__name__} '{key}' (a report JSON from "
            f"'deteval evaluate --json' or the service), got {type(value).__name__}"
        )
    return value


def _classes(report: Mapping[str, Any], label: str) -> dict[int, Mapping[str, Any]]:
    rows = _section(report, "per_class", label, list)
    out: dict[int, Mapping[str, Any]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("category_id"), int):
            raise ValueError(f"report {label}: per_class[{i}] has no integer 'category_id'")
        out[row["category_id"]] = row
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pair(a: Any, b: Any) -> dict[str, Any]:
    """``{"a", "b", "delta"}``, with an ``undefined_reason`` when the delta is undefined."""
    va, vb = _number(a), _number(b)
    out: dict[str, Any] = {"a": va, "b": vb, "delta": None if va is None or vb is None else vb - va}
    if out["delta"] is None:
        missing = [label for label, v in (("A", va), ("B", vb)) if v is None]
        out["undefined_reason"] = f"undefined in {' and '.join(missing)}"
    return out


def _voc_map(report: Mapping[str, Any], interpolation: str) -> Any:
    voc = report.get("voc")
    if not isinstance(voc, Mapping) or not isinstance(voc.get(interpolation), Mapping):
        return None
    return voc[interpolation].get("mAP")


def _error_dap(report: Mapping[str, Any]) -> Mapping[str, Any]:
    errors = report.get("errors")
    if not isinstance(errors, Mapping) or not isinstance(errors.get("overall"), Mapping):
        return {}
    return errors["overall"]


def _warnings(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    classes_a: Mapping[int, Mapping[str, Any]],
    classes_b: Mapping[int, Mapping[str, Any]],
) -> list[str]:
    out = []
    params_a, params_b = a.get("params") or {}, b.get("params") or {}
    differing = [k for k in _PARAM_KEYS if params_a.get(k) != params_b.get(k)]
    if differing:
        out.append(f"evaluated with different parameters ({', '.join(differing)})")
    n_gt = [c for c in classes_a if classes_a[c].get("n_gt") != classes_b[c].get("n_gt")]
    if n_gt:
        out.append(
            f"ground-truth counts differ for {len(n_gt)} classes (e.g. category {n_gt[0]}): "
            "were both computed on the same dataset?"
        )
    names = [c for c in classes_a if classes_a[c].get("name") != classes_b[c].get("name")]
    if names:
        out.append(f"category names differ for {len(names)} classes (e.g. category {names[0]})")
    return out


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any], *, top: int = 5) -> dict[str, Any]:
    """Per-metric and per-class deltas from report A (baseline) to report B (candidate).

    Parameters
    ----------
    a, b : mapping
        Report JSON dicts with ``metrics`` and ``per_class`` (and optionally ``voc``,
        ``errors``, ``params``).
    top : int
        Length of the most-improved and most-regressed lists.

    Returns
    -------
    dict
        ``metrics``: the 12 COCO stats and the VOC mean APs (``VOC_METRICS``), each
        ``{"a", "b", "delta"}`` (``delta = b - a``; ``null`` plus ``undefined_reason``
        when either is undefined). ``per_class``: rows with ``category_id``, ``name``,
        ``n_gt`` and a pair for each of AP, AP50, AR100. ``most_improved`` /
        ``most_regressed``: up to ``top`` classes by AP delta (strictly positive /
        negative), largest change first.
        ``counts``: classes improved, regressed, unchanged and undefined in AP.
        ``errors``: TIDE dAP pairs by error type when both reports have them.
        ``warnings``: differences that make the comparison doubtful (parameters,
        ground-truth counts, names).

    Raises
    ------
    ValueError
        A report lacks ``metrics`` or ``per_class``, or the two were computed on
        different category sets.
    """
    if top < 0:
        raise ValueError(f"top: expected a non-negative integer, got {top}")
    metrics_a = _section(a, "metrics", "A", Mapping)
    metrics_b = _section(b, "metrics", "B", Mapping)
    classes_a, classes_b = _classes(a, "A"), _classes(b, "B")
    if set(classes_a) != set(classes_b):
        only_a = sorted(set(classes_a) - set(classes_b))
        only_b = sorted(set(classes_b) - set(classes_a))
        raise ValueError(
            "the reports were computed on different category sets: "
            f"{len(only_a)} categories only in A {only_a[:10]}, "
            f"{len(only_b)} only in B {only_b[:10]}"
        )
    iou_type = a.get("iou_type", "bbox")
    if b.get("iou_type", "bbox") != iou_type:
        raise ValueError(
            f"the reports score different things: A is a {iou_type} evaluation, "
            f"B a {b.get('iou_type', 'bbox')} one"
        )
    if iou_type not in PER_CLASS_METRICS:
        raise ValueError(f"A: unknown iou_type {iou_type!r}")
    names = [spec.name for spec in stat_specs(iou_type)]
    metrics = {name: _pair(metrics_a.get(name), metrics_b.get(name)) for name in names}
    for name, interpolation in VOC_METRICS.items():
        metrics[name] = _pair(_voc_map(a, interpolation), _voc_map(b, interpolation))

    per_class = []
    for cat_id in sorted(classes_a):
        row_a, row_b = classes_a[cat_id], classes_b[cat_id]
        row: dict[str, Any] = {"category_id": cat_id, "name": row_b.get("name")}
        row["n_gt"] = row_b.get("n_gt")
        for metric in PER_CLASS_METRICS[iou_type]:
            row[metric] = _pair(row_a.get(metric), row_b.get(metric))
        per_class.append(row)

    defined = [r for r in per_class if r["AP"]["delta"] is not None]
    improved = sorted((r for r in defined if r["AP"]["delta"] > 0), key=lambda r: -r["AP"]["delta"])
    regressed = sorted((r for r in defined if r["AP"]["delta"] < 0), key=lambda r: r["AP"]["delta"])

    def brief(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"category_id": row["category_id"], "name": row["name"], **row["AP"]}

    dap_a, dap_b = _error_dap(a), _error_dap(b)
    errors = {
        name: _pair(dap_a[name].get("dAP"), dap_b[name].get("dAP"))
        for name in dap_a
        if name in dap_b and isinstance(dap_a[name], Mapping) and isinstance(dap_b[name], Mapping)
    }
    return {
        "delta": "b - a",
        "metrics": metrics,
        "per_class": per_class,
        "most_improved": [brief(r) for r in improved[:top]],
        "most_regressed": [brief(r) for r in regressed[:top]],
        "counts": {
            "improved": len(improved),
            "regressed": len(regressed),
            "unchanged": len(defined) - len(improved) - len(regressed),
            "undefined": len(per_class) - len(defined),
        },
        "errors": errors,
        "warnings": _warnings(a, b, classes_a, classes_b),
    }
