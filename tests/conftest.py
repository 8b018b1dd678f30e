"""Shared by every test: each report the library produces is checked against the schema,
and ``browser``, a headless Chromium for the pages."""

from __future__ import annotations

import shutil
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


CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium (Debian's, driven by Selenium) for a module's tests; skips,
    saying what to install, where it is missing."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "Chromium not installed: `apt-get install -y chromium chromium-driver` "
            f"(chromium: {CHROMIUM}, chromedriver: {CHROMEDRIVER})"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
