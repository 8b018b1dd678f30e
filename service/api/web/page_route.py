"""Routes that answer pages: their errors are pages too, and a missing sign-in sends the
browser to the sign-in form."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from service.api.errors import ServiceError
from service.api.web import views
from service.api.web.layout import page, respond

#: Headers of an error that do not apply to a page (a browser shows no bearer prompt).
_API_ONLY = {"WWW-Authenticate"}


class SignInNeeded(ServiceError):
    """A page asked for without a live session: answered by a redirect to the sign-in."""

    status = 401
    title = "Sign-in needed"
    slug = "sign-in-needed"


def sign_in_redirect(request: Request) -> RedirectResponse:
    """303 to the sign-in form, which comes back here afterwards."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/sign-in?" + urlencode({"next": back}), status_code=303)


def error_page(status: int, title: str, detail: str, headers: dict[str, str]) -> Response:
    """The page of an error."""
    kept = {k: v for k, v in headers.items() if k not in _API_ONLY}
    return respond(page(title, views.error(status, title, detail)), status, kept)


class PageRoute(APIRoute):
    """An APIRoute whose service errors and bad parameters are answered as pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return sign_in_redirect(request)
            except ServiceError as exc:
                return error_page(exc.status, exc.title, exc.detail, exc.headers)
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error_page(422, "Invalid request", detail, {})

        return handle
