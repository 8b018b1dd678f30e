"""/v1/evaluations: submit predictions, poll the job, fetch the report, compare two."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from service.api import reports
from service.api.deps import StateDep, TenantDep
from service.api.errors import EvaluationNotFound
from service.api.intake import submit_evaluation
from service.api.listings import (
    CreatedAfterQuery,
    CreatedBeforeQuery,
    CursorQuery,
    LimitQuery,
    NamePrefixQuery,
    link_next,
    time_range,
)
from service.api.openapi_docs import EVALUATION_FORM, EVALUATION_LINKS
from service.api.problems import QUOTA_409, problems
from service.api.report_schema import REPORT_REF
from service.api.reports import own_dataset, own_job
from service.api.schemas import COMPARISON_EXAMPLE, EvaluationPage, EvaluationStatus
from service.backend.jobs_async import JobQuery
from service.backend.storage import is_valid_id

router = APIRouter(prefix="/evaluations", tags=["evaluations"])


@router.post(
    "",
    status_code=202,
    operation_id="create_evaluation",
    openapi_extra=EVALUATION_FORM,
    responses={
        202: {
            "description": "Accepted: queued for scoring.",
            "headers": {
                "Location": {
                    "description": "The evaluation's URL, to poll.",
                    "schema": {"type": "string"},
                    "required": True,
                }
            },
            "links": EVALUATION_LINKS,
        },
        **problems(
            400,
            401,
            413,
            415,
            422,
            503,
            507,
            described={404: "No such dataset_id, or another tenant's.", **QUOTA_409},
        ),
    },
)
async def create_evaluation(
    request: Request, response: Response, state: StateDep, tenant: TenantDep
) -> EvaluationStatus:
    """Submit predictions against a dataset (or inline ground truth); scored asynchronously.

    Answers at once with the queued job and its URL in ``Location``.
    """
    upload = await state.receiver.multipart(
        request,
        file_fields={"predictions", "ground_truth"},
        text_fields={"dataset_id", "name", "tags", "metadata", "iou_type"},
    )
    try:
        async with state.upload_slots:
            job = await submit_evaluation(state, tenant, upload)
    finally:
        upload.discard()
    response.headers["Location"] = f"/v1/evaluations/{job.id}"
    return EvaluationStatus(**job.public())


@router.get(
    "",
    operation_id="list_evaluations",
    responses={
        200: {
            "description": "A page of your evaluations; the next page's URL is also in "
            'the Link header (rel="next").',
        },
        **problems(401, 422, 503, described={404: "No such dataset_id, or another tenant's."}),
    },
)
async def list_evaluations(
    request: Request,
    response: Response,
    state: StateDep,
    tenant: TenantDep,
    dataset_id: Annotated[
        str | None, Query(description="Only the evaluations of this dataset.")
    ] = None,
    status: Annotated[
        Literal["queued", "running", "succeeded", "failed"] | None,
        Query(description="Only those in this state."),
    ] = None,
    tag: Annotated[
        str | None, Query(description="Only those with this tag.", max_length=40)
    ] = None,
    name_prefix: NamePrefixQuery = None,
    created_after: CreatedAfterQuery = None,
    created_before: CreatedBeforeQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> EvaluationPage:
    """Your evaluations, newest first, filtered by dataset, state, tag, name prefix and
    creation time; ``limit`` per page, then ``cursor=next_cursor`` for the next."""
    if dataset_id is not None:
        await own_dataset(state, tenant, dataset_id)
    newest, oldest = time_range(created_after, created_before)
    query = JobQuery(dataset_id, status, tag, name_prefix, newest, oldest)
    found = await state.jobs.list_jobs(tenant, query, limit, cursor)
    link_next(request, response, found.next_cursor)
    return EvaluationPage(
        items=[EvaluationStatus(**job.public()) for job in found.items],
        next_cursor=found.next_cursor,
    )


_NOT_FOUND = {404: "No such evaluation, or another tenant's."}
_REPORT_ERRORS = problems(401, 409, 503, described=_NOT_FOUND)


@router.get(
    "/{evaluation_id}",
    operation_id="get_evaluation",
    response_model=EvaluationStatus,
    responses={200: {"links": EVALUATION_LINKS}, **problems(401, 503, described=_NOT_FOUND)},
)
async def get_evaluation(evaluation_id: str, state: StateDep, tenant: TenantDep) -> Response:
    """The job's status, progress, and error if it failed.

    The path clients poll: one Redis round trip, the body encoded straight from the job
    record (its fields are :class:`EvaluationStatus`).
    """
    job = await own_job(state, tenant, evaluation_id)
    body = orjson.dumps(job.public())
    return Response(content=body, media_type="application/json")


@router.delete(
    "/{evaluation_id}",
    status_code=204,
    operation_id="delete_evaluation",
    responses={
        204: {"description": "Deleted: its record, files and report are gone (404 after)."},
        **problems(401, 503, described=_NOT_FOUND),
    },
)
async def delete_evaluation(evaluation_id: str, state: StateDep, tenant: TenantDep) -> Response:
    """Delete an evaluation: its record, its files and its report; a queued or running
    one is cancelled (its worker stops and writes nothing)."""
    if not is_valid_id(evaluation_id) or not await anyio.to_thread.run_sync(
        state.deleter.delete_evaluation, tenant, evaluation_id
    ):
        raise EvaluationNotFound(f"no evaluation with id {evaluation_id!r}")
    return Response(status_code=204)


@router.get(
    "/{evaluation_id}/report",
    operation_id="get_report",
    responses={
        200: {
            "content": {"application/json": {"schema": REPORT_REF}},
            "description": "The report JSON (schema: evaluator.ReportJSON).",
        },
        **_REPORT_ERRORS,
    },
)
async def get_report(evaluation_id: str, state: StateDep, tenant: TenantDep) -> Response:
    """The score report (DESIGN.md's report JSON) once the job succeeded."""
    job = await own_job(state, tenant, evaluation_id)
    reports.require_report(job)
    data = await anyio.to_thread.run_sync(state.storage.read_report, tenant, job.id)
    return Response(content=data, media_type="application/json")


@router.get(
    "/{evaluation_id}/report.html",
    operation_id="get_report_html",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "A self-contained page (no network needed): summary, per-class "
            "table, PR curves, F1 curves, error breakdown.",
            "content": {
                "text/html": {
                    "example": "<!DOCTYPE html><html><head><title>Evaluation 9b8e...</title>"
                    "...</head><body>...</body></html>"
                }
            },
        },
        **_REPORT_ERRORS,
    },
)
async def get_report_html(evaluation_id: str, state: StateDep, tenant: TenantDep) -> HTMLResponse:
    """The report as an HTML page to read in a browser, once the job succeeded."""
    job = await own_job(state, tenant, evaluation_id)
    return HTMLResponse(await reports.report_html(state, job))


@router.get(
    "/{evaluation_id}/compare/{other_id}",
    operation_id="compare_evaluations",
    responses={
        200: {
            "description": "Deltas from this evaluation (A, the baseline) to the other "
            "(B, the candidate); every delta is B - A, null with a reason where undefined.",
            "content": {"application/json": {"example": COMPARISON_EXAMPLE}},
        },
        **problems(
            401,
            409,
            503,
            described={
                404: "Either evaluation does not exist or is another tenant's.",
                422: "Not comparable: evaluations of two different registered datasets, or "
                "reports on different category sets.",
            },
        ),
    },
)
async def compare_evaluations(
    evaluation_id: str, other_id: str, state: StateDep, tenant: TenantDep
) -> Response:
    """What the other evaluation improved or broke relative to this one.

    Per-metric and per-class deltas (AP, AP50, AR100), the classes that changed most,
    and the change in each TIDE error's dAP. Both must have succeeded; two evaluations of
    registered datasets must be of the same dataset.
    """
    a = await own_job(state, tenant, evaluation_id)
    b = await own_job(state, tenant, other_id)
    result = await reports.compare(state, a, b)
    return Response(content=orjson.dumps(result), media_type="application/json")
