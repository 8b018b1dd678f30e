"""Adding the web interface to the app: its state, the pages, their files, share links."""

from __future__ import annotations

from fastapi import FastAPI

from service.api.state import AppState
from service.api.web import share_routes, static, ui_routes
from service.api.web.state import WebState


def install_web(app: FastAPI, state: AppState) -> None:
    """Serve /ui (pages, and ``/`` leading there), /ui/static (their files) and /s
    (share links) on ``app``."""
    app.state.web = WebState.build(state)
    app.include_router(static.router)
    app.include_router(ui_routes.router)
    app.include_router(ui_routes.root_router)
    app.include_router(share_routes.router)
