"""The HTML report page: its content, and the page itself in a real headless Chromium.

The browser tests drive Debian's ``chromium`` with ``chromium-driver`` through Selenium
(skipped with the reason when either is missing) and leave screenshots in
``test-artifacts/``. The reference data lives in ``shared/`` beside the repository, or
where ``DETEVAL_SHARED_DIR`` says.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from coco_cases import random_case

from evaluator import DataWarning, evaluate_coco, load_ground_truth, load_predictions
from evaluator.analyses.f1_curves import f1_curves_section
from evaluator.analyses.tide import ERROR_TYPES, error_section
from evaluator.cli.report_commands import write_html
from evaluator.input.voc_text import load_voc_text
from evaluator.metrics.matching import match_detections
from evaluator.metrics.params import CocoParams
from evaluator.report.html import render_html, render_leaderboard_html
from evaluator.report.schema import read_report
from evaluator.report.tables import error_breakdown_lines

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _shared_dir() -> Path:
    configured = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"


REFERENCE = _shared_dir() / "reference-data"
REFERENCE_SETS = {
    "cocoapi-val2014-fake100": ("instances_val2014_100.json",
                                "instances_val2014_fakebbox100_results.json"),
    "padilla-val2014-bboxarea100": ("sampled_gts_bbox_area.json", "sampled_bbox_results.json"),
    "padilla-toyexample-cat": ("toy_example_coco.JSON", "coco_dets.json"),
    "podm-sample3-coco": ("groundtruths_coco.json", "detections_coco.json"),
    "podm-cartucho-sample-coco": ("groundtruths_coco.json", "detections_coco.json"),
}  # fmt: skip
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}"
)


def full_report(gt: Any, predictions: Any, **options: Any) -> dict[str, Any]:
    """The report JSON with every section, ``errors`` and ``f1_curves`` included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ground = load_ground_truth(copy.deepcopy(gt) if isinstance(gt, dict) else gt)
        preds = load_predictions(
            copy.deepcopy(predictions) if isinstance(predictions, list) else predictions, ground
        )
        report = evaluate_coco(ground, preds, extras=True, **options).to_dict()
    params = CocoParams.build(**options)
    matching = match_detections(ground, preds, params)
    ids = [row["category_id"] for row in report["per_class"]]  # [-1] when class-agnostic
    names = [row["name"] for row in report["per_class"]]
    report["errors"] = error_section(matching, params, ground, preds, ids, names)
    report["f1_curves"] = f1_curves_section(matching, params, ids)
    return report


VOC_TEXT_SET = "padilla-odm-sample-voctext"


def reference_report(name: str) -> dict[str, Any]:
    """The full report of a reference set, through JSON as the service stores it."""
    if name == VOC_TEXT_SET:  # text files, converted to COCO for the COCO report
        gt, results = load_voc_text(
            REFERENCE / name / "groundtruths", REFERENCE / name / "detections"
        ).to_coco()
        report = full_report(gt, results)
    else:
        gt_file, det_file = REFERENCE_SETS[name]
        report = full_report(REFERENCE / name / gt_file, REFERENCE / name / det_file)
    return json.loads(json.dumps(report, allow_nan=False))


@pytest.fixture(scope="module")
def random_report() -> dict[str, Any]:
    gt, dets = random_case(5, n_images=10)
    gt["categories"][0]["name"] = "<script>alert('x')</script> & co"
    return full_report(gt, dets)


# --------------------------------------------------------------------------- the HTML text

