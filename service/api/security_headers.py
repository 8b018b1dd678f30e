"""Security headers on every answer of the API.

Every response says ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
``Referrer-Policy: no-referrer``, and carries a Content-Security-Policy: on an HTML page
the pages' own (:func:`evaluator.report.html.page_policy`: their hashed script and
stylesheet, nothing fetched), on anything else ``default-src 'none'``. Both forbid
framing, ``<base>`` and form posts. A route that sets a policy of its own keeps it.

The middleware runs inside Starlette's outermost error middleware, so the 500 answer of
an unexpected exception does not pass through it: that handler sends
:data:`API_HEADERS` itself.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evaluator.report.html import page_policy

#: Directives every policy of the service ends with.
FRAME_RULES = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: The policy of every answer that is not a page.
API_POLICY = f"default-src 'none'; {FRAME_RULES}"
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

#: Every header above, as a JSON answer carries it.
API_HEADERS = {**COMMON_HEADERS, "content-security-policy": API_POLICY}


def with_frame_rules(policy: str) -> str:
    """``policy`` completed with :data:`FRAME_RULES`."""
    return f"{policy}; {FRAME_RULES}"


class SecurityHeaders:
    """ASGI middleware adding the headers above to each HTTP response.

    Parameters
    ----------
    app : ASGI application
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.page_policy = with_frame_rules(page_policy())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                page = headers.get("content-type", "").startswith("text/html")
                headers.setdefault(
                    "content-security-policy", self.page_policy if page else API_POLICY
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
