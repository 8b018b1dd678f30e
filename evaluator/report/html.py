"""Self-contained HTML pages: one evaluation report, and a dataset's leaderboard.

Pages read the report through its schema (:mod:`evaluator.report.schema`), from
``CocoReport.to_dict()`` or a stored report, so the CLI and the service render the
same page. Everything is inline (the stylesheet and
the small sorting script of ``evaluator/templates``, charts as SVG) and the page's
Content-Security-Policy (:func:`page_policy`) forbids any fetch and any script but its
own: it reads the same with no network.
Sections missing from the report (computed without extras, or by an older version) are
left out with a note; undefined numbers show as a dash with their reason as tooltip.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

import msgspec

from evaluator.analyses.tide import ERROR_TYPES, SPECIAL_ERRORS
from evaluator.metrics.summary import stat_max_dets, stat_specs
from evaluator.metrics.voc import VOC_METRICS
from evaluator.report.schema import (
    ErrorClassRow,
    ErrorImpact,
    F1Curve,
    ReportJSON,
    VOCSection,
    read_report,
)
from evaluator.report.svg_charts import Frame, Series, bar_chart, line_chart

DASH = "\u2013"
_SMALL_FRAME = Frame(200, 140, left=40)  # small multiples, one per class
LEADERBOARD_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
_CLASS_METRICS = {  # for boxes, the same seven numbers as the leaderboard's
    "bbox": LEADERBOARD_METRICS,
    "segm": LEADERBOARD_METRICS,
    "keypoints": ("AP", "AP50", "AP75", "APm", "APl", "AR"),
}
_ERROR_HINTS = {
    "classification": "right place, wrong class",
    "localization": "right class, box IoU in [0.1, 0.5)",
    "both": "wrong class and poor box",
    "duplicate": "a second box on an object already found",
    "background": "a box on nothing (IoU < 0.1)",
    "missed": "an object no fix would find",
    "false_positives": "all false positives removed",
    "false_negatives": "all missed objects found",
}


@cache
def _asset(name: str) -> str:
    return (files("evaluator.report") / "templates" / name).read_text(encoding="utf-8")


def _source_hash(text: str) -> str:
    # Imported here: hashlib loads OpenSSL, about 5 MB in every process that imports the
    # package, when only pages need a digest.
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def page_policy() -> str:
    """The Content-Security-Policy of every page: nothing loads, only its own code runs.

    The inline stylesheet and script are allowed by their SHA-256 hashes, so a script
    that reached a page any other way would not run. Style attributes stay allowed
    (``style-src-attr``): the table bars and the confusion-matrix colours are computed
    per cell, and no fetch can come from them, as only ``data:`` images may load.
    Browsers without ``style-src-elem``/``-attr`` (CSP 2) use ``style-src``: the stylesheet
    applies there, the per-cell colours do not.

    Returns
    -------
    str
        The policy, as a ``Content-Security-Policy`` header value or ``<meta>`` content.
    """
    style = _source_hash(_asset("report.css"))
    return (
        f"default-src 'none'; script-src {_source_hash(_asset('report.js'))}; "
        f"style-src {style}; style-src-elem {style}; style-src-attr 'unsafe-inline'; "
        "img-src data:"
    )


def _page(title: str, body: str) -> str:
    return Template(_asset("page.html")).substitute(
        policy=page_policy(),
        title=escape(title),
        style=_asset("report.css"),
        script=_asset("report.js"),
        body=body,
    )


# --------------------------------------------------------------------------- cells


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _num_td(value: Any, reason: str | None = None, bar: bool = False, digits: int = 3) -> str:
    """A table cell sortable by its exact value; ``None`` shows a dash and the reason."""
    if not _is_number(value):
        tip = f' title="{escape(reason)}"' if reason else ""
        return f'<td class="null" data-value=""{tip}>{DASH}</td>'
    style = f' class="bar" style="--v:{min(max(value, 0.0), 1.0):.4f}"' if bar else ""
    return f'<td data-value="{value!r}"{style}>{_fmt(value, digits)}</td>'


def _text_td(text: Any) -> str:
    return f'<td class="text">{escape(str(text))}</td>'


def _sortable_table(
    table_id: str, headers: Sequence[tuple[str, str]], rows: Sequence[str], caption: str = ""
) -> str:
    """A table whose header buttons sort it; headers are (label, "number" or "text")."""
    head = "".join(
        f'<th scope="col" data-type="{kind}"><button type="button">{escape(label)}</button></th>'
        for label, kind in headers
    )
    cap = f"<caption class='muted'>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table id="{table_id}" class="sortable">{cap}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span style="--swatch:var(--{color})">{escape(label)}</span>' for label, color in items
    )
    return f'<div class="legend">{spans}</div>'


# --------------------------------------------------------------------------- sections


def _names(report: ReportJSON) -> dict[int, str]:
    return {row.category_id: row.name or str(row.category_id) for row in report.per_class}


def _header(report: ReportJSON, title: str) -> str:
    rows = report.per_class
    thresholds = report.params.iou_thresholds
    facts = [
        f"{len(rows)} {'class' if len(rows) == 1 else 'classes'}",
        f"{sum(r.n_gt for r in rows)} ground-truth objects",
        f"{sum(r.n_pred for r in rows)} detections",
    ]
    if thresholds:
        facts.append(f"IoU {thresholds[0]:.2f}:{thresholds[-1]:.2f}")
    facts.append(f"mode {report.params.mode}")
    links = [
        ("summary", "Summary"),
        ("errors", "Error breakdown"),
        ("classes", "Per class"),
        ("pr", "PR curves"),
        ("f1", "F1 vs threshold"),
        ("confusion", "Confusion matrix"),
    ]
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in links)
    box = ""
    if report.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in report.warnings)
        box = f'<div class="warnings"><strong>Data warnings</strong><ul>{items}</ul></div>'
    return (
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="muted">{escape(" · ".join(facts))}</p><nav>{nav}</nav>{box}</header>'
    )


def _card(label: str, value: Any, element_id: str, detail: str = "") -> str:
    data = f' data-value="{value!r}"' if _is_number(value) else ' data-value=""'
    extra = f'<div class="muted">{escape(detail)}</div>' if detail else ""
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value" id="{element_id}"{data}>{_fmt(value)}</div>{extra}</div>'
    )


def _voc_sections(report: ReportJSON) -> dict[str, VOCSection]:
    """The VOC sections present, by interpolation (``VOC_METRICS`` order)."""
    if report.voc is None:
        return {}
    found = {"all_point": report.voc.all_point, "11_point": report.voc.eleven_point}
    present: dict[str, VOCSection] = {}
    for key in VOC_METRICS.values():
        section = found[key]
        if section is not None:
            present[key] = section
    return present


def _summary(report: ReportJSON) -> str:
    metrics = msgspec.structs.asdict(report.metrics)
    cards = [_card(name, metrics[name], f"metric-{name}") for name in ("AP", "AP50", "AP75")]
    recall = "AR" if report.iou_type == "keypoints" else "AR100"
    cards.append(_card(recall, metrics[recall], f"metric-{recall}"))
    voc = _voc_sections(report)
    if "all_point" in voc:
        cards.append(_card("VOC mAP50", voc["all_point"].mAP, "metric-VOC_mAP50"))
    if report.operating_points is not None:
        best = report.operating_points.overall_best_f1
        detail = f"at score ≥ {_fmt(best.threshold)}"
        cards.append(_card("best F1", best.f1, "metric-F1", detail))
    params = report.params
    thresholds = params.iou_thresholds or [0.5, 0.95]
    rows = []
    for spec in stat_specs(report.iou_type):
        iou = f"{thresholds[0]:.2f}:{thresholds[-1]:.2f}" if spec.iou is None else f"{spec.iou:.2f}"
        max_dets = stat_max_dets(spec, params.max_dets, params.mode)
        value = metrics[spec.name]
        reason = None if value is not None else "undefined: no ground truth in this setting"
        rows.append(
            f"<tr><th scope='row'>{spec.name}</th><td>{spec.kind}</td><td>{iou}</td>"
            f"<td>{spec.area}</td><td>{DASH if max_dets is None else max_dets}</td>"
            f"{_num_td(value, reason, bar=True)}</tr>"
        )
    for name, interpolation in VOC_METRICS.items():
        if interpolation in voc:
            section = voc[interpolation]
            label = f"{name} ({interpolation.replace('_', '-')})"
            rows.append(
                f"<tr><th scope='row'>{label}</th><td>AP</td>"
                f"<td>{section.iou_threshold:.2f}</td><td>all</td><td>{DASH}</td>"
                f"{_num_td(section.mAP, section.undefined_reason, bar=True)}</tr>"
            )
    table = (
        "<table id='stats'><thead><tr><th>metric</th><th>kind</th><th>IoU</th><th>area</th>"
        f"<th>maxDets</th><th>value</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
        f"{table}</section>"
    )


def _absent(report: ReportJSON, section: str, computed_without: str) -> str:
    """Why a section is not drawn: not applicable to the evaluation type, or not computed."""
    reason = (report.not_applicable or {}).get(section)
    if reason is not None:
        return f"Not applicable: {reason}."
    return f"Not in this report (computed without {computed_without})."


def _errors(report: ReportJSON) -> str:
    head = '<section id="errors"><h2>Error breakdown (TIDE)</h2>'
    section = report.errors
    if section is None:
        return head + _note(_absent(report, "errors", "the error breakdown")) + "</section>"
    if section.overall is None:
        reason = section.undefined_reason or "undefined"
        return head + _note(f"Not available: {reason}.") + "</section>"
    impacts = {**section.overall, **(section.special or {})}
    missing = ErrorImpact(count=0, dAP=None)
    bars = []
    for group, css in ((ERROR_TYPES, "bar-main"), (SPECIAL_ERRORS, "bar-special")):
        for name in group:
            entry = impacts.get(name, missing)
            text = f"{_fmt(entry.dAP)}  ({entry.count})"
            bars.append((name.replace("_", " "), entry.dAP, css, text))
    chart = bar_chart(bars, title="AP50 gained by fixing each error type (dAP)")
    rows = []
    for name in (*ERROR_TYPES, *SPECIAL_ERRORS):
        entry = impacts.get(name, missing)
        rows.append(
            f"<tr><td>{escape(name.replace('_', ' '))}</td><td class='text muted'>"
            f"{escape(_ERROR_HINTS[name])}</td>{_num_td(entry.count, digits=0)}"
            f"{_num_td(entry.dAP, 'undefined')}</tr>"
        )
    table = (
        "<table id='error-table'><thead><tr><th>error</th><th>meaning</th><th>count</th>"
        f"<th>dAP</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    note = _note(
        f"AP50 {_fmt(section.AP50)}. dAP: the AP50 gained when every error of one "
        "type is fixed (TIDE's oracle), the others left as they are; the grey bars fix all "
        "false positives or all false negatives at once. Counts in brackets."
    )
    return f'{head}{note}<div class="wide">{chart}{table}</div></section>'


def _largest_error(row: ErrorClassRow | None) -> tuple[str, float | None]:
    if row is None:
        return "", None
    defined = [(v, k) for k, v in row.dAP.items() if v is not None]
    if not defined:
        return "", None
    value, name = max(defined)
    return (name, value) if value > 0 else ("", None)


def _class_table(report: ReportJSON) -> str:
    voc_section = _voc_sections(report).get("all_point")
    voc = {row.category_id: row for row in voc_section.per_class} if voc_section else {}
    points = (
        {row.category_id: row for row in report.operating_points.per_class}
        if report.operating_points
        else {}
    )
    errors = {row.category_id: row for row in report.errors.per_class} if report.errors else {}
    headers = [("class", "text"), ("id", "number"), ("GT", "number"), ("detections", "number")]
    metrics = _CLASS_METRICS[report.iou_type]
    headers += [(m, "number") for m in metrics]
    headers += [("VOC AP50", "number"), ("best F1", "number"), ("at score", "number")]
    headers += [("largest error", "text"), ("its dAP", "number")]
    rows = []
    for row in report.per_class:
        cat_id = row.category_id
        values = msgspec.structs.asdict(row)
        reason = row.undefined_reason
        cells = [_text_td(row.name or cat_id), _num_td(cat_id)]
        cells += [_num_td(row.n_gt), _num_td(row.n_pred)]
        cells += [
            _num_td(values[m], reason or "no ground truth of this size", bar=True) for m in metrics
        ]
        voc_row = voc.get(cat_id)
        cells.append(
            _num_td(voc_row.AP, voc_row.undefined_reason, bar=True)
            if voc_row
            else _num_td(None, "not in the VOC section")
        )
        point = points.get(cat_id)
        best = point.best_f1 if point else None
        f1_reason = (point.undefined_reason if point else None) or "no detections"
        cells += [
            _num_td(best.f1 if best else None, f1_reason, bar=True),
            _num_td(best.threshold if best else None),
        ]
        name, value = _largest_error(errors.get(cat_id))
        cells += [_text_td(name), _num_td(value, "no error costs AP here")]
        rows.append(f'<tr data-category-id="{cat_id}">{"".join(cells)}</tr>')
    table = _sortable_table("class-table", headers, rows)
    filter_box = (
        '<div class="filter"><label>Filter classes '
        '<input type="search" data-table="class-table" placeholder="name"></label></div>'
    )
    note = _note(
        "Click a column header to sort (again to reverse). APs/APm/APl: AP by object size "
        "(small < 32², medium < 96², large). Best F1 at IoU 0.5, with its score threshold."
    )
    return f'<section id="classes"><h2>Per class</h2>{note}{filter_box}{table}</section>'


def _mean_curve(curves: Sequence[Sequence[float] | None]) -> list[float] | None:
    defined = [c for c in curves if c]
    if not defined:
        return None
    return [sum(values) / len(defined) for values in zip(*defined)]


def _pr_curves(report: ReportJSON) -> str:
    head = '<section id="pr"><h2>Precision-recall curves</h2>'
    section = report.pr_curves
    if section is None or not section.per_class:
        return head + _note("No PR curves in this report.") + "</section>"
    recall = section.recall_thresholds
    keys = sorted({k for row in section.per_class for k in row.precision})
    # (line classes, legend colour) per IoU threshold.
    styles = {"0.50": ("s1", "c1"), "0.75": ("s2 dashed", "c2")}
    style = {k: styles.get(k, ("s3", "c3")) for k in keys}
    legend = _legend([(f"IoU {k}", style[k][1]) for k in keys])

    def series(precision: Mapping[str, Sequence[float] | None]) -> list[Series]:
        return [
            Series(f"IoU {k}", list(zip(recall, values)), style[k][0])
            for k in keys
            if (values := precision.get(k))
        ]

    overall = {k: _mean_curve([row.precision.get(k) for row in section.per_class]) for k in keys}
    big = line_chart(
        series(overall),
        Frame(520, 320),
        title="Mean precision over classes at each recall",
        x_label="recall",
        y_label="precision",
    )
    names = _names(report)
    figures = []
    for row in section.per_class:
        defined = {k: v for k, v in row.precision.items() if v}
        if not defined:
            continue
        name = names.get(row.category_id, str(row.category_id))
        chart = line_chart(
            series(defined),
            _SMALL_FRAME,
            title=f"PR curve of {name}",
            x_label="recall",
            y_label="precision",
            n_ticks=2,
        )
        means = " · ".join(
            f"AP{k[2:]} {_fmt(sum(defined[k]) / len(defined[k]))}" for k in keys if k in defined
        )
        figures.append(
            f"<figure><h3>{escape(name)}</h3>{chart}<figcaption>{escape(means)}</figcaption>"
            "</figure>"
        )
    note = _note(
        f"COCO's interpolated precision at {len(recall)} recall levels (area "
        f"{section.area}, maxDets {section.max_dets}); its mean is the AP."
    )
    grid = (
        f"<details><summary>Per-class curves ({len(figures)} classes with ground truth)"
        f'</summary><div class="grid">{"".join(figures)}</div></details>'
    )
    return f"{head}{note}{legend}{big}{grid}</section>"


def _f1_series(curve: F1Curve, which: Sequence[tuple[str, str]]) -> list[Series]:
    lines = {"precision": curve.precision, "recall": curve.recall, "f1": curve.f1}
    return [
        Series(key, list(zip(curve.thresholds, values)), css)
        for key, css in which
        if (values := lines[key]) is not None
    ]


def _score_range(curves: Sequence[F1Curve]) -> tuple[float, float]:
    values = [t for c in curves for t in c.thresholds]
    return (min([0.0, *values]), max([1.0, *values]))


def _f1(report: ReportJSON) -> str:
    head = '<section id="f1"><h2>Precision, recall and F1 against the score threshold</h2>'
    section = report.f1_curves
    if section is None:
        return head + _note("No F1 curves in this report.") + "</section>"
    overall = section.overall
    x_range = _score_range([overall, *section.per_class])
    best = overall.best
    which = (("precision", "s1"), ("recall", "s2"), ("f1", "s3"))
    big = line_chart(
        _f1_series(overall, which),
        Frame(520, 320, x_range=x_range),
        title="Pooled precision, recall and F1 against the score threshold",
        x_label="score threshold",
        y_label="value",
        marker_x=best.threshold if best else None,
    )
    legend = _legend([("precision", "c1"), ("recall", "c2"), ("F1", "c3"), ("best F1", "c4")])
    if best:
        text = (
            f"All classes pooled at IoU {section.iou_threshold}: best F1 "
            f"{_fmt(best.f1)} at score ≥ {_fmt(best.threshold)} (precision "
            f"{_fmt(best.precision)}, recall {_fmt(best.recall)})."
        )
    else:
        text = f"Pooled curve undefined: {overall.undefined_reason}."
    names = _names(report)
    figures = []
    for curve in section.per_class:
        if curve.best is None:
            continue
        name = names.get(curve.category_id or 0, str(curve.category_id))
        chart = line_chart(
            _f1_series(curve, (("f1", "s3"),)),
            replace(_SMALL_FRAME, x_range=x_range),
            title=f"F1 against the score threshold for {name}",
            x_label="score",
            y_label="F1",
            n_ticks=2,
            marker_x=curve.best.threshold,
        )
        caption = f"F1 {_fmt(curve.best.f1)} at ≥ {_fmt(curve.best.threshold)}"
        figures.append(
            f"<figure><h3>{escape(name)}</h3>{chart}<figcaption>{escape(caption)}</figcaption>"
            "</figure>"
        )
    grid = (
        f"<details><summary>Per-class F1 curves ({len(figures)} classes)</summary>"
        f'<div class="grid">{"".join(figures)}</div></details>'
    )
    return f"{head}{_note(text)}{legend}{big}{grid}</section>"


def _heat_td(count: int, total: int, diagonal: bool) -> str:
    if count == 0:
        return "<td></td>"
    share = count / total if total else 0.0
    color = "0,158,115" if diagonal else "213,94,0"
    ink = "#fff" if share > 0.6 else "inherit"
    css = ' class="diag"' if diagonal else ""
    return (
        f'<td{css} style="background:rgba({color},{0.12 + 0.88 * share:.3f});color:{ink}" '
        f'title="{count} ({share:.0%} of the row)">{count}</td>'
    )


def _confusion(report: ReportJSON) -> str:
    head = '<section id="confusion"><h2>Confusion matrix</h2>'
    section = report.confusion_matrix
    if section is None or not section.counts:
        return head + _note(_absent(report, "confusion_matrix", "extras")) + "</section>"
    counts = section.counts
    k = len(counts) - 1
    # Keep the classes that appear at all, then background (row) and missed (column).
    active = [i for i in range(k) if sum(counts[i]) or sum(row[i] for row in counts)]
    rows_idx, cols_idx = [*active, k], [*active, k]
    row_labels, col_labels = section.row_labels, section.column_labels
    head_cells = "".join(
        f'<th class="col" scope="col">{escape(col_labels[j])}</th>' for j in cols_idx
    )
    body = []
    for i in rows_idx:
        total = sum(counts[i])
        cells = "".join(_heat_td(counts[i][j], total, i == j) for j in cols_idx)
        body.append(f'<tr><th class="row" scope="row">{escape(row_labels[i])}</th>{cells}</tr>')
    note = _note(
        f"Rows: true class (background: a detection that matched nothing); columns: "
        f"predicted class (missed: nothing found the object). IoU ≥ "
        f"{section.iou_threshold}, score ≥ {_fmt(section.score_threshold)}; "
        f"{len(active)} of {k} classes appear. Colour: share of the row."
    )
    table = (
        '<div class="table-wrap"><table class="confusion" id="confusion-table">'
        f'<thead><tr><th class="row">true \\ predicted</th>{head_cells}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    return f"{head}{note}{table}</section>"


def _footer(report: ReportJSON) -> str:
    params = json.dumps(msgspec.to_builtins(report.params), sort_keys=True)
    return (
        "<footer><p>detection-eval report. COCO numbers are identical to pycocotools' "
        f"(mode {escape(report.params.mode)}).</p>"
        f"<p>Parameters: <code>{escape(params)}</code></p></footer>"
    )


def render_html(
    report: Mapping[str, Any] | ReportJSON, title: str = "Detection evaluation report"
) -> str:
    """The HTML page of one report.

    Parameters
    ----------
    report : mapping or ReportJSON
        A report JSON dict (``CocoReport.to_dict()``, or a stored report), checked
        against the schema, or an already typed :class:`ReportJSON`. The optional
        sections (``operating_points``, ``f1_curves``, ``errors``, ``voc``,
        ``confusion_matrix``) are drawn when present, a note stands in when not.
    title : str

    Returns
    -------
    str
        A complete, self-contained HTML document.

    Raises
    ------
    ValueError
        ``report`` does not match the report schema (the message says where).
    """
    typed = report if isinstance(report, ReportJSON) else read_report(report)
    body = "".join(
        [
            _header(typed, title),
            "<main>",
            _summary(typed),
            _errors(typed),
            _class_table(typed),
            _pr_curves(typed),
            _f1(typed),
            _confusion(typed),
            "</main>",
            _footer(typed),
        ]
    )
    return _page(title, body)


def render_leaderboard_html(
    dataset_name: str, rows: Sequence[Mapping[str, Any]], title: str | None = None
) -> str:
    """A dataset page listing its evaluations, best AP first, sortable.

    Parameters
    ----------
    dataset_name : str
    rows : sequence of mapping
        One per evaluation: ``id``, ``created_at``, the metrics of
        :data:`LEADERBOARD_METRICS` (top level or under ``metrics``; ``None`` or absent
        while unfinished), optional ``status``, ``label`` (shown beside the id) and
        ``href`` (the link of the id, e.g. to the report page).
    title : str, optional

    Returns
    -------
    str
        A complete, self-contained HTML document.
    """
    title = title or f"Leaderboard: {dataset_name}"

    def metric(row: Mapping[str, Any], name: str) -> Any:
        nested = row.get("metrics")
        return nested.get(name) if isinstance(nested, Mapping) else row.get(name)

    ordered = sorted(
        rows, key=lambda r: (not _is_number(metric(r, "AP")), -(metric(r, "AP") or 0.0))
    )
    headers = [("rank", "number"), ("evaluation", "text"), ("created", "text"), ("status", "text")]
    headers += [(m, "number") for m in LEADERBOARD_METRICS]
    body = []
    for rank, row in enumerate(ordered, start=1):
        ident = escape(str(row.get("id", "")))
        href = row.get("href")
        link = f'<a href="{escape(str(href))}">{ident}</a>' if href else ident
        label = (
            f' <span class="muted">{escape(str(row["label"]))}</span>' if row.get("label") else ""
        )
        cells = [_num_td(rank if _is_number(metric(row, "AP")) else None, "no AP yet")]
        cells.append(f'<td class="text" data-value="{ident}">{link}{label}</td>')
        cells += [_text_td(row.get("created_at", "")), _text_td(row.get("status", ""))]
        cells += [
            _num_td(metric(row, m), "undefined or not finished", bar=True)
            for m in LEADERBOARD_METRICS
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    table = _sortable_table("leaderboard", headers, body)
    note = _note(f"{len(rows)} evaluations of {dataset_name}. Click a column header to sort.")
    page_body = (
        f"<header><h1>{escape(title)}</h1></header><main><section>{note}{table}</section></main>"
    )
    return _page(title, page_body)
