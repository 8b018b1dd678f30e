"""/ui/static/<name>: the pages' stylesheets and scripts, served by the app itself.

The report's own stylesheet and sorting script (``evaluator/report/templates``) are
served beside the interface's, so the pages look and sort as the report does. Only the
files listed here are served; their content is read once.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Response

from service.api.errors import NotFound

router = APIRouter(prefix="/ui/static", include_in_schema=False)

#: name -> (package, file, media type)
FILES = {
    "report.css": ("evaluator.report", "templates/report.css", "text/css"),
    "report.js": ("evaluator.report", "templates/report.js", "text/javascript"),
    "ui.css": ("service.api.web", "static/ui.css", "text/css"),
    "ui.js": ("service.api.web", "static/ui.js", "text/javascript"),
}


@cache
def _content(name: str) -> bytes:
    package, path, _ = FILES[name]
    return (files(package) / path).read_bytes()


@router.get("/{name}")
async def static_file(name: str) -> Response:
    """One of :data:`FILES` (cached for an hour by browsers)."""
    if name not in FILES:
        raise NotFound(f"no static file {name!r}")
    return Response(
        _content(name),
        media_type=FILES[name][2] + "; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
