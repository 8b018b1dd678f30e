"""/v1/datasets: ground truth uploaded once, used by many evaluations; their leaderboard."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from service.api import labels, listings, reports
from service.api.deps import StateDep, TenantDep
from service.api.errors import DatasetInUse, DatasetNotFound
from service.api.intake import register_dataset
from service.api.listings import (
    CreatedAfterQuery,
    CreatedBeforeQuery,
    CursorQuery,
    NamePrefixQuery,
    link_next,
    time_range,
)
from service.api.openapi_docs import DATASET_BODY, DATASET_LINKS
from service.api.problems import QUOTA_409, problems
from service.api.reports import own_dataset
from service.api.schemas import DatasetEvaluation, DatasetPage, DatasetSummary
from service.api.uploads import require_media_type
from service.backend.jobs_async import MAX_LISTED, DatasetQuery
from service.backend.storage import is_valid_id

router = APIRouter(prefix="/datasets", tags=["datasets"])

NameQuery = Annotated[
    str | None,
    Query(
        description=f"A name for the dataset (at most {labels.MAX_NAME_CHARS} characters); "
        "or the multipart form field `name`.",
        examples=["coco-val2017"],
    ),
]
DescriptionQuery = Annotated[
    str | None,
    Query(
        description=f"What it is (at most {labels.MAX_DESCRIPTION_CHARS} characters); or the "
        "multipart form field `description`.",
        examples=["COCO 2017 validation, 5k images"],
    ),
]


@router.post(
    "",
    status_code=201,
    operation_id="create_dataset",
    openapi_extra=DATASET_BODY,
    responses={
        201: {"description": "Registered.", "links": DATASET_LINKS},
        **problems(400, 401, 413, 415, 422, 503, 507, described=QUOTA_409),
    },
)
async def create_dataset(
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    name: NameQuery = None,
    description: DescriptionQuery = None,
) -> DatasetSummary:
    """Upload COCO ground truth; it is validated, stored and given an id.

    Its ``name`` and ``description`` are query parameters (any body) or form fields (a
    multipart body).
    """
    media = require_media_type(request, {"application/json", "multipart/form-data"})
    if media == "application/json":
        upload = await state.receiver.json_body(request, "file")
    else:
        upload = await state.receiver.multipart(request, {"file"}, {"name", "description"})
    try:
        async with state.upload_slots:
            summary = await register_dataset(state, tenant, upload, name, description)
    finally:
        upload.discard()
    return DatasetSummary(**summary)


_NOT_FOUND = {404: "No such dataset, or another tenant's."}


@router.get(
    "",
    operation_id="list_datasets",
    responses={
        200: {
            "description": "A page of your datasets; the next page's URL is also in the "
            'Link header (rel="next").',
        },
        **problems(401, 422, 503),
    },
)
async def list_datasets(
    request: Request,
    response: Response,
    state: StateDep,
    tenant: TenantDep,
    name_prefix: NamePrefixQuery = None,
    created_after: CreatedAfterQuery = None,
    created_before: CreatedBeforeQuery = None,
    limit: listings.LimitQuery = 50,
    cursor: CursorQuery = None,
) -> DatasetPage:
    """Your datasets, newest first, filtered by name prefix and creation time; ``limit``
    per page, then ``cursor=next_cursor`` for the next."""
    newest, oldest = time_range(created_after, created_before)
    query = DatasetQuery(name_prefix, newest, oldest)
    found = await state.jobs.list_datasets(tenant, query, limit, cursor)
    link_next(request, response, found.next_cursor)
    return DatasetPage(
        items=[DatasetSummary(**dataset.summary) for dataset in found.items],
        next_cursor=found.next_cursor,
    )


@router.get(
    "/{dataset_id}",
    operation_id="get_dataset",
    responses={200: {"links": DATASET_LINKS}, **problems(401, described=_NOT_FOUND)},
)
async def get_dataset(dataset_id: str, state: StateDep, tenant: TenantDep) -> DatasetSummary:
    """The summary of one of your datasets."""
    summary = await own_dataset(state, tenant, dataset_id)
    return DatasetSummary(**summary)


LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LISTED, description="At most this many, the newest first.")
]
_LISTING_ERRORS = problems(401, 422, 503, described=_NOT_FOUND)


@router.get(
    "/{dataset_id}/evaluations",
    operation_id="list_dataset_evaluations",
    responses=_LISTING_ERRORS,
)
async def list_dataset_evaluations(
    dataset_id: str, state: StateDep, tenant: TenantDep, limit: LimitQuery = 100
) -> list[DatasetEvaluation]:
    """The evaluations submitted against this dataset, newest first, with their metrics."""
    await own_dataset(state, tenant, dataset_id)
    jobs = await state.jobs.dataset_jobs(tenant, dataset_id, limit)
    return [DatasetEvaluation(**row) for row in await reports.listing(state, jobs)]


@router.get(
    "/{dataset_id}/leaderboard.html",
    operation_id="get_leaderboard_html",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "A self-contained page ranking the evaluations by AP (sortable by "
            "any metric); each finished one links to its report page.",
            "content": {
                "text/html": {
                    "example": "<!DOCTYPE html><html><head><title>Leaderboard: dataset "
                    "3f1c...</title>...</head><body>...</body></html>"
                }
            },
        },
        **_LISTING_ERRORS,
    },
)
async def get_leaderboard_html(
    dataset_id: str, state: StateDep, tenant: TenantDep, limit: LimitQuery = MAX_LISTED
) -> HTMLResponse:
    """The dataset's page: its evaluations as a leaderboard, best AP first."""
    return HTMLResponse(await reports.dataset_leaderboard_html(state, tenant, dataset_id, limit))


@router.delete(
    "/{dataset_id}",
    status_code=204,
    operation_id="delete_dataset",
    responses={
        204: {"description": "Deleted (with its evaluations, if cascade=true); 404 after."},
        **problems(
            401,
            422,
            503,
            described={
                **_NOT_FOUND,
                409: "Evaluations use it: delete them first, or ask for cascade=true.",
            },
        ),
    },
)
async def delete_dataset(
    dataset_id: str,
    state: StateDep,
    tenant: TenantDep,
    cascade: Annotated[bool, Query(description="Also delete the evaluations that use it.")] = False,
) -> Response:
    """Delete a dataset: its ground truth and record. Refused (409) while evaluations use
    it, unless ``cascade=true``, which deletes them too (running ones are cancelled)."""
    outcome = "missing"
    if is_valid_id(dataset_id):
        outcome = await anyio.to_thread.run_sync(
            state.deleter.delete_dataset, tenant, dataset_id, cascade
        )
    if outcome == "missing":
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
    if outcome == "in_use":
        using = await anyio.to_thread.run_sync(state.deleter.evaluations_of, tenant, dataset_id)
        raise DatasetInUse(
            f"dataset {dataset_id} is used by evaluations (e.g. {', '.join(using)}); delete "
            f"them first, or DELETE /v1/datasets/{dataset_id}?cascade=true to delete it "
            "with them",
            evaluations=using,
        )
    return Response(status_code=204)
