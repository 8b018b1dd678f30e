"""Response bodies of the HTTP API (they also document it at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DatasetSummary(BaseModel):
    """A registered ground-truth dataset."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "3f1c9a0e6b2d4c8fa1e07d5b9c2e4f60",
                "n_images": 100,
                "n_annotations": 839,
                "n_categories": 80,
                "warnings": [],
                "created_at": "2026-11-28T09:30:00.000+00:00",
            }
        }
    )

    id: str
    n_images: int
    n_annotations: int
    n_categories: int
    warnings: list[str] = Field(description="Valid but suspicious input found while loading.")
    created_at: str


class JobError(BaseModel):
    """Why an evaluation failed."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="invalid_input, attempts_exhausted, time_limit, internal, ...")
    detail: str


class EvaluationStatus(BaseModel):
    """The state of one evaluation job."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
                "status": "running",
                "progress": 0.4,
                "error": None,
                "attempts": 1,
                "dataset_id": "3f1c9a0e6b2d4c8fa1e07d5b9c2e4f60",
                "created_at": "2026-11-28T09:31:00.000Z",
                "started_at": "2026-11-28T09:31:00.120Z",
                "finished_at": None,
                "warnings": [],
            }
        }
    )

    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1)
    error: JobError | None
    attempts: int = Field(description="Worker starts so far (a lost worker's job is retried).")
    dataset_id: str | None = Field(description="None when the ground truth was sent inline.")
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    warnings: list[str] | None = Field(
        default=None, description="Only in the submit answer: warnings about the predictions."
    )


class Health(BaseModel):
    """Liveness of the API and whether what it needs answers."""

    status: Literal["ok", "degraded"]
    store: bool = Field(description="The job store (Redis) answers.")
    broker: bool = Field(description="The Celery broker accepts a connection.")
    storage: bool = Field(description="The data directory is writable.")
