"""The interactive API documentation page (Swagger UI), with its own security policy.

FastAPI's page loads Swagger UI from a CDN and starts it with an inline script; its
Content-Security-Policy allows exactly that: the CDN's script and stylesheet, the inline
script by its hash, the favicon, and fetches of the API itself ("Try it out").
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from service.api.security_headers import with_frame_rules

CDN = "https://cdn.jsdelivr.net"
FAVICON_HOST = "https://fastapi.tiangolo.com"


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def install_docs(app: FastAPI, path: str = "/docs") -> None:
    """Serve the Swagger UI page of ``app`` (built with ``docs_url=None``) at ``path``."""
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title} API")
    html = bytes(page.body).decode("utf-8")
    inline = " ".join(_hash(s) for s in re.findall(r"<script>(.*?)</script>", html, re.S))
    policy = with_frame_rules(
        f"default-src 'none'; script-src {CDN} {inline}; style-src {CDN}; "
        f"style-src-attr 'unsafe-inline'; img-src {FAVICON_HOST} data:; connect-src 'self'"
    )

    @app.get(path, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})