# Anything that would make a browser fetch: src/href to a URL, CSS url() or @import.
_FETCHES = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)|url\(|@import""", re.I)


def test_page_is_self_contained_and_escapes_names(random_report) -> None:
    page = render_html(random_report, title="A <b>title</b>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not _FETCHES.search(page)
    assert "default-src 'none'" in page  # the CSP forbids every fetch
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "<title>A &lt;b&gt;title&lt;/b&gt;</title>" in page
    for section in ("summary", "errors", "classes", "pr", "f1", "confusion"):
        assert f'<section id="{section}">' in page
    assert page.count("<tr data-category-id=") == len(random_report["per_class"])
    ap = random_report["metrics"]["AP"]
    assert f'id="metric-AP" data-value="{ap!r}">{ap:.3f}<' in page


def test_page_without_optional_sections_says_so(random_report) -> None:
    minimal = {k: random_report[k] for k in ("stats", "metrics", "per_class", "params")}
    page = render_html(minimal)
    assert "Not in this report (computed without the error breakdown)." in page
    assert "No PR curves in this report." in page
    assert "No F1 curves in this report." in page
    assert "Not in this report (computed without extras)." in page


def test_unavailable_error_breakdown_shows_its_reason() -> None:
    gt, dets = random_case(6)
    page = render_html(full_report(gt, dets, use_cats=False))
    assert "Not available: class-agnostic evaluation" in page


def test_not_a_report_is_refused() -> None:
    with pytest.raises(ValueError, match="missing required field `metrics`"):
        render_html({"stats": []})


def test_write_html_writes_the_page(random_report, tmp_path) -> None:
    target = write_html(random_report, tmp_path / "report.html", title="run 7")
    assert target.read_text(encoding="utf-8") == render_html(random_report, title="run 7")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    with pytest.raises(OSError):
        write_html(random_report, tmp_path / "missing" / "report.html")


def test_error_breakdown_lines(random_report) -> None:
    lines = error_breakdown_lines(read_report(random_report))
    overall = random_report["errors"]["overall"]
    for name in ERROR_TYPES:
        row = next(line for line in lines if line.startswith(name))
        assert row.split()[1:] == [str(overall[name]["count"]), f"{overall[name]['dAP']:.3f}"]
    without = {k: v for k, v in random_report.items() if k != "errors"}
    assert error_breakdown_lines(read_report(without)) == []


LEADERBOARD_ROWS = [
    {"id": "ev-1", "created_at": "2026-11-01T10:00:00Z", "AP": 0.41, "AP50": 0.6, "href": "/r/1"},
    {"id": "ev-2", "created_at": "2026-11-02T10:00:00Z", "status": "running", "AP": None},
    {"id": "ev-3", "created_at": "2026-11-03T10:00:00Z", "metrics": {"AP": 0.52, "AP50": 0.7},
     "label": "<new> model", "href": "/r/3"},
]  # fmt: skip


def test_leaderboard_ranks_by_ap_and_links() -> None:
    page = render_leaderboard_html("val & test", LEADERBOARD_ROWS)
    assert not _FETCHES.search(page)
    assert "<title>Leaderboard: val &amp; test</title>" in page
    order = re.findall(r'data-value="(ev-\d)"', page)
    assert order == ["ev-3", "ev-1", "ev-2"]
    assert '<a href="/r/3">ev-3</a> <span class="muted">&lt;new&gt; model</span>' in page


# --------------------------------------------------------------------------- in Chromium


def _open(driver: Any, page: str, name: str) -> None:
    """Write ``page`` to test-artifacts/NAME.html and load it; fail on any console error."""
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    driver.get(path.as_uri())
    WebDriverWait(driver, 30, poll_frequency=0.1).until(  # get() may return before the load ends
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    logs = driver.get_log("browser")
    errors = [entry for entry in logs if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == [], f"console errors on {name}: {errors}"
    # Nothing was fetched: the page holds everything itself.
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def _column(driver: Any, table_id: str, index: int) -> list[float | None]:
    values = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[arguments[1]].getAttribute('data-value'));",
        f"#{table_id}",
        index,
    )
    return [None if v == "" else float(v) for v in values]


def _texts(driver: Any, selector: str) -> list[str]:
    """Text of every element matching ``selector``, in document order (one round trip)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => e.textContent.trim());",
        selector,
    )


def _header_button(driver: Any, table_id: str, label: str) -> Any:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th button"):
        if button.text.strip() == label:
            return button
    raise AssertionError(f"no header {label!r} in #{table_id}")


def _nulls_last(values: list[float | None], descending: bool) -> list[float | None]:
    defined = sorted((v for v in values if v is not None), reverse=descending)
    return defined + [None] * (len(values) - len(defined))


