"""CLI pieces for report files: ``deteval compare`` and ``deteval evaluate --html``.

:mod:`evaluator.cli.commands` wires them in: :func:`add_commands` adds ``compare`` to
its subparsers, :func:`write_html` serves ``--html OUT``. The terminal tables they print
live in :mod:`evaluator.report.tables`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evaluator.analyses.compare import compare_reports
from evaluator.report.coco_report import CocoReport
from evaluator.report.html import render_html
from evaluator.report.schema import ReportJSON
from evaluator.report.tables import comparison_lines


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    except RecursionError:  # the parser recurses once per level, up to about 1,000
        raise ValueError(f"{path}: arrays or objects nested too deeply to parse") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a report JSON object, got {type(data).__name__}")
    return data


def _compare(args: argparse.Namespace) -> int:
    comparison = compare_reports(_read_report(args.a), _read_report(args.b), top=args.top)
    if args.json:
        json.dump(comparison, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n".join([f" A: {args.a}", f" B: {args.b}", "", *comparison_lines(comparison)]))
    return 0


def add_commands(subparsers: Any) -> None:
    """Add ``compare A.json B.json`` to the ``deteval`` subparsers.

    A and B are report JSON files (``deteval evaluate ... --json > A.json``, or a report
    the service returned) of the same dataset; deltas are B - A. Errors raise
    ValueError, which ``deteval`` turns into exit status 2.
    """
    compare = subparsers.add_parser(
        "compare",
        help="per-metric and per-class deltas between two report JSON files (B - A)",
        description="Compare two evaluations of one dataset, given as report JSON files "
        "(from 'deteval evaluate --json' or the service). Deltas are B - A.",
    )
    compare.add_argument("a", type=Path, metavar="A.json", help="baseline report JSON")
    compare.add_argument("b", type=Path, metavar="B.json", help="candidate report JSON")
    compare.add_argument("--top", type=int, default=5, help="classes in each list (default 5)")
    compare.add_argument("--json", action="store_true", help="print only the comparison JSON")
    compare.set_defaults(func=_compare)


def write_html(
    report: CocoReport | ReportJSON | Mapping[str, Any],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Write the HTML page of a report, atomically (a reader never sees half a page).

    Parameters
    ----------
    report : CocoReport or ReportJSON or mapping
        The report, typed or as its JSON dict.
    path : path-like
        Output file; its folder must exist.
    title : str, optional
        Page title; by default ``"Detection evaluation report"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        The file cannot be written (e.g. its folder does not exist).
    """
    data = report.to_dict() if isinstance(report, CocoReport) else report
    page = render_html(data) if title is None else render_html(data, title=title)
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
