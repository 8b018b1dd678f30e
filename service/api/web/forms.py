"""Reading the small url-encoded forms of the pages, and where a sign-in may lead back to."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from fastapi import Request

from service.api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

FORM = "application/x-www-form-urlencoded"
#: The largest form body read (a key, a token, a few short fields).
MAX_FORM_BYTES = 16 * 1024
#: Where a sign-in may send the browser back to: a page of ours, by its path.
_NEXT = re.compile(r"^/ui/[A-Za-z0-9/_.~=&%?-]*$")
HOME = "/ui/datasets"


async def read_form(request: Request, fields: set[str]) -> dict[str, str]:
    """The fields of a url-encoded form body (the first of each name; others ignored).

    Raises
    ------
    UnsupportedMediaType
        Not ``application/x-www-form-urlencoded``.
    PayloadTooLarge
        Over :data:`MAX_FORM_BYTES`.
    InvalidRequest
        Not UTF-8.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise UnsupportedMediaType(
            f"expected a form ({FORM}), got {media or 'no Content-Type'}: post it from the page",
            accepted=[FORM],
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge(
                f"a form of this page holds at most {MAX_FORM_BYTES} bytes",
                limit_bytes=MAX_FORM_BYTES,
            )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"the form is not UTF-8 url-encoded text: {exc}") from None
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            found.setdefault(name, value)
    return found


def safe_next(path: str | None) -> str:
    """``path`` if it is one of our pages' paths, else the datasets page (no open
    redirect: never another host, never a scheme)."""
    if path and _NEXT.match(path) and "//" not in path:
        return path
    return HOME
