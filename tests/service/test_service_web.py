"""The web interface in a real browser (Debian's Chromium, headless) on the real stack.

One journey, as a person takes it: sign in with a key (a wrong one first), add a
dataset, upload a broken file and read why it was refused, upload predictions to the
dataset from its leaderboard, watch the run's progress until it finishes, open the report, run a
second upload, compare the two runs, make a share link, sign out, open the link signed
out, then see it refused once revoked.

The worker is the gated one: the first job waits at 25 % until the test opens the gate,
so the page is seen running and then seen finishing on its own (its script polls). The
dataset and the first run carry hostile names: they must show as text, and no script
may run (Chromium reports what the pages' policy blocks in its console, checked empty).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import KEYS, SMALL_GT, Stack, gated_stack

HOSTILE_DATASET = "<script>alert('dataset')</script>"
HOSTILE_RUN = '<img src=x onerror="alert(1)">run "one"'
WAIT = 30.0


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture(scope="module")
def wstack(tmp_path_factory: pytest.TempPathFactory, gate: Path) -> Iterator[Stack]:
    """API + one gated worker."""
    with gated_stack(tmp_path_factory.mktemp("stack"), gate) as running:
        yield running


def predictions(shift: float) -> list[dict[str, Any]]:
    """One detection per ground-truth box, moved ``shift`` pixels right."""
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": [a["bbox"][0] + shift, *a["bbox"][1:]],
            "score": 0.9,
        }
        for a in SMALL_GT["annotations"]  # type: ignore[union-attr]
    ]


def wait_until(browser: Any, done: Callable[[Any], Any], what: str) -> Any:
    """Wait for ``done(browser)`` to be truthy; on timeout fail with the page's URL and
    text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, WAIT, poll_frequency=0.1).until(done)
    except TimeoutException:
        body = browser.find_element("tag name", "body").text[:2000]
        at = browser.current_url
        pytest.fail(f"timed out after {WAIT:g} s waiting for {what}; at {at}:\n{body}")


def by_id(browser: Any, element_id: str) -> Any:
    return browser.find_element("id", element_id)


def no_console_errors(browser: Any) -> None:
    """Nothing the policy blocked, no script error, no alert open."""
    from selenium.common.exceptions import NoAlertPresentException

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (reading it is what raises)


def upload(browser: Any, path: Path, name: str, tags: str) -> str:
    """Fill and send the leaderboard's upload form; the id of the run it opens."""
    by_id(browser, "predictions").send_keys(str(path))
    by_id(browser, "run-name").send_keys(name)
    by_id(browser, "run-tags").send_keys(tags)
    by_id(browser, "run-metadata").send_keys('{"epoch": 3, "note": "</textarea><b>x</b>"}')
    by_id(browser, "upload-button").click()
    wait_until(browser, lambda b: "/ui/evaluations/" in b.current_url, "the run's page")
    return str(browser.current_url.rsplit("/", 1)[1])


