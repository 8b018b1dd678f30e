"""The bodies of the web pages, from plain data (summaries, listing rows, statuses).

Each function returns markup for :func:`service.api.web.layout.page`; every value from a
request or a record goes through :func:`~service.api.web.layout.text`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from evaluator.report.html import LEADERBOARD_METRICS
from service.api.web.layout import hidden, link, number, text

FINISHED = ("succeeded", "failed")
DASH_TEXT = '<span class="muted">\u2013</span>'


def _table(table_id: str, headers: Sequence[tuple[str, str]], rows: Sequence[str]) -> str:
    """A table sortable by its header buttons (``report.js``); headers are (label, kind),
    kind ``number``, ``text`` or ``""`` (not sortable)."""
    head = "".join(
        f'<th scope="col" data-type="{kind}"><button type="button">{text(label)}</button></th>'
        if kind
        else f'<th scope="col">{text(label)}</th>'
        for label, kind in headers
    )
    return (
        f'<div class="table-wrap"><table id="{table_id}" class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _num_td(value: Any) -> str:
    raw = repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f'<td class="num" data-value="{raw}">{number(value)}</td>'


def _text_td(value: Any, markup: str | None = None) -> str:
    return f'<td class="text" data-value="{text(value)}">{markup or text(value)}</td>'


def _tags(tags: Sequence[str]) -> str:
    return "".join(f'<span class="tag">{text(t)}</span>' for t in tags)


def sign_in(error: str | None, token: str, next_path: str) -> str:
    """The sign-in form: an API key, posted with the form's token."""
    problem = f'<p class="error" id="sign-in-error" role="alert">{text(error)}</p>' if error else ""
    return (
        f'{problem}<form method="post" action="/ui/sign-in" class="stack" id="sign-in">'
        f"{hidden({'csrf': token, 'next': next_path})}"
        '<label>API key <input type="password" name="key" id="key" required '
        'autocomplete="current-password" maxlength="512"></label>'
        '<button type="submit">Sign in</button></form>'
        '<p class="note">Your key is checked once and never stored in the browser: a signed '
        "session cookie stands for it until you sign out.</p>"
    )


def datasets(items: Sequence[Mapping[str, Any]], next_cursor: str | None) -> str:
    """The tenant's datasets, newest first, each linking to its leaderboard; and a form
    to add one."""
    if not items:
        return '<p class="note">No datasets yet: add one below.</p>' + _dataset_upload()
    rows = []
    for d in items:
        label = d.get("name") or d["id"]
        rows.append(
            "<tr>"
            + _text_td(label, link(f"/ui/datasets/{d['id']}", label))
            + _text_td(d.get("description") or "")
            + _text_td(d["id"], f"<code>{text(d['id'])}</code>")
            + "".join(_num_td(d[k]) for k in ("n_images", "n_annotations", "n_categories"))
            + _text_td(d.get("created_at"))
            + "</tr>"
        )
    headers = [("name", "text"), ("description", "text"), ("id", "text")]
    headers += [("images", "number"), ("annotations", "number"), ("categories", "number")]
    headers += [("created", "text")]
    more = (
        f"<p>{link('/ui/datasets?cursor=' + quote(next_cursor, safe=''), 'Older datasets')}</p>"
        if next_cursor
        else ""
    )
    return _table("datasets", headers, rows) + more + _dataset_upload()


