"""Job records in Redis: status, attempts, lease, progress, error and timestamps.

Each evaluation is a hash ``deteval:job:<id>``; the ids of unfinished jobs (queued or
running) are also in the sorted set ``deteval:active`` for the sweeper, and, scored by
creation time for listings, in the sorted sets of its tenant
(``deteval:tenant:<tenant>:evaluations``), of each of its tags
(``deteval:tenant:<tenant>:tag:<tag>:evaluations``) and of its dataset
(``deteval:dataset:<tenant>:<dataset id>:evaluations``, also its leaderboard). Every state
change is one Lua script, so it is atomic, and reads the time from Redis (``TIME``),
so API and worker replicas with skewed clocks agree on leases.

Life of a job::

    queued --claim--> running --succeed--> succeeded
       ^                 |  \\--fail-----> failed   (bad input, or attempts used up)
       '--- requeue -----'   (lease expired: the worker died; or a transient error,
                              or no room to write the report: not counted as an attempt)

A worker holds a *lease* while it runs a job and renews it by heartbeats. When the
lease runs out the sweeper puts the job back in the queue; the next claim counts
another attempt, and a job that has used ``max_attempts`` fails with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import redis
from redis.driver_info import DriverInfo

from service.backend import joblog
from service.backend.labels import RunLabels

JOB_PREFIX = "deteval:job:"
ACTIVE_KEY = "deteval:active"
DATASET_PREFIX = "deteval:dataset:"
DATASET_RECORD_PREFIX = "deteval:ds:"
TENANT_PREFIX = "deteval:tenant:"
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
#: A job whose deletion has begun: it is no longer shown, and the sweeper finishes it.
DELETING = "deleting"
FINISHED = (SUCCEEDED, FAILED)

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"

# KEYS: job, active set, tenant's evaluations, dataset's evaluations (or ''), dataset
# record (or ''), tenant's usage, then one per tag. ARGV: id, tenant, dataset id,
# warnings, name, tags, metadata, bytes stored, the tenant's quota in bytes (0: none),
# the evaluation type.
# Returns 0 when the dataset is being deleted (it takes no new evaluation), -1 when the
# bytes would exceed the quota.
_CREATE = (
    _NOW
    + """
if KEYS[5] ~= '' and redis.call('HGET', KEYS[5], 'status') == 'deleting' then return 0 end
local quota = tonumber(ARGV[9])
if quota > 0 and tonumber(redis.call('GET', KEYS[6]) or '0') + tonumber(ARGV[8]) > quota then
  return -1
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'tenant', ARGV[2], 'dataset_id', ARGV[3],
  'status', 'queued', 'attempts', 0, 'progress', 0, 'error', '', 'created_at', now,
  'updated_at', now, 'started_at', '', 'finished_at', '', 'sent_at', '',
  'lease_owner', '', 'lease_until', 0, 'warnings', ARGV[4], 'name', ARGV[5], 'tags', ARGV[6],
  'metadata', ARGV[7], 'bytes', ARGV[8], 'iou_type', ARGV[10])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
if KEYS[4] ~= '' then redis.call('ZADD', KEYS[4], now, ARGV[1]) end
redis.call('INCRBY', KEYS[6], ARGV[8])
for i = 7, #KEYS do redis.call('ZADD', KEYS[i], now, ARGV[1]) end
return 1
"""
)

_MARK_SENT = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'sent_at', now)
return 1
"""
)

# ARGV: token, lease seconds, max attempts
_CLAIM = (
    _NOW
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing', 0} end
if st == 'succeeded' or st == 'failed' or st == 'deleting' then return {st, 0} end
if st == 'running' and redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1]
   and tonumber(redis.call('HGET', KEYS[1], 'lease_until')) > now then
  return {'busy', 0}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', now, 'updated_at', now,
    'lease_owner', '', 'attempts', attempts - 1, 'error', ARGV[4])
  redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
  return {'failed', attempts - 1}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'lease_owner', ARGV[1],
  'lease_until', now + tonumber(ARGV[2]), 'started_at', now, 'updated_at', now, 'progress', 0)
