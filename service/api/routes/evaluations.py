"""/v1/evaluations: submit predictions, poll the job, fetch the report."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request, Response

from service.api.deps import StateDep, TenantDep
from service.api.schemas import EvaluationStatus
from service.errors import EvaluationNotFound, ReportNotReady
from service.intake import submit_evaluation
from service.jobs import FAILED, SUCCEEDED, Job, get_job_async
from service.state import AppState
from service.storage import is_valid_id
from service.uploads import receive_multipart

router = APIRouter(prefix="/evaluations", tags=["evaluations"])

_FORM_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "dataset_id": {"type": "string", "description": "A dataset's id."},
                        "ground_truth": {
                            "type": "string",
                            "format": "binary",
                            "description": "COCO ground truth, instead of dataset_id.",
                        },
                        "predictions": {
                            "type": "string",
                            "format": "binary",
                            "description": "COCO results: a list of {image_id, category_id, "
                            "bbox, score}.",
                        },
                    },
                    "required": ["predictions"],
                }
            }
        },
    }
}


async def _own_job(state: AppState, tenant: str, evaluation_id: str) -> Job:
    job = None
    if is_valid_id(evaluation_id):
        job = await get_job_async(state.async_redis, evaluation_id)
    if job is None or job.tenant != tenant:  # another tenant's job does not exist for you
        raise EvaluationNotFound(f"no evaluation with id {evaluation_id!r}")
    return job


@router.post("", status_code=202, openapi_extra=_FORM_DOC)
async def create_evaluation(
    request: Request, response: Response, state: StateDep, tenant: TenantDep
) -> EvaluationStatus:
    """Submit predictions against a dataset (or inline ground truth); scored asynchronously.

    Answers at once with the queued job and its URL in ``Location``.
    """
    upload = await receive_multipart(
        request,
        state.storage,
        state.settings.max_upload_bytes,
        file_fields={"predictions", "ground_truth"},
        text_fields={"dataset_id"},
    )
    try:
        job, warnings = await submit_evaluation(state, tenant, upload)
    finally:
        upload.discard()
    response.headers["Location"] = f"/v1/evaluations/{job.id}"
    return EvaluationStatus(**job.public(), warnings=warnings)


@router.get("/{evaluation_id}")
async def get_evaluation(
    evaluation_id: str, state: StateDep, tenant: TenantDep
) -> EvaluationStatus:
    """The job's status, progress, and error if it failed."""
    return EvaluationStatus(**(await _own_job(state, tenant, evaluation_id)).public())


@router.get(
    "/{evaluation_id}/report",
    responses={
        200: {"content": {"application/json": {}}, "description": "The report JSON."},
        409: {"description": "Not finished, or failed."},
    },
)
async def get_report(evaluation_id: str, state: StateDep, tenant: TenantDep) -> Response:
    """The score report (DESIGN.md's report JSON) once the job succeeded."""
    job = await _own_job(state, tenant, evaluation_id)
    if job.status == FAILED:
        detail = job.error["detail"] if job.error else "unknown reason"
        raise ReportNotReady(f"evaluation failed, no report: {detail}", job_status=job.status)
    if job.status != SUCCEEDED:
        raise ReportNotReady(
            f"evaluation is {job.status} ({job.progress:.0%}); poll /v1/evaluations/{job.id}",
            job_status=job.status,
        )
    data = await anyio.Path(state.storage.report_path(tenant, job.id)).read_bytes()
    return Response(content=data, media_type="application/json")
