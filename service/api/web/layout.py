"""The one layout of the web pages, their security policy, and the escaping helpers.

Pages are built from strings; every value that is not markup of ours goes through
:func:`text` (or :func:`attr`), which escapes ``& < > " '``, so a run named
``<script>...`` shows as those characters. The pages load their stylesheets and scripts
from the app itself (``/ui/static/``), and the policy :data:`UI_POLICY` lets nothing
else load or run: no inline script, no other origin, no framing.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

#: The Content-Security-Policy of every /ui page.
UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STYLESHEETS = ("/ui/static/report.css", "/ui/static/ui.css")
SCRIPTS = ("/ui/static/report.js", "/ui/static/ui.js")
DASH = "\u2013"


def text(value: Any) -> str:
    """``value`` as HTML text or attribute content, escaped (``None`` is empty)."""
    return "" if value is None else escape(str(value), quote=True)


def number(value: Any, digits: int = 3) -> str:
    """A metric as shown: 3 decimals, a dash when undefined."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DASH
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def link(href: str, label: Any, **attrs: str) -> str:
    """``<a href=...>label</a>``, both escaped."""
    extra = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{text(v)}"' for name, v in attrs.items()
    )
    return f'<a href="{text(href)}"{extra}>{text(label)}</a>'


def hidden(fields: Mapping[str, str]) -> str:
    """Hidden form inputs."""
    return "".join(
        f'<input type="hidden" name="{text(k)}" value="{text(v)}">' for k, v in fields.items()
    )


def page(title: str, body: str, *, tenant: str | None = None, csrf: str | None = None) -> str:
    """A whole page: head, the top bar (with sign-out when signed in), ``body`` (markup).

    ``csrf`` is also put in ``<body data-csrf>``, where the page's script reads it for
    the requests it sends.
    """
    head = "".join(f'<link rel="stylesheet" href="{href}">' for href in STYLESHEETS)
    head += "".join(f'<script src="{src}" defer></script>' for src in SCRIPTS)
    bar = '<nav class="top"><a href="/ui/datasets">Datasets</a>'
    if tenant is not None and csrf is not None:
        bar += (
            '<a href="/ui/shares">Share links</a>'
            f'<span class="who">signed in as <strong>{text(tenant)}</strong></span>'
            '<form method="post" action="/ui/sign-out" class="inline">'
            f'{hidden({"csrf": csrf})}<button type="submit" id="sign-out">Sign out</button>'
            "</form>"
        )
    bar += "</nav>"
    data = f' data-csrf="{text(csrf)}"' if csrf else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">'
        f"<title>{text(title)} \u00b7 detection-eval</title>{head}</head>"
        f"<body{data}><header>{bar}<h1>{text(title)}</h1></header>"
        f"<main>{body}</main></body></html>"
    )


def respond(html: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """A page answer: the UI policy, never cached (pages show one tenant's data)."""
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": UI_POLICY,
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )
