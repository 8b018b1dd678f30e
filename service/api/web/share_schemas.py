"""Bodies of /v1/shares: what a share link is asked for, and what it is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SHARE_EXAMPLE: dict[str, Any] = {
    "id": "5c0d6f1e2a3b4c5d6e7f8091a2b3c4d5",
    "kind": "report",
    "resource_id": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
    "path": "/s/eyJzIjoiNWMwZDZmMWUyYTNiNGM1ZDZlN2Y4MDkxYTJiM2M0ZDUiLCJleHAiOjE3NjUyNzcyMDB9.Xq3v",
    "created_at": "2026-12-02T15:00:00+00:00",
    "expires_at": "2026-12-09T15:00:00+00:00",
}


class ShareRequest(BaseModel):
    """A share link asked for: of one evaluation's report or one dataset's leaderboard."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "kind": "report",
                "resource_id": "9b8e7d6c5b4a39281706f5e4d3c2b1a0",
                "expires_in_days": 7,
            }
        },
    )

    kind: Literal["report", "leaderboard"] = Field(
        description="report: an evaluation's report page; leaderboard: a dataset's "
        "leaderboard, with the report pages of its evaluations."
    )
    resource_id: str = Field(
        description="The evaluation's id (report) or the dataset's id (leaderboard).",
        max_length=64,
    )
    expires_in_days: float | None = Field(
        default=None,
        gt=0,
        description="How long the link works, at most DETEVAL_SHARE_MAX_DAYS (30 by "
        "default); absent: 7 days, or that limit if it is shorter.",
        examples=[7],
    )


class ShareInfo(BaseModel):
    """A live share link."""

    model_config = ConfigDict(json_schema_extra={"example": SHARE_EXAMPLE})

    id: str = Field(description="Its id, to revoke it (DELETE /v1/shares/{id}).")
    kind: Literal["report", "leaderboard"]
    resource_id: str = Field(description="The evaluation or dataset it shows.")
    path: str = Field(
        description="The link, relative to the service's address (e.g. "
        "http://127.0.0.1:8000/s/...): whoever opens it needs no key and no sign-in."
    )
    created_at: str
    expires_at: str = Field(description="After this time the link answers 410.")


class ShareList(BaseModel):
    """Your live share links, the newest first."""

    model_config = ConfigDict(json_schema_extra={"example": {"items": [SHARE_EXAMPLE]}})

    items: list[ShareInfo]