def metric_names(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The metric columns: those of the first finished row's report (all its stats),
    else the leaderboard's usual seven."""
    for row in rows:
        if isinstance(row.get("metrics"), Mapping):
            return list(row["metrics"])
    return list(LEADERBOARD_METRICS)


def sort_rows(rows: Sequence[Mapping[str, Any]], metric: str) -> list[Mapping[str, Any]]:
    """Rows by ``metric``, best first; those without it (unfinished, undefined) last."""

    def value(row: Mapping[str, Any]) -> float | None:
        found = (row.get("metrics") or {}).get(metric)
        return float(found) if isinstance(found, (int, float)) else None

    return sorted(rows, key=lambda r: (value(r) is None, -(value(r) or 0.0)))


def _share_form(kind: str, resource_id: str, csrf: str, max_days: float) -> str:
    return (
        '<form method="post" action="/ui/shares" class="inline share">'
        f"{hidden({'csrf': csrf, 'kind': kind, 'resource_id': resource_id})}"
        f'<label>Read-only link for <input type="number" name="days" value="{min(7, max_days):g}" '
        f'min="0.01" max="{max_days:g}" step="any" id="share-days"> days</label> '
        f'<button type="submit" id="share-{kind}">Create share link</button></form>'
    )


def _upload(action: str, opens: str, accepted: int, fields: str, button: str) -> str:
    """A form the page's script sends with a progress bar; on ``accepted`` it opens
    ``opens`` + the new id, otherwise it shows the problem's detail."""
    return (
        f'<form id="upload" class="stack" method="post" action="{text(action)}" '
        f'enctype="multipart/form-data" data-opens="{text(opens)}" '
        f'data-accepted="{accepted}">{fields}'
        f'<button type="submit" id="upload-button">{text(button)}</button>'
        '<progress id="upload-progress" max="1" value="0" hidden></progress>'
        '<p id="upload-message" role="status"></p></form>'
        '<noscript><p class="error">Uploading from this page needs JavaScript; or use '
        "the API (see the README).</p></noscript>"
    )


def _evaluation_upload(dataset_id: str) -> str:
    fields = (
        f"{hidden({'dataset_id': dataset_id})}"
        '<label>Predictions (COCO results JSON) <input type="file" name="predictions" '
        'id="predictions" required accept=".json,application/json"></label>'
        '<label>Name <input name="name" id="run-name" maxlength="128" '
        'placeholder="yolov8n-epoch30"></label>'
        '<label>Tags, comma-separated <input name="tags" id="run-tags" '
        'placeholder="baseline, fp16"></label>'
        '<label>Metadata, a JSON object <textarea name="metadata" id="run-metadata" rows="2" '
        'placeholder="{&quot;commit&quot;: &quot;4f2a9c1&quot;, &quot;epoch&quot;: 30}">'
        "</textarea></label>"
        '<label>Type <select name="iou_type" id="iou-type"><option value="bbox">boxes (bbox)'
        '</option><option value="segm">masks (segm)</option><option value="keypoints">'
        "keypoints</option></select></label>"
    )
    form = _upload("/v1/evaluations", "/ui/evaluations/", 202, fields, "Upload and evaluate")
    return f"<section><h2>Evaluate predictions</h2>{form}</section>"


def _dataset_upload() -> str:
    fields = (
        '<label>Ground truth (COCO JSON) <input type="file" name="file" id="ground-truth" '
        'required accept=".json,application/json"></label>'
        '<label>Name <input name="name" id="dataset-name" maxlength="128" '
        'placeholder="coco-val2017"></label>'
        '<label>Description <textarea name="description" id="dataset-description" rows="2" '
        'maxlength="2000"></textarea></label>'
    )
    form = _upload("/v1/datasets", "/ui/datasets/", 201, fields, "Upload the dataset")
    return f"<section><h2>Add a dataset</h2>{form}</section>"


def leaderboard(
    dataset: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    sort: str,
    csrf: str,
    max_days: float,
) -> str:
    """A dataset's page: its description, the leaderboard with two columns of radio
    buttons to pick runs A and B to compare, a share form and the upload form."""
    metrics = metric_names(rows)
    order = sort if sort in metrics else "AP"
    body = []
    for rank, row in enumerate(sort_rows(rows, order), start=1):
        rid = row["id"]
        label = row.get("name") or rid
        picks = "".join(
            f'<td><input type="radio" name="{side}" value="{text(rid)}" '
            f'aria-label="{side.upper()}: {text(label)}"'
            f"{'' if row['status'] == 'succeeded' else ' disabled'}></td>"
            for side in ("a", "b")
        )
        status = row["status"]
        if status not in FINISHED:
            status = f"{status} {row.get('progress', 0.0):.0%}"
        metric_cells = "".join(_num_td((row.get("metrics") or {}).get(m)) for m in metrics)
        body.append(
            f'<tr data-id="{text(rid)}">{picks}{_num_td(rank)}'
            + _text_td(label, link(f"/ui/evaluations/{rid}", label, class_="run"))
            + _text_td(" ".join(row.get("tags") or ()), _tags(row.get("tags") or ()))
            + _text_td(status)
            + _text_td(row.get("created_at"))
            + metric_cells
            + "</tr>"
        )
    headers = [("A", ""), ("B", ""), ("rank", "number"), ("run", "text"), ("tags", "text")]
    headers += [("status", "text"), ("created", "text")] + [(m, "number") for m in metrics]
    sorts = " ".join(
        link(f"/ui/datasets/{dataset['id']}?sort={m}", m, class_="current" if m == order else "")
        for m in metrics
    )
    description = dataset.get("description")
    about = (f"<p>{text(description)}</p>" if description else "") + (
        f'<p class="note">Dataset <code>{text(dataset["id"])}</code>: '
        f"{dataset['n_images']} images, {dataset['n_annotations']} annotations, "
        f"{dataset['n_categories']} categories.</p>"
    )
    table = (
        '<form method="get" action="/ui/compare" id="compare-form">'
        + _table("leaderboard", headers, body)
        + '<p><button type="submit" id="compare">Compare A with B</button> '
        '<span class="note">Pick a finished run as A (the baseline) and one as B.</span></p>'
        "</form>"
        if rows
        else '<p class="note">No evaluations of this dataset yet.</p>'
    )
    return (
        f"{about}<section><h2>Leaderboard</h2>"
        f'<p class="note">Ranked by {text(order)}; rank by: {sorts}. Click a column header '
        "to sort in the page.</p>"
        f"{table}{_share_form('leaderboard', dataset['id'], csrf, max_days)}</section>"
        f"{_evaluation_upload(dataset['id'])}"
    )


def _metadata(metadata: Mapping[str, Any]) -> str:
    if not metadata:
        return DASH_TEXT
    items = "".join(
        f"<li><code>{text(k)}</code>: <code>{text(orjson.dumps(v).decode())}</code></li>"
        for k, v in metadata.items()
    )
    return f'<ul class="plain">{items}</ul>'


def evaluation(
    job: Mapping[str, Any],
    dataset: Mapping[str, Any] | None,
    metrics: Mapping[str, Any] | None,
    csrf: str,
    max_days: float,
) -> str:
    """One run: its labels, its progress while queued or running (polled by the page's
    script), then its headline numbers, the report link and a share form."""
    rid = job["id"]
    status = job["status"]
    ds = (
        link(f"/ui/datasets/{dataset['id']}", dataset.get("name") or dataset["id"])
        if dataset
        else DASH_TEXT
    )
    facts = [
        ("id", f"<code>{text(rid)}</code>"),
        ("dataset", ds),
        ("tags", _tags(job.get("tags") or ()) or DASH_TEXT),
        ("metadata", _metadata(job.get("metadata") or {})),
        ("type", text(job.get("iou_type"))),
        ("created", text(job.get("created_at"))),
        ("finished", text(job.get("finished_at")) or DASH_TEXT),
    ]
    dl = "".join(f"<dt>{text(k)}</dt><dd>{v}</dd>" for k, v in facts)
    progress = float(job.get("progress") or 0.0)
    state = (
        f'<section id="job" data-status-url="/v1/evaluations/{text(rid)}" '
        f'data-status="{text(status)}"><p>Status: <strong id="job-status">{text(status)}'
        f'</strong> <progress id="job-progress" max="1" value="{progress:.3f}"></progress> '
        f'<span id="job-percent">{progress:.0%}</span></p></section>'
    )
    parts = [state, f'<dl class="facts">{dl}</dl>']
    warnings = job.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{text(w)}</li>" for w in warnings)
        parts.append(f'<section><h2>Warnings</h2><ul id="warnings">{items}</ul></section>')
    if status == "failed":
        error = job.get("error") or {}
        parts.append(
            '<section><h2>Failed</h2><p class="error" id="job-error">'
            f"{text(error.get('detail') or 'unknown reason')}</p></section>"
        )
    if status == "succeeded":
        cards = "".join(
            f'<div class="card"><div class="label">{text(m)}</div>'
            f'<div class="value" id="metric-{text(m)}">{number((metrics or {}).get(m))}</div></div>'
            for m in ("AP", "AP50", "AP75", "AR100")
            if metrics is None or m in metrics
        )
        parts.append(
            f'<section><h2>Results</h2><div class="cards">{cards}</div>'
            f"<p>{link(f'/ui/evaluations/{rid}/report', 'Open the full report', id='open-report')}"
            f" \u00b7 {link(f'/v1/evaluations/{rid}/report', 'report JSON')}</p>"
            f"{_share_form('report', rid, csrf, max_days)}</section>"
        )
    return "".join(parts)


def _delta_td(pair: Mapping[str, Any]) -> str:
    delta = pair.get("delta")
    if not isinstance(delta, (int, float)):
        reason = text(pair.get("undefined_reason") or "undefined")
        return f'<td class="num null" data-value="" title="{reason}">\u2013</td>'
    kind = "up" if delta > 0 else "down" if delta < 0 else "same"
    return f'<td class="num delta {kind}" data-value="{delta!r}">{delta:+.3f}</td>'


def _pair_cells(pair: Mapping[str, Any]) -> str:
    return _num_td(pair.get("a")) + _num_td(pair.get("b")) + _delta_td(pair)


def comparison(result: Mapping[str, Any], a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Two runs side by side: every metric of A and B and the change, then per class."""

    def who(job: Mapping[str, Any], side: str) -> str:
        label = job.get("name") or job["id"]
        anchor = link("/ui/evaluations/" + job["id"], label, id="run-" + side.lower())
        tags = _tags(job.get("tags") or ())
        return (
            f'<div class="card side"><div class="label">{side}</div><div>{anchor}</div>'
            f'<div class="muted">{tags}</div></div>'
        )

    sides = f'<div class="cards">{who(a, "A")}{who(b, "B")}</div>'
    rows = [
        f"<tr>{_text_td(name)}{_pair_cells(pair)}</tr>"
        for name, pair in (result.get("metrics") or {}).items()
    ]
    pairs = [("A", "number"), ("B", "number"), ("B \u2212 A", "number")]
    overall = _table("compare-metrics", [("metric", "text"), *pairs], rows)
    classes = list(result.get("per_class") or [])
    per_metric = [k for k in (classes[0] if classes else {}) if isinstance(classes[0][k], Mapping)]
    class_rows = [
        "<tr>"
        + _text_td(c.get("name") or c["category_id"])
        + _num_td(c.get("n_gt"))
        + "".join(_pair_cells(c[m]) for m in per_metric)
        + "</tr>"
        for c in classes
    ]
    class_headers = [("class", "text"), ("objects", "number")]
    for m in per_metric:
        class_headers += [(f"{m} A", "number"), (f"{m} B", "number"), (f"\u0394{m}", "number")]
    errors = result.get("errors") or {}
    error_rows = [f"<tr>{_text_td(k)}{_pair_cells(p)}</tr>" for k, p in errors.items()]
    counts = result.get("counts") or {}
    summary = ", ".join(f"{text(v)} {text(k)}" for k, v in counts.items())
    warnings = "".join(f"<li>{text(w)}</li>" for w in result.get("warnings") or ())
    return (
        f'{sides}<p class="note">Every change is B \u2212 A (A is the baseline). Classes: '
        f"{summary}.</p>"
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + f"<section><h2>Metrics</h2>{overall}</section>"
        + f"<section><h2>Per class</h2>{_table('compare-classes', class_headers, class_rows)}"
        "</section>"
        + (
            "<section><h2>Errors (dAP if fixed)</h2>"
            f"{_table('compare-errors', [('error', 'text'), *pairs], error_rows)}</section>"
            if error_rows
            else ""
        )
    )


def shares(items: Sequence[Mapping[str, Any]], created: str | None, csrf: str) -> str:
    """The tenant's live share links, each with its URL to copy and a revoke button."""
    if not items:
        return '<p class="note">No live share links. Make one from a report or leaderboard.</p>'
    rows = []
    for s in items:
        target = "/ui/evaluations/" if s["kind"] == "report" else "/ui/datasets/"
        new = ' class="new"' if s["id"] == created else ""
        rows.append(
            f'<tr data-id="{text(s["id"])}"{new}>'
            + _text_td(s["kind"])
            + _text_td(s["resource_id"], link(target + s["resource_id"], s["resource_id"]))
            + _text_td(s["expires_at"])
            + f'<td><input type="text" readonly class="share-url" value="{text(s["path"])}" '
            f'aria-label="share link"></td>'
            + '<td><form method="post" action="/ui/shares/revoke" class="inline">'
            + hidden({"csrf": csrf, "share_id": s["id"]})
            + '<button type="submit" class="revoke">Revoke</button></form></td></tr>'
        )
    headers = [("kind", "text"), ("of", "text"), ("expires", "text"), ("link", ""), ("", "")]
    return (
        '<p class="note">Anyone with a link can open that page, read-only and without '
        "signing in, until it expires or you revoke it.</p>" + _table("shares", headers, rows)
    )


def error(status: int, title: str, detail: str) -> str:
    """An error page: what went wrong, and where to go from here."""
    back = link("/ui/datasets", "your datasets")
    return (
        f'<p class="error" id="problem" data-status="{status}">{text(detail)}</p>'
        f"<p>{text(title)} (HTTP {status}). Go to {back}.</p>"
    )


def banner(markup: str) -> str:
    """A bar put at the top of a report or leaderboard page that is not ours (rendered
    by :mod:`evaluator.report.html`): plain links only, as those pages' own policy
    allows no stylesheet but theirs."""
    return f'<nav class="deteval-bar">{markup}</nav>'


def with_banner(page_html: str, markup: str) -> str:
    """``page_html`` with :func:`banner` ``(markup)`` as the first thing in its body."""
    head, sep, rest = page_html.partition("<body>")
    if not sep:
        raise ValueError("not a page of evaluator.report.html: no <body>")
    return f"{head}<body>\n{banner(markup)}{rest}"