@needs_reference
def test_report_page_in_chromium(browser) -> None:
    from selenium.webdriver.common.by import By

    report = reference_report("cocoapi-val2014-fake100")
    _open(browser, render_html(report, title="cocoapi val2014 fake100"), "report-cocoapi")

    ap = report["metrics"]["AP"]
    card = browser.find_element(By.ID, "metric-AP")
    assert card.text == f"{ap:.3f}"
    assert float(card.get_attribute("data-value")) == ap
    shown_ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('#class-table tbody tr'))"
        ".map(r => r.getAttribute('data-category-id'));"
    )
    assert shown_ids == [str(row["category_id"]) for row in report["per_class"]]
    first_row = browser.find_element(By.CSS_SELECTOR, "#class-table tbody tr")
    assert first_row.find_element(By.CSS_SELECTOR, "td").text == report["per_class"][0]["name"]
    ap_column = 4  # class, id, GT, detections, AP
    assert _column(browser, "class-table", ap_column) == [r["AP"] for r in report["per_class"]]
    browser.save_screenshot(str(ARTIFACTS / "report-cocoapi-top.png"))

    # Sorting: first click descending, second ascending; undefined values stay last.
    values = [r["AP"] for r in report["per_class"]]
    button = _header_button(browser, "class-table", "AP")
    button.click()
    assert _column(browser, "class-table", ap_column) == _nulls_last(values, descending=True)
    header = button.find_element(By.XPATH, "..")
    assert header.get_attribute("aria-sort") == "descending"
    button.click()
    assert _column(browser, "class-table", ap_column) == _nulls_last(values, descending=False)
    assert header.get_attribute("aria-sort") == "ascending"
    _header_button(browser, "class-table", "class").click()
    names = [row["name"] for row in report["per_class"]]
    assert _texts(browser, "#class-table tbody tr td:first-child") == sorted(
        names, key=str.lower, reverse=True
    )

    # The name filter hides the other rows.
    browser.find_element(By.CSS_SELECTOR, "input[data-table='class-table']").send_keys("dog")
    visible = _texts(browser, "#class-table tbody tr:not([hidden]) td:first-child")
    assert visible == sorted((n for n in names if "dog" in n), reverse=True)  # hot dog, dog
    browser.execute_script("document.getElementById('classes').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "report-cocoapi-classes.png"))

    # Charts are there and drawn: the error bars, the PR and F1 curves, the heat map.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#errors svg rect")) == 8
    assert browser.find_element(By.CSS_SELECTOR, "#pr svg polyline").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#f1 svg polyline").is_displayed()
    with_gt = sum(1 for r in report["per_class"] if r["n_gt"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#pr .grid figure")) == with_gt
    diagonal = [row[i] for i, row in enumerate(report["confusion_matrix"]["counts"][:-1])]
    shown_diagonal = _texts(browser, "#confusion-table td.diag")
    assert sorted(map(int, shown_diagonal)) == sorted(d for d in diagonal if d)
    browser.execute_script(
        "document.querySelectorAll('details').forEach(d => d.open = true);"
        "document.getElementById('pr').scrollIntoView()"
    )
    browser.save_screenshot(str(ARTIFACTS / "report-cocoapi-curves.png"))
    browser.execute_script("document.getElementById('confusion').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "report-cocoapi-confusion.png"))
    for name in ("top", "classes", "curves", "confusion"):
        png = (ARTIFACTS / f"report-cocoapi-{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000


@needs_reference
@pytest.mark.parametrize(
    "name", sorted(set(REFERENCE_SETS) - {"cocoapi-val2014-fake100"} | {VOC_TEXT_SET})
)
def test_every_reference_set_renders_cleanly(browser, name: str) -> None:
    from selenium.webdriver.common.by import By

    report = reference_report(name)
    _open(browser, render_html(report, title=name), f"report-{name}")
    ap50 = report["metrics"]["AP50"]
    assert browser.find_element(By.ID, "metric-AP50").text == f"{ap50:.3f}"
    rows = browser.find_elements(By.CSS_SELECTOR, "#class-table tbody tr")
    assert len(rows) == len(report["per_class"])
    errors = report["errors"]["overall"]
    table = browser.find_element(By.ID, "error-table").text
    for error_type in ERROR_TYPES:
        assert f"{error_type}" in table
        assert math.isfinite(errors[error_type]["dAP"])


def test_console_check_catches_a_script_error(browser) -> None:
    broken = "<!DOCTYPE html><title>broken</title><script>notDefinedAnywhere();</script>"
    with pytest.raises(AssertionError, match="console errors on broken"):
        _open(browser, broken, "broken")


def test_leaderboard_page_in_chromium(browser) -> None:
    _open(browser, render_leaderboard_html("val2017", LEADERBOARD_ROWS), "leaderboard")
    ap_column = 4  # rank, evaluation, created, status, AP
    assert _column(browser, "leaderboard", ap_column) == [0.52, 0.41, None]
    _header_button(browser, "leaderboard", "AP").click()
    assert _column(browser, "leaderboard", ap_column) == [0.52, 0.41, None]
    _header_button(browser, "leaderboard", "AP").click()
    assert _column(browser, "leaderboard", ap_column) == [0.41, 0.52, None]
    browser.save_screenshot(str(ARTIFACTS / "leaderboard.png"))
