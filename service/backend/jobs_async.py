"""Job records read on the API's event loop: a status poll is one round trip, one string.

The records and their life are in :mod:`service.backend.jobs`. Here a record is read by a Lua
script that returns the whole hash as one JSON string: the client parses one bulk reply
with ``orjson`` instead of thirty RESP items in Python, which halves the client-side
cost of a poll.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis.asyncio

from service.backend.catalog import READY, Dataset, get_datasets
from service.backend.jobs import (
    CLIENT_OPTIONS,
    DELETING,
    Job,
    JobStore,
    dataset_index_key,
    parse_job,
    tag_index_key,
    tenant_datasets_key,
    tenant_index_key,
)
from service.backend.listing import Page, page

# An empty hash (no such job) is nil; otherwise cjson encodes HGETALL's flat
# [field, value, ...] array.
_READ = """
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
return cjson.encode(h)
"""

# ARGV: metrics JSON. Only a succeeded job's report is final, so only it is cached.
_CACHE_METRICS = """
if redis.call('HGET', KEYS[1], 'status') ~= 'succeeded' then return 0 end
return redis.call('HSETNX', KEYS[1], 'metrics', ARGV[1])
"""

MAX_LISTED = 1000
#: Connections per API process. A request holds one for a round trip (well under a
#: millisecond), so a few serve a burst of polls; more would only cost connection set-ups.
MAX_CONNECTIONS = 16


def connect_async(url: str) -> redis.asyncio.Redis:
    """An asyncio Redis client for ``url``, with the timeouts of
    :func:`service.backend.jobs.connect`.

    Its pool holds at most :data:`MAX_CONNECTIONS`; a request that finds them all busy
    waits for one (up to the socket timeout) rather than opening another.
    """
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=CLIENT_OPTIONS["socket_timeout"],
        **CLIENT_OPTIONS,
    )
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_pool(pool)
    return client


@dataclass(frozen=True)
class JobQuery:
    """Filters of an evaluation listing; None: any.

    ``newest`` and ``oldest`` bound the creation time (epoch seconds, inclusive).
    """

    dataset_id: str | None = None
    status: str | None = None
    tag: str | None = None
    name_prefix: str | None = None
    newest: float = math.inf
    oldest: float = -math.inf

    def matches(self, job: Job) -> bool:
        """Whether ``job`` passes the filters (a job being deleted never does)."""
        if job.status == DELETING or self.status is not None and job.status != self.status:
            return False
        if self.tag is not None and self.tag not in job.labels.tags:
            return False
        return self.name_prefix is None or (job.labels.name or "").startswith(self.name_prefix)


@dataclass(frozen=True)
class DatasetQuery:
    """Filters of a dataset listing; see :class:`JobQuery`."""

    name_prefix: str | None = None
    newest: float = math.inf
    oldest: float = -math.inf

    def matches(self, dataset: Dataset) -> bool:
        """Whether ``dataset`` passes the filters (one being deleted never does)."""
        if dataset.status != READY:
            return False
        return self.name_prefix is None or (dataset.name or "").startswith(self.name_prefix)


def _decode(reply: str | None) -> Job | None:
    if reply is None:
        return None
    flat: list[str] = orjson.loads(reply)
    return parse_job(dict(zip(flat[::2], flat[1::2], strict=True)))


class AsyncJobStore:
    """Reads of job records (and the metrics cache) for the API's event loop.

    Parameters
    ----------
    client : redis.asyncio.Redis
        A client with ``decode_responses=True`` (:func:`connect_async`).
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.redis = client
        self._read = client.register_script(_READ)
        self._cache_metrics = client.register_script(_CACHE_METRICS)

    async def get(self, job_id: str) -> Job | None:
        """The job, or None if there is no such record (one round trip)."""
        return _decode(await self._read(keys=[JobStore.key(job_id)]))

    async def get_many(self, job_ids: Sequence[str]) -> list[Job | None]:
        """The jobs of ``job_ids`` in that order, None where missing (one round trip)."""
        if not job_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                await self._read(keys=[JobStore.key(job_id)], client=pipe)
            replies = await pipe.execute()
        return [_decode(reply) for reply in replies]

    async def dataset_jobs(self, tenant: str, dataset_id: str, limit: int) -> list[Job]:
        """The newest ``limit`` evaluations of one of ``tenant``'s datasets, newest first."""
        if not 1 <= limit <= MAX_LISTED:
            raise ValueError(f"limit must be in [1, {MAX_LISTED}], got {limit}")
        key = dataset_index_key(tenant, dataset_id)
        ids = cast(list[str], await self.redis.zrevrange(key, 0, limit - 1))
        jobs = await self.get_many(ids)
        return [
            job
            for job in jobs
            if job is not None and job.tenant == tenant and job.status != DELETING
        ]

    async def list_jobs(
        self, tenant: str, query: JobQuery, limit: int, cursor: str | None
    ) -> Page[Job]:
        """A page of ``tenant``'s evaluations that match ``query``, newest first.

        The index read is the narrowest the query names: the dataset's, else the tag's,
        else the tenant's; the other filters apply to the records read.

        Raises
        ------
        ValueError
            A malformed cursor.
        """
        if query.dataset_id is not None:
            key = dataset_index_key(tenant, query.dataset_id)
        elif query.tag is not None:
            key = tag_index_key(tenant, query.tag)
        else:
            key = tenant_index_key(tenant)
        return await page(
            self.redis,
            key,
            self.get_many,
            lambda job: job.tenant == tenant and query.matches(job),
            limit=limit,
            cursor=cursor,
            newest=query.newest,
            oldest=query.oldest,
        )

    async def list_datasets(
        self, tenant: str, query: DatasetQuery, limit: int, cursor: str | None
    ) -> Page[Dataset]:
        """A page of ``tenant``'s datasets that match ``query``, newest first.

        Raises
        ------
        ValueError
            A malformed cursor.
        """
        return await page(
            self.redis,
            tenant_datasets_key(tenant),
            lambda ids: get_datasets(self.redis, ids),
            lambda dataset: dataset.tenant == tenant and query.matches(dataset),
            limit=limit,
            cursor=cursor,
            newest=query.newest,
            oldest=query.oldest,
        )

    async def dataset(self, dataset_id: str) -> Dataset | None:
        """A dataset's record, or None."""
        return (await get_datasets(self.redis, [dataset_id]))[0]

    async def cache_metrics(self, job_id: str, metrics: Mapping[str, Any]) -> None:
        """Keep a succeeded job's report metrics in its record (first writer wins)."""
        await self._cache_metrics(
            keys=[JobStore.key(job_id)], args=[orjson.dumps(dict(metrics)).decode()]
        )

    async def close(self) -> None:
        await self.redis.aclose()
