"""The Celery side both the API and the workers share: task names and configuration.

The API sends tasks *by name* through :class:`Dispatcher`; it never imports worker
code. The workers build their Celery app from the same :func:`celery_config`, so both
sides agree on the broker, the queue and the redelivery settings.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from service.backend.config import Settings
from service.backend.jobs import JobStore

#: Score one evaluation job; one argument, the job id.
EVALUATE_TASK = "deteval.evaluate"
QUEUE = "deteval"

#: What a send or a connection attempt raises when the broker cannot be reached.
BROKER_UNREACHABLE = (OperationalError, ConnectionError, OSError)

log = logging.getLogger(__name__)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for producers and consumers.

    Notes
    -----
    * ``task_acks_late`` + ``task_reject_on_worker_lost`` + prefetch 1: a task is
      acknowledged only after it ran, and a worker process killed mid-task puts its
      message back instead of losing it; a worker holds no more than the task it runs.
    * The Redis transport redelivers an unacknowledged message after the *visibility
      timeout*. It must exceed the hard time limit, or a long job is handed to a second
      worker while the first still runs. Celery's Redis documentation asks for it in
      ``broker_transport_options``, ``result_backend_transport_options`` and
      ``visibility_timeout``; a value set in only one place can be silently ignored.
    * The soft limit raises inside the task a few seconds before the hard limit kills
      the process, so the job is failed with a reason rather than just lost.
    * No result backend: job state lives in :mod:`service.backend.jobs`.
    """
    visibility = settings.visibility_timeout_seconds
    hard = settings.task_time_limit_seconds
    return {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": {"visibility_timeout": visibility},
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "visibility_timeout": visibility,
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": hard,
        "task_soft_time_limit": max(1, hard - max(1, min(10, hard // 10))),
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }


def make_celery(settings: Settings) -> Celery:
    """A Celery app configured by :func:`celery_config` (with no tasks registered)."""
    app = Celery("deteval")
    app.config_from_object(celery_config(settings))
    return app


# Few, quick retries: when the broker is down the API answers at once and the sweeper
# sends the task later.
_PUBLISH_RETRY = {
    "max_retries": 2,
    "interval_start": 0.1,
    "interval_step": 0.2,
    "interval_max": 0.3,
}


class Dispatcher:
    """Sends evaluation tasks by name and records that they were sent.

    Parameters
    ----------
    app : Celery
        A producer-side Celery app (from :func:`make_celery`).
    store : JobStore
        Where ``sent_at`` is recorded.
    """

    def __init__(self, app: Celery, store: JobStore) -> None:
        self.app = app
        self.store = store

    def send(self, job_id: str) -> bool:
        """Send the task of a queued job; False (logged) if the broker is unreachable.

        A job whose send failed stays queued with no ``sent_at``, and the sweeper sends
        it again, so the caller can still accept it.
        """
        try:
            self.app.send_task(
                EVALUATE_TASK,
                args=[job_id],
                queue=QUEUE,
                retry=True,
                retry_policy=_PUBLISH_RETRY,
            )
        except BROKER_UNREACHABLE as exc:
            log.warning("could not send job %s to the broker (%s); the sweeper will", job_id, exc)
            return False
        self.store.mark_sent(job_id)
        return True

    def warm_up(self) -> None:
        """Pay the one-off costs of the first send now, at start-up, not in a request.

        The first send of a process loads the result-backend class through package
        entry points and opens the producer's broker connection (about 35 ms of CPU
        here). A broker that is down is not an error: sends retry and the sweeper
        covers them.
        """
        _ = self.app.backend
        try:
            with self.app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=1, timeout=2)
        except BROKER_UNREACHABLE as exc:
            log.warning("broker unreachable at start-up (%s); sends will retry", exc)

    def broker_ok(self) -> bool:
        """Whether the broker answers a connection attempt."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except BROKER_UNREACHABLE:
            return False
        return True
