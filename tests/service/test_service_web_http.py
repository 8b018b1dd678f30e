"""The web interface over HTTP on the real stack: session cookies, CSRF, policies,
escaping, share links.

The stack runs two API processes (``deteval api --workers 2``) on one Redis, so a
session made by one is checked by the other (the signing secret they share is kept in
Redis). Share links last at most 2 days here (DETEVAL_SHARE_MAX_DAYS).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from service_stack import KEYS, SMALL_GT, Stack, running_stack

from service.api.web.signing import b64decode, b64encode

HOSTILE = "<script>alert(1)</script>"
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+=", re.IGNORECASE)
GT = copy.deepcopy(SMALL_GT)
GT["categories"][0]["name"] = HOSTILE  # type: ignore[index]


@pytest.fixture(scope="module")
def hstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("stack"),
        api_args=("--workers", "2"),
        share_max_days="2",
        pool_processes="1",
    ) as running:
        yield running


def _predictions(shift: float) -> bytes:
    return json.dumps(
        [
            {**{k: a[k] for k in ("image_id", "category_id")}, "score": 0.9, "bbox": bbox}
            for a in GT["annotations"]  # type: ignore[union-attr]
            for bbox in [[a["bbox"][0] + shift, *a["bbox"][1:]]]
        ]
    ).encode()


@pytest.fixture(scope="module")
def ids(hstack: Stack) -> dict[str, str]:
    """Alice's dataset (hostile name, description and category) and two finished runs (the
    first with a hostile name and metadata; tags cannot hold markup)."""
    with hstack.http() as http:
        created = http.post(
            "/datasets", json=GT, params={"name": HOSTILE, "description": f"about {HOSTILE}"}
        )
        assert created.status_code == 201, created.text
        dataset = created.json()["id"]
        runs = []
        for shift, name in ((0.0, HOSTILE), (6.0, "second")):
            submitted = http.post(
                "/evaluations",
                data={
                    "dataset_id": dataset,
                    "name": name,
                    "tags": "fp16,x",
                    "metadata": json.dumps({HOSTILE: HOSTILE}),
                },
                files={"predictions": ("p.json", _predictions(shift))},
            )
            assert submitted.status_code == 202, submitted.text
            runs.append(submitted.json()["id"])
        for run in runs:
            assert hstack.wait_finished(http, run)["status"] == "succeeded"
    return {"dataset": dataset, "a": runs[0], "b": runs[1]}


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def sign_in(stack: Stack, tenant: str = "alice", **headers: str) -> tuple[httpx.Client, str]:
    """A client signed in as ``tenant`` through the form; and its session's CSRF token."""
    client = httpx.Client(base_url=stack.url, timeout=30, headers=headers)
    form = client.get("/ui/sign-in")
    assert form.status_code == 200, form.text
    posted = client.post(
        "/ui/sign-in", data={"key": KEYS[tenant], "csrf": _form_token(form.text), "next": ""}
    )
    assert posted.status_code == 303, posted.text
    page = client.get("/ui/datasets")
    assert page.status_code == 200, page.text
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf, page.text[:2000]
    return client, csrf.group(1)


def _set_cookie(response: httpx.Response, name: str) -> tuple[str, dict[str, Any]]:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            flags = {k: morsel[k] for k in ("httponly", "samesite", "secure", "path", "max-age")}
            return morsel.value, flags
    raise AssertionError(f"no Set-Cookie {name}: {response.headers}")


# -- sign-in, sessions, CSRF ------------------------------------------------------------


def test_pages_send_a_signed_out_browser_to_sign_in(hstack: Stack) -> None:
    answer = httpx.get(f"{hstack.url}/ui/datasets/abc?sort=AP50", timeout=30)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?next=%2Fui%2Fdatasets%2Fabc%3Fsort%3DAP50"


