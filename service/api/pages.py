"""Work on stored reports that runs in the API's work pool: pages, comparisons, metrics.

Plain functions of file paths and plain data, so they pickle across the process
boundary; the HTML and the comparison come from :mod:`evaluator` unchanged, so the CLI
and the service show the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from evaluator.analyses.compare import compare_reports
from evaluator.report.html import render_html, render_leaderboard_html


def _load(path: str) -> dict[str, Any]:
    report: dict[str, Any] = orjson.loads(Path(path).read_bytes())
    return report


def report_metrics(path: str) -> dict[str, float | None]:
    """The ``metrics`` section of a stored report (the 12 COCO numbers, None if undefined)."""
    metrics: dict[str, float | None] = _load(path)["metrics"]
    return metrics


def report_page(path: str, title: str) -> str:
    """The HTML page of a stored report."""
    return render_html(_load(path), title=title)


def comparison(path_a: str, path_b: str) -> dict[str, Any]:
    """:func:`evaluator.analyses.compare.compare_reports` of two stored reports (B - A).

    Raises
    ------
    ValueError
        The reports were computed on different category sets.
    """
    return compare_reports(_load(path_a), _load(path_b))


def leaderboard_page(dataset_name: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The HTML leaderboard of a dataset's evaluations (best AP first)."""
    return render_leaderboard_html(dataset_name, rows)
