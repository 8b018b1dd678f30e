"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from service.api.state import AppState
from service.api.web.sessions import SESSION_COOKIE
from service.api.web.state import WebState

_bearer = HTTPBearer(auto_error=False, description="An API key from DETEVAL_API_KEYS.")
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="The cookie of a web sign-in (/ui/sign-in), for the pages' own requests: "
    "any method but GET and HEAD also needs the session's X-CSRF-Token header. Scripts "
    "use the bearer key.",
)


async def get_state(request: Request) -> AppState:
    """The API process' state, built by :func:`service.api.app.create_app`."""
    state: AppState = request.app.state.deteval
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    session: Annotated[str | None, Security(_session)],
) -> str:
    """The tenant the request's bearer key belongs to, or else its web session's (401
    otherwise).

    Async, like :func:`get_state`, so FastAPI runs it on the event loop rather than in
    the thread pool that uploads keep busy. It reads the state itself rather than
    through :data:`StateDep`: one dependency less to solve on every request.
    """
    if credentials is None and session is not None:
        web: WebState = request.app.state.web
        return await web.sessions.for_api(request, session)
    state: AppState = request.app.state.deteval
    return state.keys.tenant_for(None if credentials is None else credentials.credentials)


TenantDep = Annotated[str, Depends(get_tenant)]


async def get_web(request: Request) -> WebState:
    """The web interface's state (sessions, share links)."""
    web: WebState = request.app.state.web
    return web


WebDep = Annotated[WebState, Depends(get_web)]
