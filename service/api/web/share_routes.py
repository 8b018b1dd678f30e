"""/s/<token>: what a share link shows, read-only, to anyone who has it.

A report link shows that report page; a leaderboard link shows the leaderboard, its
finished runs linking to their report pages under the same link
(``/s/<token>/evaluations/<id>``). Nothing else of the tenant is reachable, and nothing
can be changed. Errors are pages: 404 for a link that is not ours or whose report or
dataset is gone, 410 for one that expired or was revoked.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from service.api import reports
from service.api.deps import StateDep, WebDep
from service.api.errors import EvaluationNotFound
from service.api.web import views
from service.api.web.page_route import PageRoute
from service.api.web.shares import Share
from service.backend.jobs_async import MAX_LISTED

router = APIRouter(prefix="/s", route_class=PageRoute, include_in_schema=False)
#: Share pages are nobody's to cache or index.
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _shared(html: str, share: Share, back: str = "") -> HTMLResponse:
    until = dt.datetime.fromtimestamp(share.expires, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    note = f"Shared read-only by {escape(share.tenant)}, until {until} UTC{back}"
    return HTMLResponse(views.with_banner(html, note), headers=_HEADERS)


@router.get("/{token}")
async def shared_page(token: str, state: StateDep, web: WebDep) -> Response:
    """The report or leaderboard a share link shows."""
    share = await web.shares.resolve(token)
    if share.kind == "report":
        job = await reports.own_job(state, share.tenant, share.resource)
        return _shared(await reports.report_html(state, job), share)
    html = await reports.dataset_leaderboard_html(
        state,
        share.tenant,
        share.resource,
        MAX_LISTED,
        href=lambda job_id: f"{token}/evaluations/{job_id}",
    )
    return _shared(html, share)


@router.get("/{token}/evaluations/{evaluation_id}")
async def shared_report(token: str, evaluation_id: str, state: StateDep, web: WebDep) -> Response:
    """The report page of a run on a shared leaderboard."""
    share = await web.shares.resolve(token)
    job = await reports.own_job(state, share.tenant, evaluation_id)
    if share.kind != "leaderboard" or job.dataset_id != share.resource:
        raise EvaluationNotFound(f"no evaluation with id {evaluation_id!r} on this shared page")
    back = f' \u00b7 <a href="../../{escape(token)}">back to the leaderboard</a>'
    return _shared(await reports.report_html(state, job), share, back)
