"""Service errors that carry their HTTP status, and the one handler that renders them.

Every error response is an RFC 9457 problem-details document
(``application/problem+json``) with ``type``, ``title``, ``status``, ``detail`` and
``instance``, plus the members an error adds (``location`` and ``problem`` for bad input).
Each is counted by its type in the metrics (``deteval_errors_total{source="api"}``) once
it has been sent.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, cast

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.api.security_headers import API_HEADERS
from service.backend import telemetry
from service.backend.jobs import store_cannot_save

PROBLEM_JSON = "application/problem+json"
# Problem types are tag URIs (RFC 4151), which RFC 9457 allows for types that are
# identifiers rather than documentation pages.
TYPE_BASE = "tag:detection-eval,2026:problem/"

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of every error the API answers on purpose.

    Parameters
    ----------
    detail : str
        A sentence for a human: what went wrong and where.
    **extra
        Extra problem-details members (JSON-safe values).
    """

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ServiceError):
    """The HTTP body cannot be read as what its content type says (e.g. broken multipart)."""

    status = 400
    title = "Bad request"
    slug = "bad-request"


class Unauthorized(ServiceError):
    status = 401
    title = "Missing or invalid API key"
    slug = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    slug = "not-found"


class DatasetNotFound(NotFound):
    title = "Dataset not found"
    slug = "dataset-not-found"


class EvaluationNotFound(NotFound):
    title = "Evaluation not found"
    slug = "evaluation-not-found"


class ReportNotReady(ServiceError):
    status = 409
    title = "Report not ready"
    slug = "report-not-ready"


class DatasetInUse(ServiceError):
    """A dataset that evaluations use, asked to be deleted without ``cascade=true``."""

    status = 409
    title = "Dataset in use"
    slug = "dataset-in-use"


class QuotaExceeded(ServiceError):
    """An upload that would take its tenant over its storage quota (DETEVAL_TENANT_QUOTA_MB).

    409 Conflict: the request conflicts with the current state of the tenant's storage,
    and the client resolves it by deleting datasets or evaluations. Not 507, which here
    means the server's disk is short and says to retry later (waiting does not lift a
    quota); not 413, which is about the size of one request (this one may be small); not
    403 or 429, which read as a permission or a rate problem.
    """

    status = 409
    title = "Storage quota exceeded"
    slug = "quota-exceeded"


class NotComparable(ServiceError):
    """Two evaluations whose reports cannot be compared (different datasets or classes)."""

    status = 422
    title = "Evaluations not comparable"
    slug = "not-comparable"


class RequestTimeout(ServiceError):
    """The request body stopped arriving, or arrived too slowly (what was received is gone)."""

    status = 408
    title = "Request body too slow"
    slug = "request-timeout"
    headers = {"Connection": "close"}


class PayloadTooLarge(ServiceError):
    status = 413
    title = "Upload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(ServiceError):
    status = 415
    title = "Unsupported content type"
    slug = "unsupported-media-type"


class InvalidRequest(ServiceError):
    """The request is well-formed HTTP but its form fields are wrong (missing, extra)."""

    status = 422
    title = "Invalid request"
    slug = "invalid-request"


class InvalidInput(ServiceError):
    """An uploaded file fails validation; ``location`` and ``problem`` say where and what."""

    status = 422
    title = "Invalid input"
    slug = "invalid-input"

    def __init__(self, field: str, location: str, problem: str) -> None:
        super().__init__(
            f"{location or field}: {problem}", field=field, location=location, problem=problem
        )


class ServiceUnavailable(ServiceError):
    status = 503
    title = "Service unavailable"
    slug = "unavailable"
    headers = {"Retry-After": "5"}


class WorkPoolLost(ServiceUnavailable):
    """The API's work-pool processes died twice running the same work (see
    :mod:`service.api.workpool`); nothing was accepted, a retry gets a fresh pool."""

    title = "Work pool lost"
    slug = "work-pool-lost"


class UploadsBusy(ServiceUnavailable):
    """This API process already receives as many upload bytes as it may hold at once."""

    title = "Too many uploads in progress"
    slug = "uploads-busy"


class InsufficientStorage(ServiceError):
    """The data directory has no room for an upload (nothing of it was kept)."""

    status = 507
    title = "Insufficient storage"
    slug = "insufficient-storage"
    headers = {"Retry-After": "60"}


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    slug: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render one problem-details response."""
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(
        body,
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
        background=BackgroundTask(_count_error, request, slug),
    )


async def _count_error(request: Request, slug: str) -> None:
    """Count one problem answered, by its type (after the answer went out)."""
    client = request.app.state.deteval.jobs.redis
    try:
        await client.hincrby(*telemetry.counter_field(telemetry.ERRORS_TOTAL, "api", slug), 1)
    except redis.RedisError as exc:  # the job store is down: that 503 goes uncounted
        log.warning("could not count a %s error (%s)", slug, exc)


# Each handler is registered for one exception class only (install_error_handlers), so
# the cast states what Starlette guarantees.
async def _service_error(request: Request, raised: Exception) -> JSONResponse:
    exc = cast(ServiceError, raised)
    return problem_response(
        request, exc.status, exc.title, exc.detail, exc.slug, exc.headers, **exc.extra
    )


def _allowed_methods(request: Request) -> str:
    """The methods of every route on the request's path (Starlette's 405 names only the
    first route's, where a path has one route per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path, not the method
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, raised: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, raised)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(
        request, exc.status_code, title, str(exc.detail), f"http-{exc.status_code}", headers
    )


async def _validation_error(request: Request, raised: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, raised)
    errors = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['problem']}" for e in errors)
    return problem_response(
        request, 422, "Invalid request", detail, "invalid-request", errors=errors
    )


def _unavailable(request: Request, what: str, exc: Exception) -> JSONResponse:
    """503 (retry later) for a backend that cannot be reached: nothing was accepted."""
    log.warning("%s unreachable: %s", what, exc)
    return problem_response(
        request,
        503,
        ServiceUnavailable.title,
        f"the {what} is unreachable; nothing was accepted, retry later",
        ServiceUnavailable.slug,
        ServiceUnavailable.headers,
    )


async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(request, "job store (Redis)", exc)


async def _storage_down(request: Request, exc: Exception) -> JSONResponse:
    # The storages raise the built-in ConnectionError / TimeoutError for an object store
    # that cannot be reached or is overloaded (service.backend.storage.s3.translated).
    return _unavailable(request, "storage (object store)", exc)


async def _redis_error(request: Request, exc: Exception) -> JSONResponse:
    if not store_cannot_save(exc):
        return await _unexpected(request, exc)
    log.warning("job store cannot save: %s", exc)
    return problem_response(
        request,
        InsufficientStorage.status,
        InsufficientStorage.title,
        "the job store cannot save to its disk (it is full); nothing was stored, retry later",
        InsufficientStorage.slug,
        InsufficientStorage.headers,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        500,
        "Internal error",
        f"unexpected {type(exc).__name__}; see the server log",
        "internal",
        # This answer bypasses the SecurityHeaders middleware; and uvicorn closes the
        # connection after it, so say so, or a keep-alive client's next request is reset.
        {**API_HEADERS, "Connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem details."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(redis.ConnectionError, _redis_down)
    app.add_exception_handler(redis.TimeoutError, _redis_down)
    app.add_exception_handler(redis.ResponseError, _redis_error)
    app.add_exception_handler(ConnectionError, _storage_down)
    app.add_exception_handler(TimeoutError, _storage_down)
    app.add_exception_handler(Exception, _unexpected)