@pytest.mark.parametrize("forwarded, secure", [({}, ""), ({"X-Forwarded-Proto": "https"}, True)])
def test_the_session_cookie_is_strict(
    hstack: Stack, forwarded: dict[str, str], secure: object
) -> None:
    """Secure when the browser came over https: here through a proxy on the loopback,
    whose X-Forwarded-Proto uvicorn believes (its FORWARDED_ALLOW_IPS)."""
    client = httpx.Client(base_url=hstack.url, timeout=30, headers=forwarded)
    form = client.get("/ui/sign-in")
    nonce, form_flags = _set_cookie(form, "deteval_sign_in")
    assert form_flags["secure"] == secure and form_flags["samesite"] == "strict"
    answer = client.post(
        "/ui/sign-in",
        data={"key": KEYS["alice"], "csrf": _form_token(form.text)},
        headers={"Cookie": f"deteval_sign_in={nonce}"},  # httpx keeps Secure ones for https
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/datasets"
    value, flags = _set_cookie(answer, "deteval_session")
    assert flags == {
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "path": "/",
        "max-age": "43200",
    }
    assert KEYS["alice"] not in value and "alice-key" not in value


def test_a_forged_or_wrong_sign_in_sets_no_session(hstack: Stack) -> None:
    # Posted from elsewhere: no sign-in cookie (SameSite=Strict) to match the token.
    forged = httpx.post(
        f"{hstack.url}/ui/sign-in", data={"key": KEYS["alice"], "csrf": "x"}, timeout=30
    )
    assert forged.status_code == 401
    assert "not sent from this site" in forged.text
    assert "deteval_session" not in forged.headers.get("set-cookie", "")
    client = httpx.Client(base_url=hstack.url, timeout=30)
    token = _form_token(client.get("/ui/sign-in").text)
    wrong = client.post("/ui/sign-in", data={"key": "wrong-key-0123456789", "csrf": token})
    assert wrong.status_code == 401 and "not one of this service" in wrong.text
    assert "deteval_session" not in wrong.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "next_path, lands",
    [
        ("/ui/shares", "/ui/shares"),
        ("//evil.example/ui/x", "/ui/datasets"),
        ("https://evil.example/", "/ui/datasets"),
        ("/ui//evil.example", "/ui/datasets"),
        ("/ui/\\evil.example", "/ui/datasets"),
        ("/v1/datasets", "/ui/datasets"),
    ],
)
def test_sign_in_goes_back_only_to_our_pages(hstack: Stack, next_path: str, lands: str) -> None:
    client = httpx.Client(base_url=hstack.url, timeout=30)
    token = _form_token(client.get("/ui/sign-in").text)
    answer = client.post(
        "/ui/sign-in", data={"key": KEYS["alice"], "csrf": token, "next": next_path}
    )
    assert answer.status_code == 303 and answer.headers["location"] == lands


def test_every_api_process_knows_the_session(hstack: Stack) -> None:
    client, _ = sign_in(hstack)
    cookie = client.cookies["deteval_session"]
    statuses = []
    for _ in range(24):  # a new connection each time: either process answers
        with httpx.Client(base_url=hstack.url, timeout=30) as fresh:
            fresh.cookies.set("deteval_session", cookie)
            statuses.append(fresh.get("/v1/datasets").status_code)
    assert statuses == [200] * 24