return {'claimed', attempts}
"""
)

# ARGV: token, lease seconds, progress ('' to keep). -1: the job is gone or being deleted.
_HEARTBEAT = (
    _NOW
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st or st == 'deleting' then return -1 end
if st ~= 'running' or redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]), 'updated_at', now)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[3]) end
return 1
"""
)

# KEYS: job, active set, tenant's usage. ARGV: the report's bytes.
_SUCCEED = (
    _NOW
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st or st == 'succeeded' or st == 'deleting' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'succeeded', 'progress', 1, 'error', '',
  'finished_at', now, 'updated_at', now, 'lease_owner', '')
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[1])
redis.call('INCRBY', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
return 1
"""
)

# ARGV: error JSON
_FAIL = (
    _NOW
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st or st == 'succeeded' or st == 'failed' or st == 'deleting' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1], 'finished_at', now,
  'updated_at', now, 'lease_owner', '')
redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
return 1
"""
)

# ARGV: token, error JSON, seconds until the retry is due. Back to the queue after a
# transient error; the worker has sent the retry already, due later: 'sent_at' is set to
# when it falls due, so the sweeper sends it again only if that message is lost. The
# error stays visible until the job succeeds or fails for good.
_RELEASE = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'lease_owner', '', 'lease_until', 0,
  'sent_at', now + tonumber(ARGV[3]), 'updated_at', now, 'progress', 0, 'error', ARGV[2])
return 1
"""
)

# ARGV: token, retry error JSON, seconds until the retry is due, deadline seconds, failure
# error JSON. Like _RELEASE, but the attempt is given back (running out of room is not
# the job's fault), and the job fails once it has waited for room longer than the
# deadline, counted from its first time (kept in 'space_since').
_WAIT_FOR_SPACE = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 'lost' end
local since = tonumber(redis.call('HGET', KEYS[1], 'space_since') or '')
if not since then
  since = now
  redis.call('HSET', KEYS[1], 'space_since', now)
end
if now - since >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[5], 'finished_at', now,
    'updated_at', now, 'lease_owner', '')
  redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
  return 'failed'
end
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'lease_owner', '', 'lease_until', 0,
  'sent_at', now + tonumber(ARGV[3]), 'updated_at', now, 'progress', 0, 'error', ARGV[2])
return 'retrying'
"""
)

# ARGV: unsent grace seconds, resend-after seconds, max attempts, error JSON if used up.
# Returns 'send' (the caller must send the task, then mark_sent), 'requeue' (the same, for a
# running job whose lease expired and that is queued again), 'failed', 'gone' or 'ok'.
_SWEEP_ONE = (
    _NOW
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then redis.call('ZREM', KEYS[2], ARGV[5]); return 'gone' end
if st == 'succeeded' or st == 'failed' or st == 'deleting' then
  redis.call('ZREM', KEYS[2], ARGV[5]); return 'ok'
end
if st == 'running' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) > now then return 'ok' end
  if tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4], 'finished_at', now,
      'updated_at', now, 'lease_owner', '')
    redis.call('ZREM', KEYS[2], ARGV[5])
    return 'failed'
  end
  redis.call('HSET', KEYS[1], 'status', 'queued', 'lease_owner', '', 'lease_until', 0,
    'sent_at', '', 'updated_at', now, 'progress', 0)
  return 'requeue'
end
local sent = redis.call('HGET', KEYS[1], 'sent_at')
if sent == '' then
  if now - tonumber(redis.call('HGET', KEYS[1], 'updated_at')) > tonumber(ARGV[1]) then
    return 'send'
  end
  return 'ok'
end
if now - tonumber(sent) > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'sent_at', '', 'updated_at', now)
  return 'send'
