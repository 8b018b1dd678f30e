"""Deleting evaluations and datasets so that a crash never leaves one half-deleted.

A deletion takes three steps:

1. **mark**: one Lua script sets the record's status to ``deleting`` and adds it to the
   set ``deteval:deleting``. From then on the resource is gone for readers (404, not
   listed), a worker running it stops at its next heartbeat or progress report and
   writes nothing, and a dataset being deleted takes no new evaluation;
2. **remove the files** (an evaluation's directory; a dataset's, after its evaluations);
3. **purge**: one Lua script deletes the record, takes its id out of every index, gives
   its bytes back to the tenant's usage and takes it out of ``deteval:deleting``.

The API runs all three at once. When it dies between them the record stays marked, and
the sweeper finishes every member of ``deteval:deleting`` (:meth:`Deleter.finish_pending`):
each step can run again.
"""

from __future__ import annotations

import logging
from typing import cast

import orjson
import redis

from service.backend import joblog
from service.backend.catalog import parse_dataset
from service.backend.jobs import (
    ACTIVE_KEY,
    JobStore,
    dataset_index_key,
    dataset_record_key,
    tag_index_key,
    tenant_datasets_key,
    tenant_index_key,
    usage_key,
)
from service.backend.storage import Storage

DELETING_KEY = "deteval:deleting"
EVALUATION, DATASET = "evaluation", "dataset"

log = logging.getLogger(__name__)

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"

# KEYS: job, active set, deleting set. ARGV: job id, member. 0: no such job.
_MARK_EVALUATION = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'deleting', 'updated_at', now, 'lease_owner', '')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""
)

# KEYS: record, the dataset's evaluations, deleting set. ARGV: id, tenant, member,
# cascade ('1' or ''), whether its files exist ('1' or ''). A dataset uploaded before
# records existed has files only: it gets a record to mark.
_MARK_DATASET = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then
  if ARGV[5] ~= '1' then return 'missing' end
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'tenant', ARGV[2], 'name', '', 'summary', '{}',
    'created_at', 0, 'bytes', 0, 'status', 'ready')
end
if st ~= 'deleting' and ARGV[4] ~= '1' and redis.call('ZCARD', KEYS[2]) > 0 then
  return 'in_use'
