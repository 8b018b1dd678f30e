"""The web interface's plain parts: token signing, where a sign-in leads back to,
the settings it adds, and the escaping of the page bodies."""

from __future__ import annotations

import re
import time

import pytest

from service.api.web import views
from service.api.web.forms import HOME, safe_next
from service.api.web.signing import MAX_TOKEN_CHARS, Signer, b64decode, b64encode
from service.backend.config import Settings

SECRET = b"s" * 32
HOSTILE = "<script>alert(1)</script>"
NOW = 1_800_000_000.0


@pytest.fixture
def signer() -> Signer:
    return Signer(SECRET)


def test_a_token_reads_back_until_it_expires(signer: Signer) -> None:
    token = signer.sign("session", {"t": "alice", "s": "x"}, NOW + 60)
    assert signer.read("session", token, now=NOW) == {"t": "alice", "s": "x", "exp": NOW + 60}
    assert signer.read("session", token, now=NOW + 60) is None
    assert signer.read_expired("session", token) == {"t": "alice", "s": "x", "exp": NOW + 60}


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_a_changed_token_is_refused(signer: Signer) -> None:
    token = signer.sign("session", {"t": "alice"}, NOW + 60)
    body, mac = token.split(".")
    forged_body = b64encode(b64decode(body).replace(b"alice", b"bobby"))
    for changed in (
        _flip(token, 3),  # the payload
        _flip(token, len(token) - 2),  # the MAC
        f"{forged_body}.{mac}",  # another tenant, same MAC
        token + "=",
        token + ".x",
        body,
        "",
        ".",
        "\u00e9.\u00e9",
        "a" * (MAX_TOKEN_CHARS + 1),
    ):
        assert signer.read_expired("session", changed) is None, changed


def test_a_token_is_for_its_purpose_and_secret_only(signer: Signer) -> None:
    token = signer.sign("share", {"s": "abc"}, NOW + 60)
    assert signer.read("share", token, now=NOW) is not None
    assert signer.read("session", token, now=NOW) is None
    assert Signer(b"t" * 32).read("share", token, now=NOW) is None


def test_a_purpose_cannot_borrow_the_payloads_bytes(signer: Signer) -> None:
    """The purpose is length-prefixed: ("ab", "c...") and ("a", "bc...") differ."""
    assert signer.mac("ab", b"c") != signer.mac("a", b"bc")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Signer(b"short")


def test_a_payload_without_an_integer_expiry_is_refused(signer: Signer) -> None:
    body = b64encode(b'{"t":"alice","exp":"never"}')
    token = f"{body}.{b64encode(signer.mac('session', body.encode()))}"
    assert signer.read_expired("session", token) is None


def test_an_expiry_is_checked_against_the_clock(signer: Signer) -> None:
    assert signer.read("x", signer.sign("x", {}, time.time() + 60)) is not None
    assert signer.read("x", signer.sign("x", {}, time.time() - 1)) is None


@pytest.mark.parametrize(
    "given, lands",
    [
        ("/ui/shares", "/ui/shares"),
        ("/ui/datasets/abc?sort=AP50", "/ui/datasets/abc?sort=AP50"),
        (None, HOME),
        ("", HOME),
        ("//evil.example/ui/", HOME),
        ("/ui//evil.example", HOME),
        ("https://evil.example/ui/x", HOME),
        ("/ui/\\\\evil.example", HOME),
        ("/ui/x\r\nSet-Cookie: a=b", HOME),
        ("/v1/datasets", HOME),
        ("javascript:alert(1)", HOME),
    ],
)
def test_sign_in_goes_back_only_to_our_pages(given: str | None, lands: str) -> None:
    assert safe_next(given) == lands


def test_a_short_session_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings(api_keys="a:0123456789abcdef", session_secret="short")  # type: ignore[arg-type]
    assert Settings(session_secret="x" * 32).session_secret.get_secret_value() == "x" * 32  # type: ignore[arg-type]


def _no_markup_from(html: str) -> None:
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_leaderboard_escapes_and_ranks() -> None:
    dataset = {
        "id": "d1",
        "name": HOSTILE,
        "description": HOSTILE,
        "n_images": 1,
        "n_annotations": 1,
        "n_categories": 1,
    }
    rows = [
        {"id": "r1", "name": HOSTILE, "tags": ["t"], "status": "succeeded", "metrics": {"AP": 0.2}},
        {"id": "r2", "name": "best", "tags": [], "status": "succeeded", "metrics": {"AP": 0.9}},
        {"id": "r3", "name": None, "tags": [], "status": "running", "progress": 0.5},
    ]
    html = views.leaderboard(dataset, rows, "AP", 'tok"en', 30)
    _no_markup_from(html)
    assert 'value="tok&quot;en"' in html
    order = re.findall(r'<tr data-id="(r\d)"', html)
    assert order == ["r2", "r1", "r3"]  # best AP first, unfinished last
    assert "running 50%" in html


def test_the_run_page_escapes_labels_metadata_and_errors() -> None:
    job = {
        "id": "r1",
        "name": HOSTILE,
        "tags": [],
        "metadata": {HOSTILE: HOSTILE},
        "status": "failed",
        "progress": 1.0,
        "error": {"detail": HOSTILE},
        "warnings": [HOSTILE],
        "iou_type": "bbox",
        "created_at": "2026-12-02T00:00:00Z",
        "finished_at": None,
    }
    _no_markup_from(views.evaluation(job, None, None, "t", 30))


def test_a_banner_goes_first_in_a_report_page() -> None:
    page = "<html><head></head><body>\n<main>report</main></body></html>"
    assert views.with_banner(page, "<a href='x'>back</a>").startswith(
        "<html><head></head><body>\n<nav class=\"deteval-bar\"><a href='x'>back</a></nav>"
    )
    with pytest.raises(ValueError, match="no <body>"):
        views.with_banner("<p>fragment</p>", "x")
