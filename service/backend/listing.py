"""Pages of a time-ordered index, newest first, with opaque cursors.

Every listing reads one sorted set whose scores are creation times (a tenant's
evaluations, a tag's, a dataset's, a tenant's datasets): a page is a range of it by
score, never a scan of the key space. Filters the index cannot answer (status, name
prefix) are applied to the records read; a page reads at most ``max_scan`` index
entries, so a rare filter value costs bounded work per request and answers a short page
with a cursor to go on from.

A cursor is the (score, id) of the last entry examined (clients pass it back as given):
entries with equal scores are ordered by id (as Redis orders them), so a page never
repeats or skips one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import redis.asyncio

T = TypeVar("T")

#: Index entries read per round trip.
BATCH = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: the items, and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None


#: A cursor: the creation time (epoch seconds, as Python writes the float) and the id.
CURSOR_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,17})?~[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(score: float, member: str) -> str:
    """The cursor after the index entry (``score``, ``member``)."""
    return f"{score!r}~{member}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The (score, member) of a cursor.

    Raises
    ------
    ValueError
        ``cursor`` does not have the shape :func:`encode_cursor` gives.
    """
    if not _CURSOR.match(cursor):
        raise ValueError("not a cursor of this listing; pass next_cursor as given")
    score, member = cursor.split("~")
    return float(score), member


async def page(
    client: redis.asyncio.Redis,
    key: str,
    fetch: Callable[[Sequence[str]], Awaitable[Sequence[T | None]]],
    keep: Callable[[T], bool],
    *,
    limit: int,
    cursor: str | None = None,
    newest: float = math.inf,
    oldest: float = -math.inf,
    max_scan: int = 2000,
) -> Page[T]:
    """The next page of the index ``key``, newest first.

    Parameters
    ----------
    client : redis.asyncio.Redis
    key : str
        A sorted set of ids scored by creation time.
    fetch : callable
        The records of a list of ids, None where missing.
    keep : callable
        Whether a record belongs in the listing (the filters the index cannot apply).
    limit : int
        At most this many items.
    cursor : str, optional
        ``next_cursor`` of the page before.
    newest, oldest : float
        Only entries scored in ``[oldest, newest]`` (creation times, epoch seconds).
    max_scan : int
        At most this many index entries are read for one page.

    Raises
    ------
    ValueError
        A malformed cursor.
    """
    after = decode_cursor(cursor) if cursor is not None else None
    top = min(newest, after[0]) if after is not None else newest
    items: list[T] = []
    offset = scanned = 0
    last: tuple[float, str] | None = None
    while scanned < max_scan:
        entries = cast(
            list[tuple[str, float]],
            await client.zrevrangebyscore(
                key, top, oldest, start=offset, num=BATCH, withscores=True
            ),
        )
        offset += len(entries)
        exhausted = len(entries) < BATCH
        if after is not None:  # equal scores: Redis lists higher ids first
            entries = [(m, s) for m, s in entries if not (s == after[0] and m >= after[1])]
        if len(entries) > max_scan - scanned:
            entries, exhausted = entries[: max_scan - scanned], False
        records = await fetch([member for member, _ in entries])
        for (member, score), record in zip(entries, records, strict=True):
            scanned += 1
            last = (score, member)
            if record is not None and keep(record):
                items.append(record)
                if len(items) == limit:
                    return Page(items, encode_cursor(score, member))
        if exhausted:
            return Page(items, None)
    return Page(items, None if last is None else encode_cursor(*last))
