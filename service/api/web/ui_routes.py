"""/ui: the pages people use: sign in and out, datasets, leaderboards, runs, reports,
comparisons, share links.

Pages are rendered on the server (:mod:`service.api.web.views`); their script (uploads
with a progress bar, the progress of a running job) calls the JSON API with the session
cookie and the session's CSRF token. Forms that change something post here, with the
token as a field. The pages are not in the OpenAPI document (the README lists them).
"""

from __future__ import annotations

import math
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from service.api import reports
from service.api.deps import StateDep, WebDep
from service.api.errors import DatasetNotFound, InvalidInput, InvalidRequest, Unauthorized
from service.api.listings import CursorQuery, time_range
from service.api.web import views
from service.api.web.forms import HOME, read_form, safe_next
from service.api.web.layout import page, respond
from service.api.web.page_route import PageRoute, SignInNeeded
from service.api.web.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, Session
from service.api.web.shares import KINDS, ShareKind, ShareNotFound
from service.api.web.sharing import new_share, share_info
from service.api.web.state import WebState
from service.backend.jobs_async import MAX_LISTED, DatasetQuery

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)
#: The service's root, for a person who opens the bare address.
root_router = APIRouter(include_in_schema=False)


async def page_session(request: Request) -> Session:
    """The page's session; a browser without one is sent to sign in."""
    web: WebState = request.app.state.web
    session = await web.sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInNeeded("sign in to see this page")
    return session


SessionDep = Annotated[Session, Depends(page_session)]


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def _shown(title: str, body: str, session: Session, status: int = 200) -> Response:
    return respond(page(title, body, tenant=session.tenant, csrf=session.csrf), status)


async def _posted(request: Request, web: WebState, session: Session, fields: set[str]) -> dict:
    """The fields of a form posted by a page of this session (its CSRF token checked)."""
    form = await read_form(request, fields | {"csrf"})
    if not web.sessions.check_csrf(session, form.get("csrf")):
        raise Unauthorized("this form is stale or not from this session: reload the page")
    return form


@root_router.get("/")
@router.get("")
async def home() -> RedirectResponse:
    """The datasets page (by way of the sign-in, if need be)."""
    return _see_other(HOME)


async def _sign_in_page(
    request: Request, web: WebState, error: str | None, target: str, status: int = 200
) -> Response:
    nonce, token = await web.sessions.new_sign_in()
    response = respond(page("Sign in", views.sign_in(error, token, target)), status)
    web.sessions.set_sign_in_cookie(response, request, nonce)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, web: WebDep, next: str | None = None) -> Response:
    """The sign-in form (a signed-in browser goes straight on)."""
    target = safe_next(next)
    if await web.sessions.read(request.cookies.get(SESSION_COOKIE)) is not None:
        return _see_other(target)
    return await _sign_in_page(request, web, None, target)


@router.post("/sign-in")
async def sign_in(request: Request, web: WebDep) -> Response:
    """Check the key; on success set the session cookie and go on to ``next``."""
    form = await read_form(request, {"key", "csrf", "next"})
    target = safe_next(form.get("next"))
    if not await web.sessions.check_sign_in(request, form.get("csrf")):
        error = "This sign-in form expired or was not sent from this site; try again."
        return await _sign_in_page(request, web, error, target, 401)
    response = _see_other(target)
    try:
        await web.sessions.start(form.get("key", ""), response, request)
    except Unauthorized:
        error = "That API key is not one of this service's keys."
        return await _sign_in_page(request, web, error, target, 401)
    response.delete_cookie(SIGN_IN_COOKIE, path="/ui/sign-in")  # it has served
    return response


@router.post("/sign-out")
async def sign_out(request: Request, web: WebDep, session: SessionDep) -> Response:
    """End the session (everywhere its cookie was copied) and clear the cookie."""
    await _posted(request, web, session, set())
    response = _see_other("/ui/sign-in")
    await web.sessions.end(session, response)
    return response


@router.get("/datasets")
async def datasets_page(
    state: StateDep, session: SessionDep, cursor: CursorQuery = None
) -> Response:
    """The tenant's datasets, newest first, 50 a page."""
    newest, oldest = time_range(None, None)
    try:
        found = await state.jobs.list_datasets(
            session.tenant, DatasetQuery(None, newest, oldest), 50, cursor
        )
    except ValueError as exc:  # a cursor of the right form that names no position
        raise InvalidInput("cursor", "query.cursor", str(exc)) from None
    items = [d.summary for d in found.items]
    return _shown("Datasets", views.datasets(items, found.next_cursor), session)


@router.get("/datasets/{dataset_id}")
async def leaderboard_page(
    dataset_id: str,
    state: StateDep,
    session: SessionDep,
    sort: Annotated[str, Query(max_length=20)] = "AP",
) -> Response:
    """A dataset's leaderboard (ranked by ``sort``), compare picker, share and upload."""
    dataset = await reports.own_dataset(state, session.tenant, dataset_id)
    jobs = await state.jobs.dataset_jobs(session.tenant, dataset_id, MAX_LISTED)
    rows = await reports.listing(state, jobs)
    body = views.leaderboard(dataset, rows, sort, session.csrf, state.settings.share_max_days)
    title = f"Leaderboard: {dataset.get('name') or dataset_id}"
    return _shown(title, body, session)


@router.get("/evaluations/{evaluation_id}")
async def evaluation_page(evaluation_id: str, state: StateDep, session: SessionDep) -> Response:
    """One run: progress until it finishes, then its numbers and links."""
    job = await reports.own_job(state, session.tenant, evaluation_id)
    dataset = None
    if job.dataset_id is not None:
        try:
            dataset = await reports.own_dataset(state, session.tenant, job.dataset_id)
        except DatasetNotFound:  # being deleted with its evaluations
            dataset = None
    metrics = (await reports.listing(state, [job]))[0]["metrics"]
    body = views.evaluation(
        job.public(), dataset, metrics, session.csrf, state.settings.share_max_days
    )
    return _shown(f"Run {job.labels.name or job.id}", body, session)


@router.get("/evaluations/{evaluation_id}/report")
async def report_page(evaluation_id: str, state: StateDep, session: SessionDep) -> Response:
    """The report page of a finished run, under a bar leading back."""
    job = await reports.own_job(state, session.tenant, evaluation_id)
    html = await reports.report_html(state, job)
    back = [f'<a href="/ui/evaluations/{job.id}">\u2190 this run</a>']
    if job.dataset_id is not None:
        back.append(f'<a href="/ui/datasets/{job.dataset_id}">leaderboard</a>')
    back.append('<a href="/ui/datasets">datasets</a>')
    headers = {"Cache-Control": "no-store"}
    return HTMLResponse(views.with_banner(html, " \u00b7 ".join(back)), headers=headers)


@router.get("/compare")
async def compare_page(
    state: StateDep,
    session: SessionDep,
    a: Annotated[str | None, Query(max_length=64)] = None,
    b: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Two runs side by side (A the baseline, B the candidate)."""
    if not a or not b:
        raise InvalidRequest("pick two finished runs on a leaderboard: one as A, one as B")
    if a == b:
        raise InvalidRequest("A and B are the same run: pick two different ones")
    job_a = await reports.own_job(state, session.tenant, a)
    job_b = await reports.own_job(state, session.tenant, b)
    result = await reports.compare(state, job_a, job_b)
    title = f"{job_a.labels.name or job_a.id} vs {job_b.labels.name or job_b.id}"
    return _shown(title, views.comparison(result, job_a.public(), job_b.public()), session)


@router.get("/shares")
async def shares_page(
    web: WebDep,
    session: SessionDep,
    created: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The tenant's live share links."""
    shares = await web.shares.list(session.tenant)
    items = [await share_info(web, s) for s in shares]
    return _shown("Share links", views.shares(items, created, session.csrf), session)


@router.post("/shares")
async def create_share(
    request: Request, state: StateDep, web: WebDep, session: SessionDep
) -> Response:
    """Make a share link from a page's form; then show it among the others."""
    form = await _posted(request, web, session, {"kind", "resource_id", "days"})
    kind = form.get("kind", "")
    if kind not in KINDS:
        raise InvalidInput("kind", "form.kind", f"expected report or leaderboard, got {kind!r}")
    try:
        days = float(form.get("days", "7"))
    except ValueError:
        raise InvalidInput("days", "form.days", "not a number of days") from None
    if not math.isfinite(days):
        raise InvalidInput("days", "form.days", "not a number of days")
    share = await new_share(
        state, web, session.tenant, cast(ShareKind, kind), form.get("resource_id", ""), days
    )
    return _see_other(f"/ui/shares?created={share.id}")


@router.post("/shares/revoke")
async def revoke_share(request: Request, web: WebDep, session: SessionDep) -> Response:
    """Revoke a share link from the shares page."""
    form = await _posted(request, web, session, {"share_id"})
    share_id = form.get("share_id", "")
    if not await web.shares.revoke(session.tenant, share_id):
        raise ShareNotFound(f"no live share link with id {share_id!r}")
    return _see_other("/ui/shares")
