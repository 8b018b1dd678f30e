"""The sweeper: no job stays queued or running forever.

Every few seconds one API replica (a Redis lock elects it) walks the unfinished jobs:

* a job whose send failed (the broker was down) is sent again;
* a job still queued long after its send (a lost message) is sent again;
* a running job whose lease expired (its worker died) is put back in the queue and
  sent again, or failed with a reason once it has used all its attempts.

Deletions a crash interrupted are finished (:mod:`service.backend.deletion`), what is
older than the retention time (``DETEVAL_RETENTION_DAYS``) is deleted, and stale
temporary uploads of crashed processes are removed on the way, and so are, in an object
store, the objects a crash left without a manifest (at most every few minutes:
:meth:`service.backend.storage.Storage.remove_orphans`). Every API replica clears
its own host's temporary files, whether or not it sweeps.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import redis

from service.backend.config import Settings
from service.backend.deletion import Deleter
from service.backend.dispatch import Dispatcher
from service.backend.jobs import JobStore
from service.backend.storage import Storage

LOCK_KEY = "deteval:sweeper-lock"
#: A queued job with no recorded send is left alone this long: the API that created it
#: may still be sending it (publish retries take about a second).
UNSENT_GRACE_SECONDS = 3.0

log = logging.getLogger(__name__)


class Sweeper:
    """Re-sends or fails stuck jobs; see the module docstring.

    Parameters
    ----------
    store, dispatcher, storage, settings
        The job store, the task sender, the data directory and the settings
        (``sweep_interval_seconds``, ``queued_resend_seconds``, ``job_max_attempts``).
    deleter : Deleter, optional
        Finishes interrupted deletions; one on ``store``'s client by default.
    """

    def __init__(
        self,
        store: JobStore,
        dispatcher: Dispatcher,
        storage: Storage,
        settings: Settings,
        deleter: Deleter | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.storage = storage
        self.settings = settings
        self.deleter = deleter or Deleter(store.redis, storage)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> Counter[str]:
        """One pass over the unfinished jobs; returns how many ended in each outcome.

        Only clears this host's temporary files (an empty counter) when another replica
        holds the sweep lock.
        """
        self.storage.remove_stale_temp()
        interval_ms = max(1, int(self.settings.sweep_interval_seconds * 1000))
        if not self.store.redis.set(LOCK_KEY, "1", nx=True, px=interval_ms):
            return Counter()
        outcomes: Counter[str] = Counter()
        for job_id in self.store.active_ids():
            outcome = self.store.sweep_one(
                job_id,
                UNSENT_GRACE_SECONDS,
                self.settings.queued_resend_seconds,
                self.settings.job_max_attempts,
            )
            if outcome == "send":
                outcome = "sent" if self.dispatcher.send(job_id) else "send_failed"
            if outcome != "ok":
                log.info("sweeper: job %s %s", job_id, outcome)
            outcomes[outcome] += 1
        outcomes["deletions_finished"] = self.deleter.finish_pending()
        if self.settings.retention_days > 0:
            outcomes["expired"] = self.deleter.expire(
                [tenant for tenant, _ in self.settings.tenant_keys()],
                self.settings.retention_days * 86400,
            )
        self.storage.remove_orphans()
        return outcomes

    def _run(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                self.sweep_once()
            except redis.RedisError as exc:
                log.warning("sweeper: job store unreachable (%s); retrying next round", exc)
            except Exception:
                # Logged with its traceback; the sweeper must outlive one bad round.
                log.exception("sweeper: round failed")

    def start(self) -> None:
        """Sweep in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="deteval-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for the round in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