def test_the_journey(wstack: Stack, gate: Path, browser: Any, tmp_path: Path) -> None:
    ground_truth = tmp_path / "gt.json"
    ground_truth.write_text(json.dumps(SMALL_GT))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(predictions(0.0)))
    second.write_text(json.dumps(predictions(8.0)))
    ui = f"{wstack.url}/ui"

    # Signed out, a page sends the browser to sign in, and back afterwards.
    browser.get(f"{ui}/datasets")
    assert "/ui/sign-in" in browser.current_url
    by_id(browser, "key").send_keys("not-a-key-of-this-service")
    by_id(browser, "key").submit()
    assert "not one of this service's keys" in by_id(browser, "sign-in-error").text
    browser.get_log("browser")  # drains the console of that page's 401, on purpose
    by_id(browser, "key").send_keys(KEYS["alice"])
    by_id(browser, "key").submit()
    wait_until(browser, lambda b: b.current_url == f"{ui}/datasets", "the datasets page")
    cookie = browser.get_cookie("deteval_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict", cookie
    assert KEYS["alice"] not in cookie["value"]

    # A dataset added from the page; its hostile name is text, not markup.
    by_id(browser, "ground-truth").send_keys(str(ground_truth))
    by_id(browser, "dataset-name").send_keys(HOSTILE_DATASET)
    by_id(browser, "dataset-description").send_keys("ten images, one <b>cat</b> each")
    by_id(browser, "upload-button").click()
    wait_until(browser, lambda b: "/ui/datasets/" in b.current_url, "the new dataset's page")
    dataset_id = browser.current_url.rsplit("/", 1)[1]
    assert "one <b>cat</b> each" in browser.find_element("tag name", "main").text
    browser.get(f"{ui}/datasets")
    link = browser.find_element("link text", HOSTILE_DATASET)
    link.click()
    wait_until(browser, lambda b: b.title.startswith("Leaderboard"), "the leaderboard")
    assert HOSTILE_DATASET in browser.find_element("tag name", "h1").text

    # A file that is not predictions is refused on the page, with where and what.
    broken = tmp_path / "broken.json"
    broken.write_text('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 1}]')
    by_id(browser, "predictions").send_keys(str(broken))
    by_id(browser, "upload-button").click()
    wait_until(
        browser, lambda b: by_id(b, "upload-message").text.startswith("predictions"), "the 422"
    )
    assert "bbox" in by_id(browser, "upload-message").text
    assert "/ui/datasets/" in browser.current_url
    browser.get_log("browser")  # drains the console of that 422, on purpose
    browser.refresh()

    # Upload; the run is seen running (held at the gate), then finishing by itself.
    run_one = upload(browser, first, HOSTILE_RUN, "baseline, fp16")
    wait_until(
        browser,
        lambda b: (by_id(b, "job-status").text, by_id(b, "job-percent").text) == ("running", "25%"),
        "the run to be running, at 25 %",
    )
    assert float(by_id(browser, "job-progress").get_attribute("value")) == pytest.approx(0.25)
    (gate / "open").touch()
    report_link = wait_until(
        browser, lambda b: b.find_elements("id", "open-report"), "the run to finish"
    )[0]
    assert by_id(browser, "job-status").text == "succeeded"
    assert by_id(browser, "metric-AP").text == "1.000"
    assert HOSTILE_RUN in browser.find_element("tag name", "h1").text
    assert '"</textarea><b>x</b>"' in browser.find_element("css selector", "dl.facts").text
    no_console_errors(browser)

    # The report.
    report_link.click()
    wait_until(browser, lambda b: "/report" in b.current_url, "the report page")
    assert "1.000" in by_id(browser, "metric-AP").text
    no_console_errors(browser)

    # A second run, then the two compared from the leaderboard.
    browser.get(f"{ui}/datasets/{dataset_id}")
    run_two = upload(browser, second, "run two", "candidate")
    wait_until(browser, lambda b: b.find_elements("id", "open-report"), "run two to finish")
    browser.get(f"{ui}/datasets/{dataset_id}")
    names = [a.text for a in browser.find_elements("css selector", "#leaderboard a.run")]
    assert names == [HOSTILE_RUN, "run two"]  # ranked by AP: the exact run first
    assert browser.find_elements("css selector", "#leaderboard img") == []
    browser.find_element("css selector", f"input[name=a][value='{run_one}']").click()
    browser.find_element("css selector", f"input[name=b][value='{run_two}']").click()
    by_id(browser, "compare").click()
    wait_until(browser, lambda b: "/ui/compare" in b.current_url, "the comparison")
    assert by_id(browser, "run-a").text == HOSTILE_RUN
    assert by_id(browser, "run-b").text == "run two"
    ap_row = browser.find_element("css selector", "#compare-metrics tbody tr").text.split()
    metric, a, b, delta = ap_row
    assert (metric, a) == ("AP", "1.000") and float(b) < 1 and float(delta) < 0, ap_row
    no_console_errors(browser)

    # A share link of the leaderboard.
    browser.get(f"{ui}/datasets/{dataset_id}")
    by_id(browser, "share-leaderboard").click()
    wait_until(browser, lambda b: "/ui/shares" in b.current_url, "the share links page")
    url = browser.find_element("css selector", "tr.new input.share-url").get_attribute("value")
    assert url.startswith(f"{wstack.url}/s/"), url
    share_id = browser.find_element("css selector", "tr.new").get_attribute("data-id")

    # Signed out, the pages are closed, the link is open, read-only.
    by_id(browser, "sign-out").click()
    wait_until(browser, lambda b: "/ui/sign-in" in b.current_url, "the sign-in page")
    browser.get(f"{ui}/datasets")
    assert "/ui/sign-in" in browser.current_url
    browser.get(url)
    assert HOSTILE_DATASET in browser.find_element("tag name", "h1").text
    assert "Shared read-only" in browser.find_element("css selector", "nav.deteval-bar").text
    assert browser.find_elements("css selector", "form") == []
    browser.find_element("link text", run_one).click()
    wait_until(browser, lambda b: "/evaluations/" in b.current_url, "the shared report")
    assert "1.000" in by_id(browser, "metric-AP").text
    no_console_errors(browser)

    # Revoked, the link is refused at once.
    with wstack.http() as http:
        assert http.delete(f"/shares/{share_id}").status_code == 204
    browser.get(url)
    assert "revoked" in by_id(browser, "problem").text
    assert httpx.get(url, timeout=30).status_code == 410
