"""Dataset records in Redis, for listing and deleting a tenant's datasets.

A registered dataset's files are in :mod:`service.backend.storage`; its record is the
hash ``deteval:ds:<id>`` (tenant, name, the summary as JSON, creation time, bytes stored,
status ``ready`` or ``deleting``), and its id is in the tenant's sorted set
``deteval:tenant:<tenant>:datasets`` scored by creation time. A dataset uploaded before
records existed has files only: it can be read and used, not listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis
import redis.asyncio

from service.backend.jobs import dataset_record_key, tenant_datasets_key, usage_key

READY, DELETING = "ready", "deleting"

# KEYS: record, tenant's datasets, tenant's usage. ARGV: id, tenant, name, summary JSON,
# creation time, bytes, the tenant's quota in bytes (0: none). -1: over the quota.
_CREATE = """
local quota = tonumber(ARGV[7])
if quota > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(ARGV[6]) > quota then
  return -1
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'tenant', ARGV[2], 'name', ARGV[3],
  'summary', ARGV[4], 'created_at', ARGV[5], 'bytes', ARGV[6], 'status', 'ready')
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('INCRBY', KEYS[3], ARGV[6])
return 1
"""


@dataclass(frozen=True)
class Dataset:
    """A snapshot of one dataset record.

    Attributes
    ----------
    summary : dict
        What GET /v1/datasets/{id} answers (id, name, description, counts, warnings,
        created_at).
    created : float
        Creation time, epoch seconds (its score in the tenant's index).
    bytes : int
        Bytes its files take (counted against the tenant's quota).
    """

    id: str
    tenant: str
    name: str | None
    status: str
    summary: dict[str, Any]
    created: float
    bytes: int


def parse_dataset(raw: dict[str, str]) -> Dataset | None:
    """A dataset from its Redis hash; None for an empty hash."""
    if not raw:
        return None
    return Dataset(
        id=raw["id"],
        tenant=raw["tenant"],
        name=raw["name"] or None,
        status=raw["status"],
        summary=orjson.loads(raw["summary"]),
        created=float(raw["created_at"]),
        bytes=int(raw["bytes"]),
    )


class DatasetRecords:
    """Dataset records, written from the API's threads.

    Parameters
    ----------
    client : redis.Redis
        A client with ``decode_responses=True``.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._create = client.register_script(_CREATE)

    def create(
        self, tenant: str, summary: dict[str, Any], created: float, size: int, quota: int = 0
    ) -> bool:
        """Record a registered dataset (its files are committed) and count its bytes;
        False (nothing recorded) when they would take the tenant over ``quota`` bytes (0:
        no quota)."""
        outcome = self._create(
            keys=[
                dataset_record_key(summary["id"]),
                tenant_datasets_key(tenant),
                usage_key(tenant),
            ],
            args=[
                summary["id"],
                tenant,
                summary.get("name") or "",
                orjson.dumps(summary).decode(),
                created,
                size,
                quota,
            ],
        )
        return bool(outcome == 1)

    def usage(self, tenant: str) -> int:
        """The bytes ``tenant``'s datasets and evaluations take."""
        return int(cast(str | None, self.redis.get(usage_key(tenant))) or 0)


async def get_datasets(
    client: redis.asyncio.Redis, dataset_ids: Sequence[str]
) -> list[Dataset | None]:
    """The records of ``dataset_ids`` in that order, None where missing (one round trip)."""
    if not dataset_ids:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for dataset_id in dataset_ids:
            pipe.hgetall(dataset_record_key(dataset_id))
        replies = await pipe.execute()
    return [parse_dataset(raw) for raw in replies]