end
redis.call('HSET', KEYS[1], 'status', 'deleting')
redis.call('SADD', KEYS[3], ARGV[3])
return 'ok'
"""

# KEYS: record, deleting set, usage, then the indexes holding its id. ARGV: id, member.
_PURGE = """
if redis.call('HGET', KEYS[1], 'status') == 'deleting' then
  redis.call('DECRBY', KEYS[3], tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0'))
  redis.call('DEL', KEYS[1])
  for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


def _member(kind: str, tenant: str, resource_id: str) -> str:
    return f"{kind}:{tenant}:{resource_id}"


class Deleter:
    """Deletes evaluations and datasets; see the module docstring.

    Parameters
    ----------
    client : redis.Redis
        A client with ``decode_responses=True``.
    storage : Storage
        The data directory.
    """

    def __init__(self, client: redis.Redis, storage: Storage) -> None:
        self.redis = client
        self.storage = storage
        self.events = joblog.JobEvents(client, JobStore.key)
        self._mark_evaluation = client.register_script(_MARK_EVALUATION)
        self._mark_dataset = client.register_script(_MARK_DATASET)
        self._purge = client.register_script(_PURGE)

    # -- evaluations ---------------------------------------------------------------------
    def delete_evaluation(self, tenant: str, evaluation_id: str) -> bool:
        """Delete one of ``tenant``'s evaluations; False if it has no such evaluation.

        A running evaluation is cancelled (its worker stops and writes nothing). When its
        files cannot all be removed yet (a worker writing its report just then), the
        record stays marked and the sweeper finishes the deletion.
        """
        member = _member(EVALUATION, tenant, evaluation_id)
        key = JobStore.key(evaluation_id)
        if self.redis.hget(key, "tenant") != tenant:
            return False
        marked = self._mark_evaluation(
            keys=[key, ACTIVE_KEY, DELETING_KEY], args=[evaluation_id, member]
        )
        if marked:
            self.events.emit(joblog.DELETED, evaluation_id)
            self._finish_evaluation(tenant, evaluation_id)
        return bool(marked)

    def _finish_evaluation(self, tenant: str, evaluation_id: str) -> bool:
        if not self.storage.remove_evaluation(tenant, evaluation_id):
            log.warning("evaluation %s: files left; the sweeper removes them", evaluation_id)
            return False
        key = JobStore.key(evaluation_id)
        raw = cast(dict[str, str], self.redis.hgetall(key))
        indexes = [tenant_index_key(tenant)]
        if raw.get("dataset_id"):
            indexes.append(dataset_index_key(tenant, raw["dataset_id"]))
        tags = orjson.loads(raw["tags"]) if raw.get("tags") else []
        indexes += [tag_index_key(tenant, tag) for tag in tags]
        self._purge(
            keys=[key, DELETING_KEY, usage_key(tenant), *indexes],
            args=[evaluation_id, _member(EVALUATION, tenant, evaluation_id)],
        )
        return True

    # -- datasets ------------------------------------------------------------------------
    def delete_dataset(self, tenant: str, dataset_id: str, cascade: bool) -> str:
        """Delete one of ``tenant``'s datasets, and with ``cascade`` its evaluations.

        Returns
        -------
        str
            ``"ok"``; ``"missing"`` (no such dataset of this tenant); ``"in_use"``
            (evaluations use it and ``cascade`` is False: nothing was changed).
        """
        record = parse_dataset(
            cast(dict[str, str], self.redis.hgetall(dataset_record_key(dataset_id)))
        )
        if record is not None and record.tenant != tenant:
            return "missing"
        has_files = self.storage.dataset_summary(tenant, dataset_id) is not None
        outcome: str = self._mark_dataset(
            keys=[
                dataset_record_key(dataset_id),
                dataset_index_key(tenant, dataset_id),
                DELETING_KEY,
            ],
            args=[
                dataset_id,
                tenant,
                _member(DATASET, tenant, dataset_id),
                "1" if cascade else "",
                "1" if has_files else "",
            ],
        )
        if outcome == "ok":
            self._finish_dataset(tenant, dataset_id)
        return outcome

    def evaluations_of(self, tenant: str, dataset_id: str, limit: int = 5) -> list[str]:
        """Some of the evaluations that use a dataset (newest first), to name in a 409."""
        key = dataset_index_key(tenant, dataset_id)
        return cast(list[str], self.redis.zrevrange(key, 0, limit - 1))

    def _finish_dataset(self, tenant: str, dataset_id: str) -> bool:
        # The mark stops new evaluations of it, so this walk ends.
        index = dataset_index_key(tenant, dataset_id)
        while evaluation_ids := cast(list[str], self.redis.zrange(index, 0, 99)):
            for evaluation_id in evaluation_ids:
                if not self.delete_evaluation(tenant, evaluation_id):
                    self.redis.zrem(index, evaluation_id)  # a dangling index entry
                elif self.redis.exists(JobStore.key(evaluation_id)):
                    return False  # files left: the sweeper tries again
        if not self.storage.remove_dataset(tenant, dataset_id):
            log.warning("dataset %s: files left; the sweeper removes them", dataset_id)
            return False
        self._purge(
            keys=[
                dataset_record_key(dataset_id),
                DELETING_KEY,
                usage_key(tenant),
                tenant_datasets_key(tenant),
            ],
            args=[dataset_id, _member(DATASET, tenant, dataset_id)],
        )
        return True

    # -- the sweeper's part --------------------------------------------------------------
    def finish_pending(self, limit: int = 100) -> int:
        """Finish deletions a crash interrupted; returns how many were finished."""
        finished = 0
        for member in cast(list[str], self.redis.srandmember(DELETING_KEY, limit)):
            kind, tenant, resource_id = member.split(":")
            if kind == EVALUATION:
                done = self._finish_evaluation(tenant, resource_id)
            else:
                done = self._finish_dataset(tenant, resource_id)
            if done:
                log.info("sweeper: finished deleting %s %s", kind, resource_id)
                finished += 1
        return finished

    def expire(self, tenants: list[str], max_age_seconds: float, limit: int = 100) -> int:
        """Delete what ``tenants`` created more than ``max_age_seconds`` ago: evaluations,
        and datasets no evaluation uses any more; at most ``limit`` of each per tenant
        (the next round goes on). Returns how many were deleted."""
        seconds, micros = cast(tuple[int, int], self.redis.time())
        cutoff = seconds + micros / 1e6 - max_age_seconds
        deleted = 0
        for tenant in tenants:
            old = self.redis.zrangebyscore(tenant_index_key(tenant), "-inf", cutoff, 0, limit)
            for evaluation_id in cast(list[str], old):
                if self.delete_evaluation(tenant, evaluation_id):
                    deleted += 1
                else:  # an index entry without a record: drop it, or it blocks the rest
                    self.redis.zrem(tenant_index_key(tenant), evaluation_id)
            old = self.redis.zrangebyscore(tenant_datasets_key(tenant), "-inf", cutoff, 0, limit)
            for dataset_id in cast(list[str], old):
                outcome = self.delete_dataset(tenant, dataset_id, cascade=False)
                if outcome == "missing":
                    self.redis.zrem(tenant_datasets_key(tenant), dataset_id)
                deleted += outcome == "ok"
        if deleted:
            log.info("sweeper: deleted %d evaluations and datasets past retention", deleted)
        return deleted
