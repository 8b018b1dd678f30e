"""Security headers on the real stack: every page, every answer, no echoed Host.

One stack for the module with one finished evaluation, so the report page and the
leaderboard render. The browser test loads the report page over HTTP in Chromium (skipped
with the reason when it is not installed) and fails on any console error, which is where
Chromium reports what the Content-Security-Policy blocked.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_stack import KEYS, Stack, coco_sets

SETS = {name: (gt, dt) for name, gt, dt, _ in coco_sets()}
GT, DT = SETS["cocoapi-val2014-fake100"]
COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
HOSTILE_HOST = "evil.example"


MISSING_IDS = {
    "dataset_id": "0" * 32,
    "evaluation_id": "0" * 32,
    "other_id": "0" * 32,
    "share_id": "0" * 32,
}


@pytest.fixture(scope="module")
def ids(stack: Stack) -> dict[str, str]:
    """A registered dataset and one succeeded evaluation of it (alice's)."""
    with stack.http() as http:
        created = http.post(
            "/datasets", content=GT.read_bytes(), headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 201, created.text
        dataset = created.json()["id"]
        submitted = http.post(
            "/evaluations",
            data={"dataset_id": dataset},
            files={"predictions": ("p.json", DT.read_bytes())},
        )
        assert submitted.status_code == 202, submitted.text
        evaluation = submitted.json()["id"]
        assert stack.wait_finished(http, evaluation)["status"] == "succeeded"
    return {"dataset_id": dataset, "evaluation_id": evaluation, "other_id": evaluation}


def _operations(stack: Stack) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{stack.url}/openapi.json", timeout=30).json()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def _page_paths(stack: Stack, ids: dict[str, str]) -> list[str]:
    """Every page the API serves: /docs and each operation documented as text/html."""
    pages = [
        path.format(**ids)
        for method, path, operation in _operations(stack)
        if "text/html" in operation["responses"].get("200", {}).get("content", {})
    ]
    return ["/docs", *pages]


def _assert_common(response: httpx.Response) -> str:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, policy
    return policy


def test_every_page_has_a_strict_policy(stack: Stack, ids: dict[str, str]) -> None:
    paths = _page_paths(stack, ids)
    assert len(paths) == 3, paths  # docs, report page, leaderboard
    headers = {"Authorization": f"Bearer {KEYS['alice']}"}
    for path in paths:
        response = httpx.get(f"{stack.url}{path}", headers=headers, timeout=60)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("text/html"), path
        policy = _assert_common(response)
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'", policy
        assert "'unsafe-inline'" not in directives["script-src"], policy
        assert "'unsafe-eval'" not in directives["script-src"], policy
        assert "'unsafe-inline'" not in directives["style-src"], policy


def test_every_other_answer_has_the_headers(stack: Stack, ids: dict[str, str]) -> None:
    with stack.http() as http:
        answers = {
            "health": http.get("/health"),
            "status": http.get(f"/evaluations/{ids['evaluation_id']}"),
            "report": http.get(f"/evaluations/{ids['evaluation_id']}/report"),
            "not found": http.get("/evaluations/0123456789abcdef0123456789abcdef"),
            "unknown path": http.get("/nothing-here"),
            "wrong method": http.delete("/health"),
            "no key": http.get("/datasets/x", headers={"Authorization": ""}),
            "spec": httpx.get(f"{stack.url}/openapi.json", timeout=30),
        }
    assert {name: r.status_code for name, r in answers.items()} == {
        "health": 200,
        "status": 200,
        "report": 200,
        "not found": 404,
        "unknown path": 404,
        "wrong method": 405,
        "no key": 401,
        "spec": 200,
    }
    for response in answers.values():
        policy = _assert_common(response)
        assert policy.startswith("default-src 'none'"), (response.url, policy)


def test_a_hostile_host_never_reaches_location(stack: Stack, ids: dict[str, str]) -> None:
    """No redirect echoes Host; with a trailing slash every path answers 404 itself."""
    headers = {"Authorization": f"Bearer {KEYS['alice']}", "Host": HOSTILE_HOST}
    answers = []
    with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as http:
        for method, path, _ in _operations(stack):
            # A DELETE asks for ids that do not exist: the ones here are used next.
            url = path.format(**(MISSING_IDS if method == "DELETE" else ids))
            for variant in (url, url + "/"):
                answers.append(http.request(method, variant))
        answers.append(
            http.post(
                "/v1/evaluations",
                data={"dataset_id": ids["dataset_id"]},
                files={"predictions": ("p.json", DT.read_bytes())},
            )
        )
    for response in answers:
        assert HOSTILE_HOST not in response.headers.get("location", ""), response.url
        assert not 300 <= response.status_code < 400, (response.url, response.status_code)
        if response.url.path.endswith("/"):
            assert response.status_code == 404, (response.url, response.status_code)
    assert answers[-1].status_code == 202, answers[-1].text
    assert answers[-1].headers["location"].startswith("/v1/evaluations/")


def test_report_page_renders_under_its_policy(
    stack: Stack, ids: dict[str, str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {KEYS['alice']}"}}
    )
    browser.get(f"{stack.url}/v1/evaluations/{ids['evaluation_id']}/report.html")
    # get() can come back before the load ends on a loaded machine (CI ran it to 'loading')
    WebDriverWait(browser, 30, poll_frequency=0.1).until(
        lambda b: b.execute_script("return document.readyState") == "complete"
    )
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    # The charts are drawn and styled: their lines take the stylesheet's stroke.
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg")) > 2
    stroke = browser.execute_script(
        "return getComputedStyle(document.querySelector('svg polyline.s1')).stroke;"
    )
    assert stroke not in ("", "none"), stroke
    # The script ran: a header click sorts the class table.
    header = browser.find_element(By.CSS_SELECTOR, "#class-table thead th:nth-child(5)")
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "descending"


def test_an_unexpected_error_answer_has_the_headers_too() -> None:
    """The 500 of an unexpected exception is sent outside the middleware; it still has them."""
    import anyio
    from fastapi import FastAPI

    from service.api.errors import install_error_handlers
    from service.api.security_headers import SecurityHeaders

    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    response = anyio.run(get)
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _assert_common(response).startswith("default-src 'none'")
    assert response.headers["connection"] == "close"  # a keep-alive client opens a new one
