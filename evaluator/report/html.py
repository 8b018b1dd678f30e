"""Self-contained HTML pages: one evaluation report, and a dataset's leaderboard.

Pages work from the report JSON dict (``CocoReport.to_dict()`` or a stored report), so
the CLI and the service render the same page. Everything is inline (the stylesheet and
the small sorting script of ``evaluator/templates``, charts as SVG) and the page's
Content-Security-Policy (:func:`page_policy`) forbids any fetch and any script but its
own: it reads the same with no network.
Sections missing from the report (computed without extras, or by an older version) are
left out with a note; undefined numbers show as a dash with their reason as tooltip.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from evaluator.analyses.tide import ERROR_TYPES, SPECIAL_ERRORS
from evaluator.metrics.summary import STAT_SPECS
from evaluator.report.svg_charts import Frame, Series, bar_chart, line_chart

DASH = "\u2013"
_SMALL_FRAME = Frame(200, 140, left=40)  # small multiples, one per class
LEADERBOARD_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
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


def _names(report: Mapping[str, Any]) -> dict[int, str]:
    return {
        row["category_id"]: row.get("name") or str(row["category_id"])
        for row in report.get("per_class", [])
    }


def _header(report: Mapping[str, Any], title: str) -> str:
    rows = report.get("per_class", [])
    params = report.get("params", {})
    thresholds = params.get("iou_thresholds") or []
    facts = [
        f"{len(rows)} {'class' if len(rows) == 1 else 'classes'}",
        f"{sum(r.get('n_gt') or 0 for r in rows)} ground-truth objects",
        f"{sum(r.get('n_pred') or 0 for r in rows)} detections",
    ]
    if thresholds:
        facts.append(f"IoU {thresholds[0]:.2f}:{thresholds[-1]:.2f}")
    if params.get("mode"):
        facts.append(f"mode {params['mode']}")
    links = [
        ("summary", "Summary"),
        ("errors", "Error breakdown"),
        ("classes", "Per class"),
        ("pr", "PR curves"),
        ("f1", "F1 vs threshold"),
        ("confusion", "Confusion matrix"),
    ]
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in links)
    warnings = report.get("warnings") or []
    box = ""
    if warnings:
        items = "".join(f"<li>{escape(str(w))}</li>" for w in warnings)
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


def _voc_map(report: Mapping[str, Any], key: str) -> Any:
    voc = report.get("voc") or {}
    return (voc.get(key) or {}).get("mAP")


def _summary(report: Mapping[str, Any]) -> str:
    metrics = report.get("metrics", {})
    cards = [_card(name, metrics.get(name), f"metric-{name}") for name in ("AP", "AP50", "AP75")]
    cards.append(_card("AR100", metrics.get("AR100"), "metric-AR100"))
    if "voc" in report:
        cards.append(_card("VOC mAP50", _voc_map(report, "all_point"), "metric-VOC50"))
    best = (report.get("operating_points") or {}).get("overall_best_f1")
    if best:
        detail = f"at score ≥ {_fmt(best.get('threshold'))}"
        cards.append(_card("best F1", best.get("f1"), "metric-F1", detail))
    params = report.get("params", {})
    thresholds = params.get("iou_thresholds") or [0.5, 0.95]
    max_dets = params.get("max_dets") or [1, 10, 100]
    rows = []
    for spec in STAT_SPECS:
        iou = f"{thresholds[0]:.2f}:{thresholds[-1]:.2f}" if spec.iou is None else f"{spec.iou:.2f}"
        if spec.max_dets_index is None:
            dets: Any = max_dets[-1] if params.get("mode") == "corrected" else 100
        else:
            dets = max_dets[spec.max_dets_index] if spec.max_dets_index < len(max_dets) else DASH
        value = metrics.get(spec.name)
        reason = None if value is not None else "undefined: no ground truth in this setting"
        rows.append(
            f"<tr><th scope='row'>{spec.name}</th><td>{spec.kind}</td><td>{iou}</td>"
            f"<td>{spec.area}</td><td>{dets}</td>{_num_td(value, reason, bar=True)}</tr>"
        )
    for key, label in (
        ("all_point", "VOC mAP50 (all-point)"),
        ("11_point", "VOC mAP50 (11-point)"),
    ):
        if "voc" in report:
            value = _voc_map(report, key)
            rows.append(
                f"<tr><th scope='row'>{label}</th><td>AP</td><td>0.50</td><td>all</td>"
                f"<td>{DASH}</td>{_num_td(value, 'no category has ground truth', bar=True)}</tr>"
            )
    table = (
        "<table id='stats'><thead><tr><th>metric</th><th>kind</th><th>IoU</th><th>area</th>"
        f"<th>maxDets</th><th>value</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
        f"{table}</section>"
    )


def _errors(report: Mapping[str, Any]) -> str:
    head = '<section id="errors"><h2>Error breakdown (TIDE)</h2>'
    section = report.get("errors")
    if not section:
        return (
            head
            + _note("Not in this report (computed without the error breakdown).")
            + "</section>"
        )
    if section.get("overall") is None:
        reason = section.get("undefined_reason") or "undefined"
        return head + _note(f"Not available: {reason}.") + "</section>"
    bars = []
    for group, css in ((ERROR_TYPES, "bar-main"), (SPECIAL_ERRORS, "bar-special")):
        source = section["overall"] if group is ERROR_TYPES else section.get("special") or {}
        for name in group:
            entry = source.get(name) or {}
            value = entry.get("dAP")
            text = f"{_fmt(value)}  ({entry.get('count', 0)})"
            bars.append((name.replace("_", " "), value, css, text))
    chart = bar_chart(bars, title="AP50 gained by fixing each error type (dAP)")
    rows = []
    for name in (*ERROR_TYPES, *SPECIAL_ERRORS):
        source = section["overall"] if name in ERROR_TYPES else section.get("special") or {}
        entry = source.get(name) or {}
        rows.append(
            f"<tr><td>{escape(name.replace('_', ' '))}</td><td class='text muted'>"
            f"{escape(_ERROR_HINTS[name])}</td>{_num_td(entry.get('count'), digits=0)}"
            f"{_num_td(entry.get('dAP'), 'undefined')}</tr>"
        )
    table = (
        "<table id='error-table'><thead><tr><th>error</th><th>meaning</th><th>count</th>"
        f"<th>dAP</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    note = _note(
        f"AP50 {_fmt(section.get('AP50'))}. dAP: the AP50 gained when every error of one "
        "type is fixed (TIDE's oracle), the others left as they are; the grey bars fix all "
        "false positives or all false negatives at once. Counts in brackets."
    )
    return f'{head}{note}<div class="wide">{chart}{table}</div></section>'


def _by_category(section: Any, key: str = "per_class") -> dict[int, Mapping[str, Any]]:
    if not isinstance(section, Mapping) or not isinstance(section.get(key), list):
        return {}
    return {row["category_id"]: row for row in section[key] if isinstance(row, Mapping)}


def _largest_error(row: Mapping[str, Any] | None) -> tuple[str, float | None]:
    if not row or not row.get("dAP"):
        return "", None
    defined = [(v, k) for k, v in row["dAP"].items() if _is_number(v)]
    if not defined:
        return "", None
    value, name = max(defined)
    return (name, value) if value > 0 else ("", None)


def _class_table(report: Mapping[str, Any]) -> str:
    voc = _by_category((report.get("voc") or {}).get("all_point"))
    points = _by_category(report.get("operating_points"))
    errors = _by_category(report.get("errors"))
    headers = [("class", "text"), ("id", "number"), ("GT", "number"), ("detections", "number")]
    headers += [(m, "number") for m in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")]
    headers += [("VOC AP50", "number"), ("best F1", "number"), ("at score", "number")]
    headers += [("largest error", "text"), ("its dAP", "number")]
    rows = []
    for row in report.get("per_class", []):
        cat_id = row["category_id"]
        reason = row.get("undefined_reason")
        cells = [_text_td(row.get("name") or cat_id), _num_td(cat_id)]
        cells += [_num_td(row.get("n_gt")), _num_td(row.get("n_pred"))]
        cells += [
            _num_td(row.get(m), reason or "no ground truth of this size", bar=True)
            for m in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
        ]
        voc_row = voc.get(cat_id) or {}
        cells.append(_num_td(voc_row.get("AP"), voc_row.get("reason"), bar=True))
        best = (points.get(cat_id) or {}).get("best_f1") or {}
        f1_reason = (points.get(cat_id) or {}).get("undefined_reason") or "no detections"
        cells += [_num_td(best.get("f1"), f1_reason, bar=True), _num_td(best.get("threshold"))]
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


def _pr_curves(report: Mapping[str, Any]) -> str:
    head = '<section id="pr"><h2>Precision-recall curves</h2>'
    section = report.get("pr_curves")
    if not section or not section.get("per_class"):
        return head + _note("No PR curves in this report.") + "</section>"
    recall = section["recall_thresholds"]
    keys = sorted({k for row in section["per_class"] for k in (row.get("precision") or {})})
    # (line classes, legend colour) per IoU threshold.
    styles = {"0.50": ("s1", "c1"), "0.75": ("s2 dashed", "c2")}
    style = {k: styles.get(k, ("s3", "c3")) for k in keys}
    legend = _legend([(f"IoU {k}", style[k][1]) for k in keys])

    def series(precision: Mapping[str, Any]) -> list[Series]:
        return [
            Series(f"IoU {k}", list(zip(recall, precision[k])), style[k][0])
            for k in keys
            if precision.get(k)
        ]

    overall = {
        k: _mean_curve([row["precision"].get(k) for row in section["per_class"]]) for k in keys
    }
    big = line_chart(
        series(overall),
        Frame(520, 320),
        title="Mean precision over classes at each recall",
        x_label="recall",
        y_label="precision",
    )
    names = _names(report)
    figures = []
    for row in section["per_class"]:
        precision = row.get("precision") or {}
        if not any(precision.values()):
            continue
        chart = line_chart(
            series(precision),
            _SMALL_FRAME,
            title=f"PR curve of {names.get(row['category_id'], row['category_id'])}",
            x_label="recall",
            y_label="precision",
            n_ticks=2,
        )
        means = " · ".join(
            f"AP{k[2:]} {_fmt(sum(precision[k]) / len(precision[k]))}"
            for k in keys
            if precision.get(k)
        )
        figures.append(
            f"<figure><h3>{escape(names.get(row['category_id'], str(row['category_id'])))}</h3>"
            f"{chart}<figcaption>{escape(means)}</figcaption></figure>"
        )
    note = _note(
        f"COCO's interpolated precision at {len(recall)} recall levels (area "
        f"{section.get('area')}, maxDets {section.get('max_dets')}); its mean is the AP."
    )
    grid = (
        f"<details><summary>Per-class curves ({len(figures)} classes with ground truth)"
        f'</summary><div class="grid">{"".join(figures)}</div></details>'
    )
    return f"{head}{note}{legend}{big}{grid}</section>"


def _f1_series(curve: Mapping[str, Any], which: Sequence[tuple[str, str]]) -> list[Series]:
    thresholds = curve.get("thresholds") or []
    return [
        Series(key, list(zip(thresholds, curve[key])), css)
        for key, css in which
        if curve.get(key) is not None
    ]


def _score_range(curves: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    values = [t for c in curves for t in (c.get("thresholds") or [])]
    return (min([0.0, *values]), max([1.0, *values]))


def _f1(report: Mapping[str, Any]) -> str:
    head = '<section id="f1"><h2>Precision, recall and F1 against the score threshold</h2>'
    section = report.get("f1_curves")
    if not section or not section.get("overall"):
        return head + _note("No F1 curves in this report.") + "</section>"
    overall = section["overall"]
    x_range = _score_range([overall, *section.get("per_class", [])])
    best = overall.get("best")
    which = (("precision", "s1"), ("recall", "s2"), ("f1", "s3"))
    big = line_chart(
        _f1_series(overall, which),
        Frame(520, 320, x_range=x_range),
        title="Pooled precision, recall and F1 against the score threshold",
        x_label="score threshold",
        y_label="value",
        marker_x=best["threshold"] if best else None,
    )
    legend = _legend([("precision", "c1"), ("recall", "c2"), ("F1", "c3"), ("best F1", "c4")])
    if best:
        text = (
            f"All classes pooled at IoU {section.get('iou_threshold')}: best F1 "
            f"{_fmt(best['f1'])} at score ≥ {_fmt(best['threshold'])} (precision "
            f"{_fmt(best['precision'])}, recall {_fmt(best['recall'])})."
        )
    else:
        text = f"Pooled curve undefined: {overall.get('undefined_reason')}."
    names = _names(report)
    figures = []
    for curve in section.get("per_class", []):
        if curve.get("best") is None:
            continue
        name = names.get(curve["category_id"], str(curve["category_id"]))
        chart = line_chart(
            _f1_series(curve, (("f1", "s3"),)),
            replace(_SMALL_FRAME, x_range=x_range),
            title=f"F1 against the score threshold for {name}",
            x_label="score",
            y_label="F1",
            n_ticks=2,
            marker_x=curve["best"]["threshold"],
        )
        caption = f"F1 {_fmt(curve['best']['f1'])} at ≥ {_fmt(curve['best']['threshold'])}"
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


def _confusion(report: Mapping[str, Any]) -> str:
    head = '<section id="confusion"><h2>Confusion matrix</h2>'
    section = report.get("confusion_matrix")
    if not section or not section.get("counts"):
        return head + _note("Not in this report (computed without extras).") + "</section>"
    counts = section["counts"]
    k = len(counts) - 1
    # Keep the classes that appear at all, then background (row) and missed (column).
    active = [i for i in range(k) if sum(counts[i]) or sum(row[i] for row in counts)]
    rows_idx, cols_idx = [*active, k], [*active, k]
    row_labels, col_labels = section["row_labels"], section["column_labels"]
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
        f"{section.get('iou_threshold')}, score ≥ {_fmt(section.get('score_threshold'))}; "
        f"{len(active)} of {k} classes appear. Colour: share of the row."
    )
    table = (
        '<div class="table-wrap"><table class="confusion" id="confusion-table">'
        f'<thead><tr><th class="row">true \\ predicted</th>{head_cells}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    return f"{head}{note}{table}</section>"


def _footer(report: Mapping[str, Any]) -> str:
    params = json.dumps(report.get("params", {}), sort_keys=True)
    return (
        "<footer><p>detection-eval report. COCO numbers are identical to pycocotools' "
        f"(mode {escape(str(report.get('params', {}).get('mode', '')))}).</p>"
        f"<p>Parameters: <code>{escape(params)}</code></p></footer>"
    )


def render_html(report: Mapping[str, Any], title: str = "Detection evaluation report") -> str:
    """The HTML page of one report.

    Parameters
    ----------
    report : mapping
        A report JSON dict (``CocoReport.to_dict()``): ``metrics`` and ``per_class`` at
        least; ``pr_curves``, ``operating_points``, ``f1_curves``, ``errors``, ``voc``
        and ``confusion_matrix`` are drawn when present.
    title : str

    Returns
    -------
    str
        A complete, self-contained HTML document.

    Raises
    ------
    ValueError
        ``report`` has no ``metrics`` dict or no ``per_class`` list.
    """
    if not isinstance(report.get("metrics"), Mapping) or not isinstance(
        report.get("per_class"), list
    ):
        raise ValueError("render_html: expected a report JSON dict with 'metrics' and 'per_class'")
    body = "".join(
        [
            _header(report, title),
            "<main>",
            _summary(report),
            _errors(report),
            _class_table(report),
            _pr_curves(report),
            _f1(report),
            _confusion(report),
            "</main>",
            _footer(report),
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