def test_the_api_takes_the_cookie_with_its_csrf_header_for_changes(
    hstack: Stack, ids: dict[str, str]
) -> None:
    client, csrf = sign_in(hstack)
    assert client.get(f"/v1/evaluations/{ids['a']}").status_code == 200
    body = {"kind": "report", "resource_id": ids["a"]}
    missing = client.post("/v1/shares", json=body)
    assert missing.status_code == 401 and "X-CSRF-Token" in missing.json()["detail"]
    wrong = client.post("/v1/shares", json=body, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status_code == 401
    made = client.post("/v1/shares", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    share = made.json()["id"]
    assert client.delete(f"/v1/shares/{share}").status_code == 401
    assert client.delete(f"/v1/shares/{share}", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_forms_need_the_sessions_token(hstack: Stack, ids: dict[str, str]) -> None:
    client, csrf = sign_in(hstack)
    form = {"kind": "report", "resource_id": ids["a"], "days": "1"}
    refused = client.post("/ui/shares", data=form)
    assert refused.status_code == 401 and "stale or not from this session" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    other, other_csrf = sign_in(hstack)
    assert client.post("/ui/shares", data={**form, "csrf": other_csrf}).status_code == 401
    assert client.post("/ui/sign-out", data={"csrf": ""}).status_code == 401
    assert client.post("/ui/sign-out").status_code == 415
    assert client.get("/ui/datasets").status_code == 200  # still signed in
    made = client.post("/ui/shares", data={**form, "csrf": csrf})
    assert made.status_code == 303 and made.headers["location"].startswith("/ui/shares?created=")
    as_json = client.post("/ui/shares", json={**form, "csrf": csrf})
    assert as_json.status_code == 415


def test_signing_out_ends_every_copy_of_the_cookie(hstack: Stack) -> None:
    client, csrf = sign_in(hstack)
    copied = client.cookies["deteval_session"]
    out = client.post("/ui/sign-out", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/sign-in"
    assert 'deteval_session=""' in out.headers["set-cookie"]
    with httpx.Client(base_url=hstack.url, timeout=30) as thief:
        thief.cookies.set("deteval_session", copied)
        assert thief.get("/v1/datasets").status_code == 401
        assert thief.get("/ui/datasets").status_code == 303


def test_a_tampered_cookie_is_no_session(hstack: Stack) -> None:
    client, _ = sign_in(hstack)
    value = client.cookies["deteval_session"]
    body, mac = value.split(".")
    payload = json.loads(b64decode(body))
    payload["t"] = "bob"
    forged = b64encode(json.dumps(payload).encode()) + "." + mac
    for cookie in (forged, value[:-3] + "AAA", "garbage", value + "." + mac):
        with httpx.Client(base_url=hstack.url, timeout=30) as other:
            other.cookies.set("deteval_session", cookie)
            assert other.get("/v1/datasets").status_code == 401, cookie
            assert other.get("/ui/datasets").status_code == 303, cookie


# -- pages ------------------------------------------------------------------------------


def _pages(ids: dict[str, str]) -> list[str]:
    return [
        "/ui/datasets",
        f"/ui/datasets/{ids['dataset']}",
        f"/ui/datasets/{ids['dataset']}?sort=AR100",
        f"/ui/evaluations/{ids['a']}",
        f"/ui/compare?a={ids['a']}&b={ids['b']}",
        "/ui/shares",
    ]


def test_every_page_has_the_strict_policy_and_no_cache(hstack: Stack, ids: dict[str, str]) -> None:
    client, _ = sign_in(hstack)
    for path in [*_pages(ids), "/ui/sign-in?next=/ui/shares"]:
        page = client.get(path)
        assert page.status_code in (200, 303), (path, page.text)
        if page.status_code == 303:  # signed in: the sign-in form goes straight on
            continue
        policy = dict(
            d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";")
        )
        assert policy == {
            "default-src": "'none'",
            "script-src": "'self'",
            "style-src": "'self'",
            "connect-src": "'self'",
            "img-src": "'self' data:",
            "form-action": "'self'",
            "frame-ancestors": "'none'",
            "base-uri": "'none'",
        }, path
        assert page.headers["cache-control"] == "no-store", path
        assert page.headers["x-frame-options"] == "DENY", path
        assert "<script>" not in page.text and not INLINE_HANDLER.search(page.text), path
    for name, media in (("ui.js", "text/javascript"), ("report.css", "text/css")):
        static = httpx.get(f"{hstack.url}/ui/static/{name}", timeout=30)
        assert static.status_code == 200 and static.headers["content-type"].startswith(media)
    assert httpx.get(f"{hstack.url}/ui/static/app.py", timeout=30).status_code == 404


def test_every_user_string_is_escaped(hstack: Stack, ids: dict[str, str]) -> None:
    client, _ = sign_in(hstack)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in _pages(ids)[:-1]:
        html = client.get(path).text
        assert HOSTILE not in html, path
        assert escaped in html, path
    compared = client.get(f"/ui/compare?a={ids['a']}&b={ids['b']}").text
    assert escaped in compared.split('id="compare-classes"')[1]  # the category's name
    report = client.get(f"/ui/evaluations/{ids['a']}/report")
    assert report.status_code == 200 and HOSTILE not in report.text


def test_pages_answer_errors_as_pages(hstack: Stack, ids: dict[str, str]) -> None:
    client, _ = sign_in(hstack)
    bob, _ = sign_in(hstack, "bob")
    answers = {
        "no such run": client.get("/ui/evaluations/" + "0" * 32),
        "another's dataset": bob.get(f"/ui/datasets/{ids['dataset']}"),
        "another's run": bob.get(f"/ui/evaluations/{ids['a']}"),
        "compare one run": client.get(f"/ui/compare?a={ids['a']}&b={ids['a']}"),
        "compare nothing": client.get("/ui/compare"),
        "bad cursor": client.get("/ui/datasets?cursor=%00"),
    }
    statuses = {what: a.status_code for what, a in answers.items()}
    assert statuses == {
        "no such run": 404,
        "another's dataset": 404,
        "another's run": 404,
        "compare one run": 422,
        "compare nothing": 422,
        "bad cursor": 422,
    }
    for what, answer in answers.items():
        assert answer.headers["content-type"].startswith("text/html"), what
        assert 'id="problem"' in answer.text, what


# -- share links ------------------------------------------------------------------------


def test_a_report_link_opens_signed_out_until_revoked(hstack: Stack, ids: dict[str, str]) -> None:
    with hstack.http() as http:
        made = http.post("/shares", json={"kind": "report", "resource_id": ids["a"]})
        assert made.status_code == 201, made.text
        share = made.json()
        assert share["path"].startswith("/s/") and share["kind"] == "report"
        url = hstack.url + share["path"]
        opened = httpx.get(url, timeout=30)
        assert opened.status_code == 200 and "Shared read-only" in opened.text
        assert opened.headers["cache-control"] == "no-store"
        assert "form-action 'none'" in opened.headers["content-security-policy"]
        assert [s["id"] for s in http.get("/shares").json()["items"]][0] == share["id"]
        with hstack.http("bob") as bob:
            assert bob.delete(f"/shares/{share['id']}").status_code == 404
            assert bob.get("/shares").json() == {"items": []}
        assert httpx.get(url, timeout=30).status_code == 200
        tampered = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
        assert httpx.get(tampered, timeout=30).status_code == 404
        assert http.delete(f"/shares/{share['id']}").status_code == 204
        assert http.delete(f"/shares/{share['id']}").status_code == 404
        gone = httpx.get(url, timeout=30)
        assert gone.status_code == 410 and "revoked" in gone.text
        assert share["id"] not in [s["id"] for s in http.get("/shares").json()["items"]]


def test_a_link_expires(hstack: Stack, ids: dict[str, str]) -> None:
    with hstack.http() as http:
        made = http.post(
            "/shares",
            json={"kind": "report", "resource_id": ids["a"], "expires_in_days": 2 / 86400},
        )
        assert made.status_code == 201, made.text
        url = hstack.url + made.json()["path"]
        assert httpx.get(url, timeout=30).status_code == 200
        time.sleep(3.1)
        expired = httpx.get(url, timeout=30)
        assert expired.status_code == 410 and "expired" in expired.text
        listed = [s["id"] for s in http.get("/shares").json()["items"]]
        assert made.json()["id"] not in listed


def test_a_leaderboard_link_opens_its_runs_reports_only(hstack: Stack, ids: dict[str, str]) -> None:
    with hstack.http() as http:
        made = http.post("/shares", json={"kind": "leaderboard", "resource_id": ids["dataset"]})
        assert made.status_code == 201, made.text
        url = hstack.url + made.json()["path"]
        other = http.post("/datasets", json=SMALL_GT)
        assert other.status_code == 201
        elsewhere = http.post(
            "/evaluations",
            data={"dataset_id": other.json()["id"]},
            files={"predictions": ("p.json", _predictions(0.0))},
        )
        assert elsewhere.status_code == 202
    board = httpx.get(url, timeout=30)
    assert board.status_code == 200 and HOSTILE not in board.text
    token = made.json()["path"].removeprefix("/s/")
    assert f'href="{token}/evaluations/{ids["a"]}"' in board.text
    assert httpx.get(f"{url}/evaluations/{ids['b']}", timeout=30).status_code == 200
    refused = httpx.get(f"{url}/evaluations/{elsewhere.json()['id']}", timeout=30)
    assert refused.status_code == 404


def test_deleting_what_a_link_shows_ends_the_link(hstack: Stack) -> None:
    with hstack.http() as http:
        dataset = http.post("/datasets", json=SMALL_GT).json()["id"]
        run = http.post(
            "/evaluations",
            data={"dataset_id": dataset},
            files={"predictions": ("p.json", _predictions(0.0))},
        ).json()["id"]
        assert hstack.wait_finished(http, run)["status"] == "succeeded"
        links = [
            http.post("/shares", json={"kind": kind, "resource_id": rid}).json()["path"]
            for kind, rid in (("report", run), ("leaderboard", dataset))
        ]
        assert [httpx.get(hstack.url + p, timeout=30).status_code for p in links] == [200, 200]
        assert http.delete(f"/datasets/{dataset}", params={"cascade": "true"}).status_code == 204
    assert [httpx.get(hstack.url + p, timeout=30).status_code for p in links] == [404, 404]


@pytest.mark.parametrize(
    "body, status, location",
    [
        ({"kind": "report", "resource_id": "0" * 32}, 404, None),
        ({"kind": "page", "resource_id": "x"}, 422, "body.kind"),
        ({"kind": "report", "resource_id": "x", "expires_in_days": 3}, 422, "body.expires_in_days"),
        ({"kind": "report", "resource_id": "x", "expires_in_days": 0}, 422, "body.expires_in_days"),
        ({"kind": "report", "resource_id": "x", "extra": 1}, 422, "body.extra"),
    ],
)
def test_share_requests_are_checked(
    hstack: Stack, body: dict[str, Any], status: int, location: str | None
) -> None:
    with hstack.http() as http:
        answer = http.post("/shares", json=body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    if location is not None:
        where = [problem.get("location")] + [e["location"] for e in problem.get("errors", [])]
        assert location in where, problem


def test_another_tenant_cannot_share_what_is_not_theirs(hstack: Stack, ids: dict[str, str]) -> None:
    with hstack.http("bob") as bob:
        for kind, rid in (("report", ids["a"]), ("leaderboard", ids["dataset"])):
            assert bob.post("/shares", json={"kind": kind, "resource_id": rid}).status_code == 404
