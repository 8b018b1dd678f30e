"""Thin Celery tasks: unpack, call the pipeline, map errors to retries or failures."""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from service.backend.config import get_settings
from service.backend.dispatch import EVALUATE_TASK
from service.backend.jobs import JobStore, connect, error_json, store_cannot_save
from service.backend.storage import Storage, is_out_of_space, open_storage
from workers.app import app
from workers.pipeline import run_job

log = logging.getLogger(__name__)

#: Errors worth another try: the job store or the data volume hiccuped.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)
#: The longest wait between two tries (seconds).
MAX_BACKOFF_SECONDS = 30


@lru_cache(maxsize=1)
def _context() -> tuple[JobStore, Storage]:
    # Built lazily, inside the worker process (after the pool forked it).
    settings = get_settings()
    if settings.redis_url is None:
        raise RuntimeError("DETEVAL_REDIS_URL is not set for the worker")
    storage = open_storage(settings)
    storage.remove_stale_temp()  # temporary copies a killed worker left on this host
    return JobStore(connect(settings.redis_url)), storage


@app.task(name=EVALUATE_TASK, bind=True, max_retries=None)
def evaluate(self: Task, job_id: str, space_retries: int = 0) -> str:
    """Score one evaluation job (see :func:`workers.pipeline.run_job`).

    ``space_retries`` counts the earlier tries that found no room to write the report;
    they are not attempts (the task's other retries are).
    """
    settings = get_settings()
    store, storage = _context()
    token = self.request.id
    try:
        return run_job(job_id, token, store, storage, settings)
    except TRANSIENT as exc:
        tries = self.request.retries - space_retries + 1
        reason = f"{type(exc).__name__}: {exc}"
        if tries >= settings.job_max_attempts:
            try:
                store.fail(job_id, "transient", f"gave up after {tries} tries; the last: {reason}")
            except redis.RedisError as fail_exc:
                # The lease expires and the sweeper fails the job once attempts run out.
                log.warning("job %s: could not record its failure (%s)", job_id, fail_exc)
                raise exc from None
            return "failed"
        countdown = min(MAX_BACKOFF_SECONDS, 2 ** (tries - 1))
        # Hand the lease back so the retry (same task id) can claim the job at once;
        # if even that fails, the lease expires and the retry or the sweeper takes over.
        error = error_json("retrying", f"try {tries} failed ({reason}); again in {countdown} s")
        try:
            store.release(job_id, token, error, countdown)
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
        if is_out_of_space(exc) or store_cannot_save(exc):
            return _wait_for_space(self, store, job_id, space_retries, exc)
        store.fail(job_id, "internal", f"{type(exc).__name__}: {exc}")
        raise


def _wait_for_space(
    task: Task, store: JobStore, job_id: str, space_retries: int, exc: Exception
) -> str:
    """Retry a job whose report (or job record) found no room, with back-off, until the
    room comes back or ``out_of_space_retry_seconds`` have passed since it first found
    none (counted once the job store can record it)."""
    deadline = get_settings().out_of_space_retry_seconds
    countdown = min(MAX_BACKOFF_SECONDS, 2**space_retries)
    reason = f"{type(exc).__name__}: {exc}"
    waiting = error_json(
        "retrying",
        f"no room on disk to write the report or the job's record ({reason}); again in "
        f"{countdown} s, for up to {deadline:g} s in all",
    )
    failure = error_json(
        "out_of_space",
        f"no room on disk to write the report or the job's record for {deadline:g} s "
        f"(DETEVAL_OUT_OF_SPACE_RETRY_SECONDS); the last: {reason}",
    )
    try:
        outcome = store.wait_for_space(
            job_id, task.request.id, waiting, countdown, deadline, failure
        )
    except redis.RedisError as store_exc:
        # The lease expires and the retry below or the sweeper takes over.
        log.warning("job %s: could not hand the job back (%s)", job_id, store_exc)
        outcome = "retrying"
    if outcome != "retrying":
        log.warning("job %s: out of space, not retried (%s)", job_id, outcome)
        return outcome
    log.warning("job %s: no room for the report (%s); again in %d s", job_id, exc, countdown)
    raise task.retry(countdown=countdown, kwargs={"space_retries": space_retries + 1}) from exc
