"""One structured log line, and the metrics, per job transition.

Every transition is reported by the process that makes it: the API when a job is queued
or deleted, a worker when it starts, succeeds, fails, is retried or finds itself
cancelled, the sweeper (in an API process) when it puts back a job whose worker died or
fails one that used up its attempts. Each is one JSON object on one line of the process'
standard error, on the logger ``deteval.jobs``::

    {"time": "2026-12-02T15:04:05.123Z", "level": "info", "logger": "deteval.jobs",
     "event": "succeeded", "job_id": "5edaa271...", "tenant": "team-a",
     "dataset_id": "28d89af9...", "iou_type": "bbox", "attempt": 1,
     "duration_seconds": 1.482, "total_seconds": 1.530}

and counted in :mod:`service.backend.telemetry` (``deteval_jobs_total``, with failures
also in ``deteval_errors_total`` and succeeded jobs' times in ``deteval_scoring_seconds``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from typing import IO, Any, cast

import orjson
import redis

from service.backend import telemetry

LOGGER = "deteval.jobs"
QUEUED, STARTED, SUCCEEDED, FAILED = "queued", "started", "succeeded", "failed"
RETRIED, REQUEUED, CANCELLED, DELETED = "retried", "requeued", "cancelled", "deleted"

#: The record's fields a transition's line and metrics need.
_CONTEXT = (
    "tenant",
    "dataset_id",
    "iou_type",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
    "error",
)

log = logging.getLogger(LOGGER)
_fallback = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, the message as
    ``event``, and the members of the record's ``fields`` attribute (``extra=``)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, tz=dt.timezone.utc)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def install_handler(stream: IO[str] | None = None) -> None:
    """Write the ``deteval.jobs`` lines as JSON to ``stream`` (standard error by default).

    Called once by each process that makes transitions (the API, the workers); calling
    it again changes nothing. The lines do not also go to the root logger.
    """
    if any(isinstance(h.formatter, JsonFormatter) for h in log.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _seconds(since: str | None, until: str | None) -> float | None:
    if not since or not until:
        return None
    return round(float(until) - float(since), 3)


class JobEvents:
    """Reports job transitions: a log line and the metrics each one moves.

    Parameters
    ----------
    client : redis.Redis
        The job store's client (``decode_responses=True``); the metrics are kept there too.
    record_key : callable
        The Redis key of a job's record from its id
        (:meth:`service.backend.jobs.JobStore.key`).
    """

    def __init__(self, client: redis.Redis, record_key: Callable[[str], str]) -> None:
        self.redis = client
        self.record_key = record_key

    def emit(self, event: str, job_id: str, **extra: Any) -> None:
        """Report that job ``job_id`` just made transition ``event``.

        The job's record supplies its tenant, dataset, evaluation type, attempt and times;
        ``extra`` adds members to the log line. The record is read after the transition,
        so a deletion or a lease expiry is seen with the times of the attempt it ended.

        A job store that cannot be reached or written loses the metrics, not the line
        (logged with a warning, never raised: the transition itself has happened).
        """
        try:
            values = cast(list[str | None], self.redis.hmget(self.record_key(job_id), _CONTEXT))
        except redis.RedisError as exc:
            _fallback.warning("job %s: no metrics for %s (%s)", job_id, event, exc)
            log.info(event, extra={"fields": {"job_id": job_id, **extra}})
            return
        record = dict(zip(_CONTEXT, values, strict=True))
        fields: dict[str, Any] = {
            "job_id": job_id,
            "tenant": record["tenant"],
            "dataset_id": record["dataset_id"] or None,
            "iou_type": record["iou_type"] or None,
        }
        if event not in (QUEUED, DELETED) and record["attempts"] is not None:
            fields["attempt"] = int(record["attempts"])
        error = orjson.loads(record["error"]) if record["error"] else None
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                telemetry.count(pipe, telemetry.JOBS_TOTAL, event)
                fields.update(self._measure(pipe, event, record, error))
                pipe.execute()
        except redis.RedisError as exc:
            _fallback.warning("job %s: no metrics for %s (%s)", job_id, event, exc)
        fields.update(extra)
        log.info(event, extra={"fields": fields})

    @staticmethod
    def _measure(
        pipe: redis.client.Pipeline, event: str, record: dict[str, str | None], error: Any
    ) -> dict[str, Any]:
        """Queue the event's own metrics; returns what the log line adds."""
        fields: dict[str, Any] = {}
        if event == STARTED:
            waited = _seconds(record["created_at"], record["started_at"])
            fields["wait_seconds"] = waited
            if waited is not None and record["attempts"] == "1":
                telemetry.observe(pipe, telemetry.QUEUE_WAIT_SECONDS, waited)
        elif event == SUCCEEDED:
            took = _seconds(record["started_at"], record["finished_at"])
            fields["duration_seconds"] = took
            fields["total_seconds"] = _seconds(record["created_at"], record["finished_at"])
            if took is not None:
                iou_type = record["iou_type"] or "bbox"
                telemetry.observe(pipe, telemetry.SCORING_SECONDS, took, iou_type)
        elif event == FAILED:
            code = error.get("code", "unknown") if isinstance(error, dict) else "unknown"
            fields["error_type"] = code
            fields["duration_seconds"] = _seconds(record["started_at"], record["finished_at"])
            telemetry.count(pipe, telemetry.ERRORS_TOTAL, "job", code)
        elif event in (RETRIED, REQUEUED) and isinstance(error, dict):
            fields["error"] = error.get("detail")
        return fields
