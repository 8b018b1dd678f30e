"""Response bodies of the HTTP API (they also document it at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_DATASET_EXAMPLE: dict[str, Any] = {
    "id": "3f1c9a0e6b2d4c8fa1e07d5b9c2e4f60",
    "name": "coco-val2017-subset",
    "description": "100 images of COCO val2017",
    "n_images": 100,
    "n_annotations": 839,
    "n_categories": 80,
    "warnings": [],
    "created_at": "2026-11-28T09:30:00.000+00:00",
}
_STATUS_EXAMPLE: dict[str, Any] = {
    "id": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
    "name": "yolov8n",
    "tags": ["baseline", "fp16"],
    "metadata": {"commit": "4f2a9c1", "epoch": 30},
    "status": "running",
    "progress": 0.4,
    "error": None,
    "attempts": 1,
    "dataset_id": "3f1c9a0e6b2d4c8fa1e07d5b9c2e4f60",
    "iou_type": "bbox",
    "created_at": "2026-11-28T09:31:00.000Z",
    "started_at": "2026-11-28T09:31:00.120Z",
    "finished_at": None,
    "warnings": [],
}


class DatasetSummary(BaseModel):
    """A registered ground-truth dataset."""

    model_config = ConfigDict(json_schema_extra={"example": _DATASET_EXAMPLE})

    id: str
    name: str | None = Field(default=None, description="Its name, if given.")
    description: str | None = Field(default=None, description="What it is, if given.")
    n_images: int
    n_annotations: int
    n_categories: int
    warnings: list[str] = Field(description="Valid but suspicious input found while loading.")
    created_at: str


class JobError(BaseModel):
    """Why an evaluation failed (or, code ``retrying``, why it is being tried again)."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(
        description="invalid_input, attempts_exhausted, time_limit, transient, internal; "
        "retrying while the job waits for another try"
    )
    detail: str


class EvaluationStatus(BaseModel):
    """The state of one evaluation job."""

    model_config = ConfigDict(json_schema_extra={"example": _STATUS_EXAMPLE})

    id: str
    name: str | None = Field(description="The run's name (the model), if given.")
    tags: list[str] = Field(description="Its tags; [] when none were given.")
    metadata: dict[str, Any] = Field(
        description="Its free-form metadata (commit, epoch, config); {} when none was given."
    )
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1)
    error: JobError | None = Field(
        description="Why the job failed; while it is retried after a transient error "
        "(code 'retrying'), that error. Cleared when it succeeds."
    )
    attempts: int = Field(description="Worker starts so far (a lost worker's job is retried).")
    dataset_id: str | None = Field(description="None when the ground truth was sent inline.")
    iou_type: Literal["bbox", "segm", "keypoints"] = Field(
        description="What the evaluation compares: boxes, masks or keypoints."
    )
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    warnings: list[str] = Field(
        description="What was suspicious (valid but odd) in the predictions when they were "
        "accepted; [] when nothing was."
    )


class WorkPoolHealth(BaseModel):
    """The processes of one API process that check uploads and render pages."""

    ok: bool = Field(description="False after work was lost twice in a row, until a run succeeds.")
    processes: int = Field(description="Pool size.")
    rebuilds: int = Field(description="Times the pool was replaced after a process died.")


class Health(BaseModel):
    """Liveness of the API and whether what it needs answers."""

    status: Literal["ok", "degraded"]
    store: bool = Field(description="The job store (Redis) answers.")
    broker: bool = Field(description="The Celery broker accepts a connection.")
    storage: bool = Field(
        description="The storage takes writes (the data directory, or the object store's "
        "bucket with DETEVAL_STORAGE=s3) and the data directory has at least the reserve "
        "(DETEVAL_MIN_FREE_MB) free."
    )
    storage_free_bytes: int = Field(description="Bytes free in the data directory.")
    workers: int = Field(
        description="Workers that beat within the last seconds; none: evaluations wait."
    )
    work_pool: WorkPoolHealth = Field(description="This API process' work pool.")


_METRICS_EXAMPLE: dict[str, Any] = {
    "AP": 0.505,
    "AP50": 0.697,
    "AP75": 0.573,
    "APs": 0.586,
    "APm": 0.519,
    "APl": 0.501,
    "AR1": 0.387,
    "AR10": 0.594,
    "AR100": 0.595,
    "ARs": 0.640,
    "ARm": 0.566,
    "ARl": 0.564,
}


class DatasetEvaluation(BaseModel):
    """One evaluation of a dataset, as its listing shows it."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
                "name": "yolov8n",
                "tags": ["baseline"],
                "status": "succeeded",
                "progress": 1.0,
                "created_at": "2026-11-28T09:31:00.000Z",
                "finished_at": "2026-11-28T09:31:02.480Z",
                "metrics": _METRICS_EXAMPLE,
            }
        }
    )

    id: str
    name: str | None = Field(description="The run's name, if given.")
    tags: list[str]
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1)
    created_at: str | None
    finished_at: str | None
    metrics: dict[str, float | None] | None = Field(
        description="The report's 12 COCO metrics (null where undefined) once the "
        "evaluation succeeded; null before, or if it failed."
    )


def _pair(a: float | None, b: float | None) -> dict:
    return {"a": a, "b": b, "delta": None if a is None or b is None else round(b - a, 3)}


#: An abridged answer of GET /v1/evaluations/{id}/compare/{other}, for the docs.
COMPARISON_EXAMPLE = {
    "evaluations": {
        "a": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
        "b": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    },
    "names": {"a": "yolov8n", "b": "yolov8s"},
    "delta": "b - a",
    "metrics": {
        "AP": _pair(0.505, 0.562),
        "AP50": _pair(0.697, 0.741),
        "APs": {"a": None, "b": 0.12, "delta": None, "undefined_reason": "undefined in A"},
    },
    "per_class": [
        {
            "category_id": 1,
            "name": "person",
            "n_gt": 273,
            "AP": _pair(0.482, 0.553),
            "AP50": _pair(0.701, 0.760),
            "AR100": _pair(0.590, 0.641),
        }
    ],
    "most_improved": [{"category_id": 1, "name": "person", **_pair(0.482, 0.553)}],
    "most_regressed": [{"category_id": 18, "name": "dog", **_pair(0.655, 0.610)}],
    "counts": {"improved": 41, "regressed": 12, "unchanged": 17, "undefined": 10},
    "errors": {"localization": _pair(0.061, 0.048), "background": _pair(0.035, 0.041)},
    "warnings": [],
}


class EvaluationPage(BaseModel):
    """A page of evaluations, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [_STATUS_EXAMPLE],
                "next_cursor": "1764671460.12~9b8e7d6c5b4a39281706f5e4d3c2b1a0",
            }
        }
    )

    items: list[EvaluationStatus]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class DatasetPage(BaseModel):
    """A page of datasets, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [_DATASET_EXAMPLE],
                "next_cursor": None,
            }
        }
    )

    items: list[DatasetSummary]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )
