"""The work of one evaluation job, as plain functions (no Celery in here).

:func:`score` turns stored files into report bytes; :func:`run_job` adds the job's life
around it: claim the lease, heartbeat while scoring, write the report atomically,
mark the job finished. Running it twice for the same job (a redelivered task) is safe:
the second run finds the job finished and does nothing, or, if the first died, scores
again and writes an identical report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import orjson
import redis

from evaluator import InputError, evaluate_coco, read_report
from evaluator.input.loading import IouType
from service.backend import joblog
from service.backend.config import Settings
from service.backend.jobs import DELETING, Job, JobStore
from service.backend.storage import Storage

log = logging.getLogger(__name__)


def score(
    gt_path: Path,
    predictions_path: Path,
    progress: Callable[[float], None] | None = None,
    run: dict[str, Any] | None = None,
    iou_type: IouType = "bbox",
) -> bytes:
    """Evaluate stored predictions against stored ground truth; the report as JSON bytes.

    ``run`` (the evaluation's id, labels and dataset) becomes the report's ``run`` section;
    ``iou_type`` is what the evaluation compares (boxes, masks or keypoints).

    Raises
    ------
    evaluator.InputError
        The files cannot be evaluated (the API validates uploads, so this is rare).
    """
    # extras: the VOC, confusion-matrix and error-breakdown sections the report page shows.
    report = evaluate_coco(
        gt_path,
        predictions_path,
        iou_type=iou_type,
        unknown_categories="error",
        extras=True,
        progress=progress,
    )
    document = report.to_dict()
    if run is not None:
        document["run"] = run
    read_report(document)  # a report that breaks the published schema is never stored
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


class JobCancelled(Exception):
    """The job was deleted while it ran: stop, write nothing."""


class Heartbeat:
    """Renews a job's lease from a background thread, carrying the latest progress.

    Use as a context manager around the work; call the instance with a fraction in
    [0, 1] to report progress (it is written at the next beat). Once a beat finds the
    job deleted (or being deleted), ``cancelled`` is set and the next progress report
    raises :class:`JobCancelled`.
    """

    def __init__(self, store: JobStore, job_id: str, token: str, lease_seconds: float) -> None:
        self.store = store
        self.job_id = job_id
        self.token = token
        self.lease = lease_seconds
        self.period = max(0.2, lease_seconds / 4)
        self._progress: float | None = None
        self.cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __call__(self, fraction: float) -> None:
        if self.cancelled:
            raise JobCancelled(self.job_id)
        self._progress = min(1.0, max(0.0, float(fraction)))

    def _beat(self) -> None:
        try:
            renewed = self.store.heartbeat(self.job_id, self.token, self.lease, self._progress)
            if renewed < 0:
                self.cancelled = True
            elif not renewed:
                log.warning("job %s: lease lost to another worker; finishing anyway", self.job_id)
        except redis.RedisError as exc:
            log.warning("job %s: heartbeat failed (%s); will retry", self.job_id, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._beat()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


def run_section(job: Job, storage: Storage) -> dict[str, Any]:
    """The report's ``run`` section of ``job``: its id and labels, its dataset's id and
    name."""
    dataset = None
    if job.dataset_id is not None:
        dataset = storage.dataset_summary(job.tenant, job.dataset_id)
    return {
        "id": job.id,
        "name": job.labels.name,
        "tags": list(job.labels.tags),
        "metadata": job.labels.metadata,
        "dataset_id": job.dataset_id,
        "dataset_name": (dataset or {}).get("name"),
    }


def run_job(job_id: str, token: str, store: JobStore, storage: Storage, settings: Settings) -> str:
    """Run one attempt of a job; returns what happened.

    Parameters
    ----------
    job_id : str
    token : str
        Names this attempt's lease (the Celery task id, so a redelivery of the same
        message may take over the lease its dead predecessor held).

    Returns
    -------
    str
        ``"succeeded"``, ``"failed"`` (bad input, or attempts used up), ``"cancelled"``
        (deleted while it ran: nothing written), or, when this attempt did nothing, the
        claim outcome: ``"busy"``, ``"missing"``, ``"deleting"``, or the status of an
        already finished job.

    Raises
    ------
    redis.RedisError, ConnectionError, TimeoutError
        Transient trouble with the job store, the data volume or the object store; the
        caller retries (each try is an attempt).
    OSError
        With ``errno`` ENOSPC or EDQUOT (:func:`service.backend.storage.is_out_of_space`): no
        room for the report, of which nothing is left behind; the caller retries until
        room comes back, without counting attempts. Any other ``OSError`` fails the job.
    """
    job = store.get(job_id)
    if job is None:
        log.error("job %s has no record; dropping its task", job_id)
        return "missing"
    claim = store.claim(job_id, token, settings.job_lease_seconds, settings.job_max_attempts)
    if claim.outcome != "claimed":
        log.info("job %s: not running it (%s)", job_id, claim.outcome)
        return claim.outcome
    log.info("job %s: attempt %d", job_id, claim.attempt)
    run = run_section(job, storage)
    with Heartbeat(store, job_id, token, settings.job_lease_seconds) as beat:
        try:
            iou_type = cast(IouType, job.iou_type)  # the API let only these three through
            # On local disk for the scoring: the stored files, or temporary copies of an
            # object store's (streamed to disk, removed at the end of the block).
            with (
                storage.ground_truth_file(job.tenant, job_id, job.dataset_id) as gt_path,
                storage.predictions_file(job.tenant, job_id) as predictions_path,
            ):
                report = score(gt_path, predictions_path, progress=beat, run=run, iou_type=iou_type)
            beat(1.0)  # a last look: deleted meanwhile?
            storage.write_report(job.tenant, job_id, report)
            if _deleted(store, job_id):
                # Deleted between the last look and the write: an object store took the
                # report where the files had gone, so take it back.
                storage.remove_evaluation(job.tenant, job_id)
                raise JobCancelled(job_id)
        except Exception as exc:
            # Deleted while it ran: its files went (reading or writing them fails) or a
            # heartbeat saw the mark. Nothing of it is written.
            if isinstance(exc, JobCancelled) or _deleted(store, job_id):
                log.info("job %s: deleted while it ran; cancelled", job_id)
                # Its record may be gone already: the line takes what it needs from here.
                store.events.emit(
                    joblog.CANCELLED,
                    job_id,
                    tenant=job.tenant,
                    dataset_id=job.dataset_id,
                    iou_type=job.iou_type,
                    attempt=claim.attempt,
                )
                return "cancelled"
            if not isinstance(exc, InputError):
                raise
            store.fail(
                job_id, "invalid_input", str(exc), location=exc.location, problem=exc.problem
            )
            return "failed"
    store.succeed(job_id, job.tenant, len(report))
    return "succeeded"


def _deleted(store: JobStore, job_id: str) -> bool:
    job = store.get(job_id)
    return job is None or job.status == DELETING