end
return 'ok'
"""
)


def _iso(value: str) -> str | None:
    if not value:
        return None
    moment = dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    """A snapshot of one job record.

    Attributes
    ----------
    error : dict or None
        ``{"code": ..., "detail": ...}`` (plus ``location``/``problem`` for bad input)
        once the job failed.
    created_at, started_at, finished_at : str or None
        ISO 8601 UTC times.
    metrics : dict or None
        The report's ``metrics`` (name -> float or None), cached in the record the first
        time the API reads them from a succeeded job's report; None until then.
    warnings : list of str
        What the API found suspicious in the predictions when it accepted them.
    labels : RunLabels
        The run's name, tags and metadata.
    iou_type : str
        What the evaluation compares: ``"bbox"``, ``"segm"`` or ``"keypoints"``.
    """

    id: str
    tenant: str
    dataset_id: str | None
    status: str
    attempts: int
    progress: float
    error: dict | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    metrics: dict | None = None
    warnings: list[str] = field(default_factory=list)
    labels: RunLabels = field(default_factory=RunLabels)
    iou_type: str = "bbox"

    def public(self) -> dict[str, Any]:
        """The job as the HTTP API shows it."""
        return {
            "id": self.id,
            "name": self.labels.name,
            "tags": list(self.labels.tags),
            "metadata": self.labels.metadata,
            "status": self.status,
            "progress": self.progress,
            "error": self.error,
            "attempts": self.attempts,
            "dataset_id": self.dataset_id,
            "iou_type": self.iou_type,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`JobStore.claim`.

    ``outcome`` is ``"claimed"`` (run the job), ``"busy"`` (another live worker runs it),
    ``"succeeded"``/``"failed"`` (already finished: a redelivered message), ``"deleting"``
    or ``"missing"``.
    """

    outcome: str
    attempt: int


