"""/v1/datasets: ground truth uploaded once, used by many evaluations."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.api.deps import StateDep, TenantDep
from service.api.schemas import DatasetSummary
from service.errors import DatasetNotFound
from service.intake import register_dataset
from service.uploads import receive_json_body, receive_multipart, require_media_type

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
    limit = state.settings.max_upload_bytes
    if media == "application/json":
        upload = await receive_json_body(request, state.storage, limit, "file")
    else:
        upload = await receive_multipart(request, state.storage, limit, {"file"}, set())
    try:
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
