"""Thin Celery tasks: unpack, call the pipeline, map errors to retries or failures."""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from service.config import get_settings
from service.dispatch import EVALUATE_TASK
from service.jobs import JobStore, connect, error_json
from service.storage import Storage
from workers.app import app
from workers.pipeline import run_job

log = logging.getLogger(__name__)

#: Errors worth another try: the job store or the data volume hiccuped.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)


@lru_cache(maxsize=1)
def _context() -> tuple[JobStore, Storage]:
    # Built lazily, inside the worker process (after the pool forked it).
    settings = get_settings()
    if settings.redis_url is None:
        raise RuntimeError("DETEVAL_REDIS_URL is not set for the worker")
    return JobStore(connect(settings.redis_url)), Storage(settings.data_dir)


@app.task(name=EVALUATE_TASK, bind=True, max_retries=None)
def evaluate(self: Task, job_id: str) -> str:
    """Score one evaluation job (see :func:`workers.pipeline.run_job`)."""
    settings = get_settings()
    store, storage = _context()
    token = self.request.id
    try:
        return run_job(job_id, token, store, storage, settings)
    except TRANSIENT as exc:
        tries = self.request.retries + 1
        reason = f"{type(exc).__name__}: {exc}"
        if tries >= settings.job_max_attempts:
            try:
                store.fail(job_id, "transient", f"gave up after {tries} tries; the last: {reason}")
            except redis.RedisError as fail_exc:
                # The lease expires and the sweeper fails the job once attempts run out.
                log.warning("job %s: could not record its failure (%s)", job_id, fail_exc)
                raise exc from None
            return "failed"
        countdown = min(30, 2**self.request.retries)
        # Hand the lease back so the retry (same task id) can claim the job at once;
        # if even that fails, the lease expires and the retry or the sweeper takes over.
        error = error_json("retrying", f"try {tries} failed ({reason}); again in {countdown} s")
        try:
            store.release(job_id, token, error)
        except redis.RedisError as release_exc:
            log.warning("job %s: could not release the lease (%s)", job_id, release_exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except SoftTimeLimitExceeded:
        store.fail(
            job_id,
            "time_limit",
            f"scoring took longer than the limit of {app.conf.task_soft_time_limit} s",
        )
        return "failed"
    except Exception as exc:
        store.fail(job_id, "internal", f"{type(exc).__name__}: {exc}")
        raise
