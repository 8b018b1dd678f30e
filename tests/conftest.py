"""Checks that run under every test: each report the library produces fits the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from evaluator.report.coco_report import CocoReport
from evaluator.report.schema import read_report


@pytest.fixture(autouse=True)
def every_report_fits_the_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wrap ``CocoReport.to_dict`` so that a report breaking the schema fails the test."""
    produce = CocoReport.to_dict

    def checked(self: CocoReport) -> dict[str, Any]:
        document = produce(self)
        read_report(document)
        return document

    monkeypatch.setattr(CocoReport, "to_dict", checked)
    yield
