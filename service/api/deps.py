"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.state import AppState

_bearer = HTTPBearer(auto_error=False, description="An API key from DETEVAL_API_KEYS.")


async def get_state(request: Request) -> AppState:
    """The API process' state, built by :func:`service.api.app.create_app`."""
    state: AppState = request.app.state.deteval
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    """The tenant the request's bearer key belongs to (401 otherwise).

    Async, like :func:`get_state`, so FastAPI runs it on the event loop rather than in
    the thread pool that uploads keep busy. It reads the state itself rather than
    through :data:`StateDep`: one dependency less to solve on every request.
    """
    state: AppState = request.app.state.deteval
    return state.keys.tenant_for(None if credentials is None else credentials.credentials)


TenantDep = Annotated[str, Depends(get_tenant)]
