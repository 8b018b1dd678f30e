"""/v1/datasets: ground truth uploaded once, used by many evaluations; their leaderboard."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from service import reports
from service.api.deps import StateDep, TenantDep
from service.api.schemas import DatasetEvaluation, DatasetSummary
from service.errors import DatasetNotFound
from service.intake import register_dataset
from service.jobs_async import MAX_LISTED
from service.state import AppState
from service.uploads import require_media_type

router = APIRouter(prefix="/datasets", tags=["datasets"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "COCO ground truth: the raw JSON body, or a multipart file field `file`.",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "images": [{"id": 1, "width": 640, "height": 480}],
                    "categories": [{"id": 1, "name": "person"}],
                    "annotations": [
                        {
                            "id": 1,
                            "image_id": 1,
                            "category_id": 1,
                            "bbox": [10, 20, 30, 40],
                            "area": 1200,
                            "iscrowd": 0,
                        }
                    ],
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post("", status_code=201, openapi_extra=_BODY_DOC)
async def create_dataset(request: Request, state: StateDep, tenant: TenantDep) -> DatasetSummary:
    """Upload COCO ground truth; it is validated, stored and given an id."""
    media = require_media_type(request, {"application/json", "multipart/form-data"})
    if media == "application/json":
        upload = await state.receiver.json_body(request, "file")
    else:
        upload = await state.receiver.multipart(request, {"file"}, set())
    try:
        async with state.upload_slots:
            summary = await register_dataset(state, tenant, upload)
    finally:
        upload.discard()
    return DatasetSummary(**summary)


@router.get("/{dataset_id}")
def get_dataset(dataset_id: str, state: StateDep, tenant: TenantDep) -> DatasetSummary:
    """The summary of one of your datasets."""
    summary = state.storage.dataset_summary(tenant, dataset_id)
    if summary is None:
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
    return DatasetSummary(**summary)


async def _own_dataset(state: AppState, tenant: str, dataset_id: str) -> dict[str, Any]:
    summary = await anyio.to_thread.run_sync(state.storage.dataset_summary, tenant, dataset_id)
    if summary is None:  # another tenant's dataset does not exist for you
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
    return summary


LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LISTED, description="At most this many, the newest first.")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such dataset, or another tenant's."}
}


@router.get("/{dataset_id}/evaluations", responses=_NOT_FOUND)
async def list_dataset_evaluations(
    dataset_id: str, state: StateDep, tenant: TenantDep, limit: LimitQuery = 100
) -> list[DatasetEvaluation]:
    """The evaluations submitted against this dataset, newest first, with their metrics."""
    await _own_dataset(state, tenant, dataset_id)
    jobs = await state.jobs.dataset_jobs(tenant, dataset_id, limit)
    return [DatasetEvaluation(**row) for row in await reports.listing(state, jobs)]


@router.get(
    "/{dataset_id}/leaderboard.html",
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
        **_NOT_FOUND,
    },
)
async def get_leaderboard_html(
    dataset_id: str, state: StateDep, tenant: TenantDep, limit: LimitQuery = MAX_LISTED
) -> HTMLResponse:
    """The dataset's page: its evaluations as a leaderboard, best AP first."""
    dataset = await _own_dataset(state, tenant, dataset_id)
    jobs = await state.jobs.dataset_jobs(tenant, dataset_id, limit)
    rows = await reports.listing(state, jobs)
    return HTMLResponse(await reports.leaderboard_html(state, dataset, rows))