class JobStore:
    """Job records in Redis.

    Parameters
    ----------
    client : redis.Redis
        A client with ``decode_responses=True``.

    Notes
    -----
    Each transition it makes is reported once it has happened (:mod:`service.backend.joblog`):
    a log line and its metrics, from the process that made it.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self.events = joblog.JobEvents(client, self.key)
        self._create = client.register_script(_CREATE)
        self._mark_sent = client.register_script(_MARK_SENT)
        self._claim = client.register_script(_CLAIM)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._succeed = client.register_script(_SUCCEED)
        self._fail = client.register_script(_FAIL)
        self._release = client.register_script(_RELEASE)
        self._wait_for_space = client.register_script(_WAIT_FOR_SPACE)
        self._sweep_one = client.register_script(_SWEEP_ONE)

    @staticmethod
    def key(job_id: str) -> str:
        return JOB_PREFIX + job_id

    def _keys(self, job_id: str) -> list[str]:
        return [self.key(job_id), ACTIVE_KEY]

    def create(
        self,
        job_id: str,
        tenant: str,
        dataset_id: str | None,
        warnings: Sequence[str] = (),
        labels: RunLabels | None = None,
        size: int = 0,
        quota: int = 0,
        iou_type: str = "bbox",
    ) -> int:
        """Record a new queued job (not yet sent to the broker), with the ``warnings``
        its predictions raised, its ``labels``, the ``size`` of its stored files (added
        to its tenant's usage) and what it compares (``iou_type``).

        Returns 1 when recorded; 0 (nothing recorded) when its dataset is being deleted;
        -1 when ``size`` would take the tenant's usage over ``quota`` (bytes; 0: none).

        The job is added to its tenant's, its dataset's and its tags' indexes in the
        same step.
        """
        labels = labels or RunLabels()
        keys = [*self._keys(job_id), tenant_index_key(tenant)]
        if dataset_id is None:
            keys += ["", ""]
        else:
            keys += [dataset_index_key(tenant, dataset_id), dataset_record_key(dataset_id)]
        keys.append(usage_key(tenant))
        keys += [tag_index_key(tenant, tag) for tag in labels.tags]
        labelled = labels.record_fields()
        args = [job_id, tenant, dataset_id or "", orjson.dumps(list(warnings)).decode()]
        args += [labelled["name"], labelled["tags"], labelled["metadata"], str(size), str(quota)]
        args.append(iou_type)
        created = int(self._create(keys=keys, args=args))
        if created == 1:
            self.events.emit(joblog.QUEUED, job_id)
        return created

    def mark_sent(self, job_id: str) -> None:
        """Note that the task message of a queued job reached the broker."""
        self._mark_sent(keys=[self.key(job_id)])

    def get(self, job_id: str) -> Job | None:
        """The job, or None if there is no such record."""
        return parse_job(cast(dict[str, str], self.redis.hgetall(self.key(job_id))))

    def claim(self, job_id: str, token: str, lease_seconds: float, max_attempts: int) -> Claim:
        """Start an attempt: take the lease, count the attempt, mark the job running.

        ``token`` names the holder; the same token may re-claim a lease it still holds
        (its message was redelivered because its worker process died).
        """
        error = error_json(
            "attempts_exhausted",
            f"gave up after {max_attempts} attempts; each worker was lost "
            "before finishing (killed, out of memory or over the time limit)",
        )
        outcome, attempt = self._claim(
            keys=self._keys(job_id), args=[token, lease_seconds, max_attempts, error]
        )
        if outcome in ("claimed", FAILED):
            self.events.emit(joblog.STARTED if outcome == "claimed" else joblog.FAILED, job_id)
        return Claim(outcome, int(attempt))

    def heartbeat(
        self, job_id: str, token: str, lease_seconds: float, progress: float | None = None
    ) -> int:
        """Renew the lease (and record progress).

        Returns 1 when renewed, 0 when the lease is no longer ours, -1 when the job is
        being deleted or gone (stop: nothing of it may be written).
        """
        arg = "" if progress is None else repr(float(progress))
        return int(self._heartbeat(keys=[self.key(job_id)], args=[token, lease_seconds, arg]))

    def succeed(self, job_id: str, tenant: str, report_bytes: int = 0) -> bool:
        """Mark the job succeeded (its report of ``report_bytes`` is written, which counts
        in ``tenant``'s usage); False if it already was."""
        keys = [*self._keys(job_id), usage_key(tenant)]
        done = bool(self._succeed(keys=keys, args=[report_bytes]))
        if done:
            self.events.emit(joblog.SUCCEEDED, job_id)
        return done

    def fail(self, job_id: str, code: str, detail: str, **extra: str) -> bool:
        """Mark the job failed with a reason; False if it had already finished."""
        done = bool(self._fail(keys=self._keys(job_id), args=[error_json(code, detail, **extra)]))
        if done:
            self.events.emit(joblog.FAILED, job_id)
        return done

    def release(self, job_id: str, token: str, error: str, due_in: float) -> bool:
        """Give the job back to the queue after a transient error.

        The caller has sent the retry, due in ``due_in`` seconds; the sweeper sends the
        job again only if that message is not taken up (``queued_resend_seconds`` after
        it is due). ``error`` (from :func:`error_json`) says why; the job's status shows
        it while the job waits for and runs its next attempt.
        """
        done = bool(self._release(keys=[self.key(job_id)], args=[token, error, due_in]))
        if done:
            self.events.emit(joblog.RETRIED, job_id, due_in_seconds=due_in)
        return done

    def wait_for_space(
        self, job_id: str, token: str, error: str, due_in: float, deadline: float, failure: str
    ) -> str:
        """Give the job back to the queue because its files could not be written for
        lack of room, without counting the attempt; or fail it with ``failure``.

        Like :meth:`release` (``error``, ``due_in``), except that the attempt is not
        counted and the job fails once ``deadline`` seconds have passed since it first
        ran out of room.

        Returns
        -------
        str
            ``"retrying"``, ``"failed"``, or ``"lost"`` when the lease is not ours.
        """
        outcome: str = self._wait_for_space(
            keys=self._keys(job_id), args=[token, error, due_in, deadline, failure]
        )
        if outcome == "retrying":
            self.events.emit(joblog.RETRIED, job_id, due_in_seconds=due_in)
        elif outcome == FAILED:
            self.events.emit(joblog.FAILED, job_id)
        return outcome

    def active_ids(self, limit: int = 1000) -> list[str]:
        """Ids of unfinished jobs, oldest first."""
        return cast(list[str], self.redis.zrange(ACTIVE_KEY, 0, limit - 1))

    def sweep_one(
        self, job_id: str, unsent_grace: float, resend_after: float, max_attempts: int
    ) -> str:
        """Decide what one unfinished job needs; see the module docstring.

        Returns ``"send"`` when the caller must send its task (then :meth:`mark_sent`),
        ``"failed"`` when its attempts are used up, else ``"ok"`` or ``"gone"``.
        """
        error = error_json(
            "attempts_exhausted",
            f"gave up after {max_attempts} attempts; the last worker stopped "
            "heartbeating (killed, out of memory or over the time limit)",
        )
        outcome: str = self._sweep_one(
            keys=self._keys(job_id),
            args=[unsent_grace, resend_after, max_attempts, error, job_id],
        )
        if outcome == "requeue":  # its lease expired: back in the queue, to be sent again
            self.events.emit(joblog.REQUEUED, job_id)
            return "send"
        if outcome == FAILED:
            self.events.emit(joblog.FAILED, job_id)
        return outcome


def parse_job(raw: dict[str, str]) -> Job | None:
    """A job from its Redis hash (as ``HGETALL`` returns it); None for an empty hash."""
    if not raw:
        return None
    return Job(
        id=raw["id"],
        tenant=raw["tenant"],
        dataset_id=raw["dataset_id"] or None,
        status=raw["status"],
        attempts=int(raw["attempts"]),
        progress=float(raw["progress"]),
        error=orjson.loads(raw["error"]) if raw["error"] else None,
        created_at=_iso(raw["created_at"]),
        started_at=_iso(raw["started_at"]),
        finished_at=_iso(raw["finished_at"]),
        metrics=orjson.loads(raw["metrics"]) if raw.get("metrics") else None,
        warnings=orjson.loads(raw["warnings"]) if raw.get("warnings") else [],
        labels=RunLabels.from_record(raw),
        iou_type=raw.get("iou_type") or "bbox",  # records older than the field: boxes
    )


def dataset_index_key(tenant: str, dataset_id: str) -> str:
    """The sorted set of a dataset's evaluation ids (score: creation time)."""
    return f"{DATASET_PREFIX}{tenant}:{dataset_id}:evaluations"


def tenant_index_key(tenant: str) -> str:
    """The sorted set of a tenant's evaluation ids (score: creation time)."""
    return f"{TENANT_PREFIX}{tenant}:evaluations"


def tag_index_key(tenant: str, tag: str) -> str:
    """The sorted set of a tenant's evaluation ids with ``tag`` (score: creation time)."""
    return f"{TENANT_PREFIX}{tenant}:tag:{tag}:evaluations"


def tenant_datasets_key(tenant: str) -> str:
    """The sorted set of a tenant's dataset ids (score: creation time)."""
    return f"{TENANT_PREFIX}{tenant}:datasets"


def usage_key(tenant: str) -> str:
    """The bytes a tenant's datasets and evaluations take in storage (a counter)."""
    return f"{TENANT_PREFIX}{tenant}:bytes"


def dataset_record_key(dataset_id: str) -> str:
    """The hash of a registered dataset (see :mod:`service.backend.catalog`)."""
    return f"{DATASET_RECORD_PREFIX}{dataset_id}"


def store_cannot_save(exc: BaseException) -> bool:
    """Whether ``exc`` is the job store refusing writes because it cannot save them to
    its disk (Redis' ``MISCONF`` error: a full disk, say, under ``deteval serve``'s
    server in the data directory). It takes writes again once it can save."""
    return isinstance(exc, redis.ResponseError) and "MISCONF" in str(exc)


def error_json(code: str, detail: str, **extra: str) -> str:
    """Encode a job error as stored: ``{"code", "detail", ...extra}``."""
    return orjson.dumps({"code": code, "detail": detail, **extra}).decode()


# Short timeouts, so an unreachable server fails a request quickly (a 503) instead of
# hanging it. The driver identification is built once: redis-py otherwise looks up its
# own version in the installed packages' metadata for every new connection (milliseconds
# each, on the event loop for the asyncio client).
CLIENT_OPTIONS: dict[str, Any] = {
    "decode_responses": True,
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "health_check_interval": 30,
    "driver_info": DriverInfo(),
}


def connect(url: str) -> redis.Redis:
    """A Redis client for ``url`` (``redis://``, ``rediss://`` or ``unix://``)."""
    client: redis.Redis = redis.Redis.from_url(url, **CLIENT_OPTIONS)
    return client
