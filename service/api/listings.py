"""Query parameters and answers shared by the listings (GET /v1/datasets, /v1/evaluations):
time range, page size, cursor, and the ``Link`` header of the next page."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from fastapi import Query, Request, Response

from service.api.errors import InvalidInput
from service.backend.listing import CURSOR_PATTERN

MAX_PAGE = 200

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"At most this many (1-{MAX_PAGE}), newest first.")
]
CursorQuery = Annotated[
    str | None,
    Query(
        description="next_cursor of the page before, passed as given; absent: the first page.",
        pattern=CURSOR_PATTERN,
    ),
]
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
CreatedAfterQuery = Annotated[
    str | None,
    Query(
        description="Only those created at or after this time (ISO 8601 date and time; UTC "
        "if no offset).",
        pattern=_TIME,
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-28T00:00:00Z"],
    ),
]
CreatedBeforeQuery = Annotated[
    str | None,
    Query(
        description="Only those created at or before this time (ISO 8601 date and time; a "
        "created_at as shown includes its resource).",
        pattern=_TIME,
        json_schema_extra={"format": "date-time"},
        examples=["2026-12-31T23:59:59Z"],
    ),
]
NamePrefixQuery = Annotated[
    str | None,
    Query(description="Only those whose name starts with this.", max_length=128),
]


def epoch(name: str, text: str | None, default: float) -> float:
    """The time ``text`` (query parameter ``name``) in epoch seconds (no offset: UTC), or
    ``default`` when None; a located 422 when it is not an ISO 8601 date and time."""
    if text is None:
        return default
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            name, f"query.{name}", f"{text[:40]!r} is not an ISO 8601 date and time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


#: Creation times are shown to the millisecond (truncated) and recorded to the microsecond.
_SHOWN_RESOLUTION = 0.001
_RECORDED_RESOLUTION = 1e-6


def time_range(after: str | None, before: str | None) -> tuple[float, float]:
    """(newest, oldest) creation times of a listing's range, epoch seconds.

    ``before`` takes in its whole millisecond, so that a ``created_at`` as shown, given
    as either bound, includes the resource it was read from.
    """
    newest = epoch("created_before", before, math.inf) + _SHOWN_RESOLUTION
    return newest - _RECORDED_RESOLUTION, epoch("created_after", after, -math.inf)


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Add the ``Link: <...>; rel="next"`` header of the next page, if there is one."""
    if next_cursor is None:
        return
    url = request.url.include_query_params(cursor=next_cursor)
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
