"""What people call a run: the name, tags and metadata of an evaluation, the name and
description of a dataset. Checked by the API (:mod:`service.api.labels`), stored in the
records, echoed in statuses, reports, listings and leaderboards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class RunLabels:
    """An evaluation's labels; every one optional.

    Attributes
    ----------
    name : str or None
        The model or run, e.g. ``"yolov8n-epoch30"``.
    tags : tuple of str
        Short labels to filter by, e.g. ``("baseline", "fp16")``.
    metadata : dict
        A small free-form JSON object: commit, epoch, config, ...
    """

    name: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def record_fields(self) -> dict[str, str]:
        """The fields of a job record that hold the labels (strings, as Redis keeps them)."""
        return {
            "name": self.name or "",
            "tags": orjson.dumps(list(self.tags)).decode(),
            "metadata": orjson.dumps(self.metadata).decode(),
        }

    @classmethod
    def from_record(cls, raw: dict[str, str]) -> RunLabels:
        """The labels of a job record (a record written before labels existed has none)."""
        return cls(
            name=raw.get("name") or None,
            tags=tuple(orjson.loads(raw["tags"])) if raw.get("tags") else (),
            metadata=orjson.loads(raw["metadata"]) if raw.get("metadata") else {},
        )
