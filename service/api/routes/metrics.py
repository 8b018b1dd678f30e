"""GET /metrics: the service's Prometheus metrics, the same from every API replica.

The counters and histograms live in Redis (:mod:`service.backend.telemetry`), counted by
every API and worker process; the gauges are read from the job store and the broker at
each scrape. No tenant's data is shown, only counts; and no tenant key is needed, as
scrapers expect. ``DETEVAL_METRICS_TOKEN`` makes the route require that bearer token
instead; ``DETEVAL_METRICS_ENABLED=false`` removes it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, cast

import redis
from fastapi import APIRouter, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.deps import StateDep
from service.api.errors import Unauthorized
from service.api.problems import problems
from service.api.state import AppState
from service.backend import telemetry
from service.backend.config import Settings
from service.backend.deletion import DELETING_KEY
from service.backend.dispatch import QUEUE
from service.backend.jobs import ACTIVE_KEY, QUEUED, RUNNING, JobStore, connect

#: The Redis transport of Celery (kombu) keeps a queue as one list per priority step:
#: the queue's name for priority 0, the name, this separator and the step for the others.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
#: The most unfinished jobs read at one scrape for ``deteval_jobs``.
MAX_ACTIVE_READ = 100_000

log = logging.getLogger(__name__)

EXAMPLE = """\
# HELP deteval_jobs_total Job transitions, by the state a job entered (...).
# TYPE deteval_jobs_total counter
deteval_jobs_total{state="queued"} 2
deteval_jobs_total{state="started"} 2
deteval_jobs_total{state="succeeded"} 1
deteval_jobs_total{state="failed"} 1
# HELP deteval_errors_total Errors by where they were raised (...).
# TYPE deteval_errors_total counter
deteval_errors_total{source="api",type="evaluation-not-found"} 3
deteval_errors_total{source="job",type="invalid_input"} 1
# HELP deteval_scoring_seconds Seconds from a worker taking a job to its report being written.
# TYPE deteval_scoring_seconds histogram
deteval_scoring_seconds_bucket{iou_type="bbox",le="0.1"} 0
deteval_scoring_seconds_bucket{iou_type="bbox",le="0.25"} 1
deteval_scoring_seconds_bucket{iou_type="bbox",le="+Inf"} 1
deteval_scoring_seconds_sum{iou_type="bbox"} 0.164
deteval_scoring_seconds_count{iou_type="bbox"} 1
# HELP deteval_queue_depth Task messages waiting in the broker's queue for a worker.
# TYPE deteval_queue_depth gauge
deteval_queue_depth 0
# HELP deteval_jobs Unfinished jobs by state (queued: waiting for or between attempts; running).
# TYPE deteval_jobs gauge
deteval_jobs{state="queued"} 0
deteval_jobs{state="running"} 0
"""

_metrics_bearer = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="DETEVAL_METRICS_TOKEN."
)


@lru_cache(maxsize=4)
def _broker_client(url: str) -> redis.Redis:
    return connect(url)


def _broker(settings: Settings, store: JobStore) -> redis.Redis:
    """A client of the broker's Redis: the job store's own when they are one server."""
    if settings.broker_url is None or settings.broker_url == settings.redis_url:
        return store.redis
    return _broker_client(settings.broker_url)


def queue_depth(broker: redis.Redis) -> int:
    """Task messages waiting in the service's queue, over every priority step."""
    keys = [QUEUE] + [f"{QUEUE}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS]
    with broker.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        return sum(cast(list[int], pipe.execute()))


def unfinished_by_state(store: JobStore) -> dict[str, int]:
    """How many unfinished jobs are queued and how many run (from the active set)."""
    ids = cast(list[str], store.redis.zrange(ACTIVE_KEY, 0, MAX_ACTIVE_READ - 1))
    with store.redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(JobStore.key(job_id), "status")
        statuses = cast(list[str | None], pipe.execute())
    return {state: statuses.count(state) for state in (QUEUED, RUNNING)}


Gauges = list[tuple[telemetry.Family, Sequence[tuple[Sequence[str], float]]]]


def _gauges(state: AppState) -> Gauges:
    by_state = unfinished_by_state(state.store)
    # A broker of its own that is down leaves out the queue depth, not the other metrics.
    depth: list[tuple[Sequence[str], float]] = []
    try:
        depth.append(((), queue_depth(_broker(state.settings, state.store))))
    except redis.RedisError as exc:
        log.warning("metrics: the broker is unreachable (%s); no queue depth", exc)
    return [
        (telemetry.QUEUE_DEPTH, depth),
        (telemetry.JOBS, [((name,), n) for name, n in by_state.items()]),
        (telemetry.WORKERS, [((), state.presence.count())]),
        (telemetry.DELETIONS_PENDING, [((), cast(int, state.store.redis.scard(DELETING_KEY)))]),
    ]


def metrics(state: StateDep) -> Response:
    """The service's metrics in Prometheus' text format (version 0.0.4): job transitions
    and errors by type, scoring times, queue waits and upload sizes (histograms), and,
    read now, the broker's queue depth, the unfinished jobs by state, the live workers and
    the pending deletions. The same from every API replica."""
    text = telemetry.render(telemetry.read_stored(state.store.redis), _gauges(state))
    return Response(content=text, media_type=telemetry.CONTENT_TYPE)


def _token_guard(token: str) -> Any:
    expected = hashlib.sha256(token.encode("utf-8")).digest()

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_metrics_bearer)],
    ) -> None:
        presented = "" if credentials is None else credentials.credentials
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        if not hmac.compare_digest(digest, expected):
            raise Unauthorized("missing or wrong token; send 'Bearer DETEVAL_METRICS_TOKEN'")

    return require_token


def build_router(settings: Settings) -> APIRouter:
    """The /metrics route as ``settings`` configure it (with or without a token)."""
    router = APIRouter(tags=["operations"])
    ok: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The metrics, in Prometheus' text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": EXAMPLE}},
        }
    }
    token = settings.metrics_token.get_secret_value()
    router.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        operation_id="metrics",
        response_class=Response,
        responses={**ok, **problems(401)} if token else ok,
        dependencies=[Security(_token_guard(token))] if token else [],
    )
    return router
