"""Checking the labels people give runs: located 422s for what is too long or malformed.

Limits keep the labels what they are for (names in a table, tags to filter by, a few
facts about a run), not a place to store files.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson

from evaluator.input.loading import IouType
from evaluator.metrics.params import IOU_TYPES
from service.api.errors import InvalidInput
from service.backend.labels import RunLabels

MAX_NAME_CHARS = 128
MAX_DESCRIPTION_CHARS = 2000
MAX_TAGS = 20
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/+=-]{0,39}$")
MAX_METADATA_BYTES = 4096
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}
_JSON_TYPES |= {bool: "true or false", type(None): "null"}
#: Form text fields of POST /v1/evaluations and /v1/datasets hold at most this many
#: bytes (the largest label, a description of 2000 characters of up to 4 UTF-8 bytes).
MAX_LABEL_FIELD_BYTES = 4 * MAX_DESCRIPTION_CHARS


def _text(field: str, value: str | None, limit: int, newlines: bool = False) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(field, field, f"{len(value)} characters, at most {limit} allowed")
    allowed = {"\n", "\t"} if newlines else set()
    for i, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cs") and char not in allowed:
            raise InvalidInput(field, field, f"control character {char!r} at character {i}")
    return value


def iou_type(value: str | None) -> IouType:
    """The evaluation type of a form field: ``bbox`` (also when absent), ``segm`` or
    ``keypoints``."""
    if value is None or not value.strip():
        return "bbox"
    chosen = value.strip()
    if chosen not in IOU_TYPES:
        raise InvalidInput(
            "iou_type", "iou_type", f"expected one of {', '.join(IOU_TYPES)}, got {chosen!r}"
        )
    return chosen


def name(value: str | None) -> str | None:
    """A checked run or dataset name (None when absent or blank)."""
    return _text("name", value, MAX_NAME_CHARS)


def description(value: str | None) -> str | None:
    """A checked dataset description (None when absent or blank; may span lines)."""
    return _text("description", value, MAX_DESCRIPTION_CHARS, newlines=True)


def tags(value: str | None) -> tuple[str, ...]:
    """Checked tags from a comma-separated list (``"baseline,fp16"``), repeats dropped."""
    if value is None or not value.strip():
        return ()
    found: list[str] = []
    for i, tag in enumerate(t.strip() for t in value.split(",")):
        if not TAG_PATTERN.match(tag):
            raise InvalidInput(
                "tags",
                f"tags[{i}]",
                f"{tag[:50]!r} is not a tag: 1-40 letters, digits or _ . : / + = -, "
                "starting with a letter or digit",
            )
        if tag not in found:
            found.append(tag)
    if len(found) > MAX_TAGS:
        raise InvalidInput("tags", "tags", f"{len(found)} tags, at most {MAX_TAGS} allowed")
    return tuple(found)


def metadata(value: str | None) -> dict[str, Any]:
    """A checked metadata object from its JSON text (``{}`` when absent)."""
    if value is None or not value.strip():
        return {}
    size = len(value.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(
            "metadata", "metadata", f"{size} bytes of JSON, at most {MAX_METADATA_BYTES} allowed"
        )
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("metadata", "metadata", f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(
            "metadata", "metadata", f"must be a JSON object, got {_JSON_TYPES[type(parsed)]}"
        )
    return parsed


def run_labels(fields: dict[str, str]) -> RunLabels:
    """The checked labels of an evaluation from its form fields ``name``, ``tags``,
    ``metadata`` (each optional)."""
    return RunLabels(
        name=name(fields.get("name")),
        tags=tags(fields.get("tags")),
        metadata=metadata(fields.get("metadata")),
    )
