"""How the OpenAPI document describes error answers: RFC 9457 problem details.

Every error is rendered by :mod:`service.api.errors` as ``application/problem+json``; the
routes list the statuses they can answer with :func:`problems`, and
:func:`install_problem_docs` adds the body's schema (``Problem``) to the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from service.api.errors import PROBLEM_JSON

_LOCATED = {
    "type": "object",
    "required": ["location", "problem"],
    "properties": {"location": {"type": "string"}, "problem": {"type": "string"}},
}
#: The JSON Schema of every error body.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem-details document. Errors about input add where "
    "(location) and what (problem); an error may add other members.",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "A tag URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "detail": {"type": "string", "description": "What went wrong and where."},
        "instance": {"type": "string", "description": "The path of the request."},
        "field": {"type": "string", "description": "The upload that was refused."},
        "location": {"type": "string", "description": "Where in it, e.g. annotations[3].bbox."},
        "problem": {"type": "string", "description": "What is wrong there."},
        "errors": {"type": "array", "items": _LOCATED, "description": "Each bad parameter."},
        "limit_bytes": {"type": "integer", "description": "The upload size limit."},
        "evaluations": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Evaluations that use the dataset (409 on deleting it).",
        },
        "quota_bytes": {"type": "integer", "description": "The tenant's storage quota."},
        "used_bytes": {"type": "integer", "description": "What the tenant's data takes."},
        "upload_bytes": {"type": "integer", "description": "What the refused upload needed."},
        "accepted": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The content types this operation reads (415).",
        },
    },
    "example": {
        "type": "tag:detection-eval,2026:problem/invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "predictions[17].bbox: expected 4 numbers, got 3",
        "instance": "/v1/evaluations",
        "field": "predictions",
        "location": "predictions[17].bbox",
        "problem": "expected 4 numbers, got 3",
    },
}

_DESCRIPTIONS = {
    400: "The body cannot be read as its content type says (e.g. a broken multipart body).",
    401: "Missing, malformed or unknown API key; or a session cookie that is expired, or "
    "that sends a change without its X-CSRF-Token header.",
    404: "Not found, or another tenant's.",
    409: "Not finished, or failed: no report (the detail says which).",
    413: "The upload is larger than the service's limit (limit_bytes).",
    415: "A content type this operation does not read; accepted lists those it reads, "
    "and the detail says how to send one with curl.",
    422: "Invalid request or input; location and problem say where and what.",
    503: "The job store or a process the API needs is unavailable; nothing was accepted. "
    "Retry after Retry-After seconds.",
    507: "Not enough free space to store the upload; nothing was accepted. Retry later.",
}
#: The 409 of an upload over the tenant's quota (see ``errors.QuotaExceeded`` for why 409).
QUOTA_409 = {
    409: "The upload would take your storage over your quota (DETEVAL_TENANT_QUOTA_MB); "
    "nothing was stored. Delete datasets or evaluations, then retry."
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
}


def problems(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route's error statuses.

    Parameters
    ----------
    *statuses : int
        Statuses answered with the general description.
    described : mapping of int to str, optional
        Statuses with a description of this route's own.
    """
    wanted = {status: _DESCRIPTIONS[status] for status in statuses} | dict(described or {})
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[int | str, dict[str, Any]] = {}
    for status, description in sorted(wanted.items()):
        responses[status] = {"description": description, "content": content}
        if status in _HEADERS:
            responses[status]["headers"] = _HEADERS[status]
    return responses


def _problem_422(document: dict[str, Any]) -> None:
    """Document FastAPI's own 422 (a bad parameter) as the problem its handler renders."""
    derived = "#/components/schemas/HTTPValidationError"
    for item in document.get("paths", {}).values():
        for operation in item.values():
            answer = operation.get("responses", {}).get("422", {})
            if (
                answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                == derived
            ):
                operation["responses"]["422"] = problems(422)[422]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def install_problem_docs(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document describe every error as a ``Problem``.

    Adds :data:`PROBLEM_SCHEMA` to the components, and replaces the 422 that FastAPI
    documents on every route with parameters (as ``application/json``) by the problem
    :mod:`service.api.errors` answers.
    """
    derive: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = derive()
        if first:
            _problem_422(document)
            document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
        return document

    app.openapi = openapi  # type: ignore[method-assign]
