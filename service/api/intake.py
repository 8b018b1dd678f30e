"""Accepting uploads: validate (in the validation processes), store, record, enqueue.

The API never scores; it only checks that an upload can be scored (so bad input is a
422 now, not a failed job later) and hands it to the workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TypeVar

import anyio
import redis

from service.api import labels, stored
from service.api.errors import (
    DatasetNotFound,
    InsufficientStorage,
    InvalidRequest,
    QuotaExceeded,
)
from service.api.state import AppState
from service.api.uploads import Upload
from service.backend import telemetry
from service.backend.jobs import Job
from service.backend.labels import RunLabels
from service.backend.storage import (
    INLINE_GT_FILE,
    PREDICTIONS_FILE,
    is_out_of_space,
    is_valid_id,
    new_id,
)

T = TypeVar("T")

log = logging.getLogger(__name__)


async def _store(state: AppState, fn: Callable[..., T], *args: object) -> T:
    """Run a storing step in a thread; a write refused for lack of room is a 507.

    The storage steps leave nothing behind when they fail, so nothing was kept.
    """
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except OSError as exc:
        if not is_out_of_space(exc):
            raise
        free = state.storage.free_bytes()
        raise InsufficientStorage(
            f"the data directory ran out of room while storing the upload ({exc.strerror}; "
            f"{free} bytes free); nothing was stored, retry later",
            free_bytes=free,
        ) from exc


async def register_dataset(
    state: AppState,
    tenant: str,
    upload: Upload,
    name: str | None = None,
    description: str | None = None,
) -> dict:
    """Validate an uploaded ground truth and register it; returns its summary.

    ``name`` and ``description`` (query parameters) or the upload's form fields of those
    names label it; giving one both ways is refused.

    Raises
    ------
    InvalidRequest
        No ``file`` part.
    InvalidInput
        The ground truth fails validation.
    InsufficientStorage
        No room left to store it.
    QuotaExceeded
        It would take the tenant over its storage quota.
    """
    path = upload.files.get("file")
    if path is None:
        raise InvalidRequest("missing file field 'file' with the COCO ground truth")
    for field, given in (("name", name), ("description", description)):
        if given is not None and field in upload.fields:
            raise InvalidRequest(f"{field!r} given both as a query parameter and a form field")
    name = labels.name(upload.fields.get("name", name))
    description = labels.description(upload.fields.get("description", description))
    checked = await state.validator.ground_truth(path)
    dataset_id = new_id()
    created = time.time()
    summary = {
        "id": dataset_id,
        "name": name,
        "description": description,
        "n_images": checked["n_images"],
        "n_annotations": checked["n_annotations"],
        "n_categories": checked["n_categories"],
        "warnings": checked["warnings"],
        "created_at": dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(
            timespec="milliseconds"
        ),
    }
    await _store(state, _register, state, tenant, path, summary, created)
    return summary


def _register(state: AppState, tenant: str, path: Path, summary: dict, created: float) -> None:
    size = path.stat().st_size
    state.storage.commit_dataset(tenant, summary["id"], path, summary)
    try:
        recorded = state.datasets.create(
            tenant, summary, created, size, state.settings.tenant_quota_bytes
        )
    except redis.RedisError:
        state.storage.remove_dataset(tenant, summary["id"])
        raise
    if not recorded:
        state.storage.remove_dataset(tenant, summary["id"])
        raise _over_quota(state, tenant, size)
    _count_upload(state, "dataset", size)


def _count_upload(state: AppState, kind: str, size: int) -> None:
    """Observe an accepted upload's size in the metrics; a job store that fails just
    then loses the observation, not the upload (it is stored and recorded)."""
    try:
        telemetry.observe(state.store.redis, telemetry.UPLOAD_BYTES, size, kind)
    except redis.RedisError as exc:
        log.warning("could not count a %s upload of %d bytes (%s)", kind, size, exc)


def _over_quota(state: AppState, tenant: str, size: int) -> QuotaExceeded:
    quota, used = state.settings.tenant_quota_bytes, state.datasets.usage(tenant)
    return QuotaExceeded(
        f"this upload ({size} bytes) would take your storage to {used + size} bytes, over "
        f"your quota of {quota} bytes ({used} used); nothing was stored: delete datasets "
        "or evaluations you no longer need (DELETE /v1/evaluations/{id}, "
        "DELETE /v1/datasets/{id}), then retry",
        quota_bytes=quota,
        used_bytes=used,
        upload_bytes=size,
    )


async def submit_evaluation(state: AppState, tenant: str, upload: Upload) -> Job:
    """Validate an evaluation's uploads, store them, record a queued job, send its task.

    Returns the job, with the warnings the predictions raised. When the broker cannot be
    reached the job is kept (queued, unsent) for the sweeper to send.

    Raises
    ------
    InvalidRequest
        Missing predictions, or not exactly one of ``dataset_id`` / ``ground_truth``.
    InvalidInput
        A label (``name``, ``tags``, ``metadata``) is malformed or too long.
    DatasetNotFound
        ``dataset_id`` names no dataset of this tenant.
    InvalidInput
        A file fails validation (bad JSON, schema, values, unknown image/category ids).
    InsufficientStorage
        No room left to store the files.
    QuotaExceeded
        They would take the tenant over its storage quota.
    redis.RedisError
        The job store is unreachable (the stored files are removed again).
    """
    predictions = upload.files.get("predictions")
    if predictions is None:
        raise InvalidRequest("missing file field 'predictions'")
    dataset_id = upload.fields.get("dataset_id") or None
    inline = upload.files.get("ground_truth")
    ground_truth: AbstractContextManager[Path]
    if dataset_id is not None and inline is None:
        if not is_valid_id(dataset_id) or not await anyio.to_thread.run_sync(
            state.storage.dataset_summary, tenant, dataset_id
        ):
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
        ground_truth = state.storage.dataset_file(tenant, dataset_id)
    elif inline is not None and dataset_id is None:
        ground_truth = nullcontext(inline)
    else:
        raise InvalidRequest(
            "give exactly one of the form field 'dataset_id' and the file field 'ground_truth'"
        )
    run = labels.run_labels(upload.fields)
    iou_type = labels.iou_type(upload.fields.get("iou_type"))
    # A registered dataset's loaded ground truth is kept for the next upload when its path
    # is the stored file's (not a temporary copy from an object store).
    cache_gt = dataset_id is not None and state.storage.stable_paths
    try:
        async with stored.local_file(ground_truth) as gt_path:
            warnings = await state.validator.predictions(
                predictions, gt_path, cache_gt=cache_gt, iou_type=iou_type
            )
    except FileNotFoundError as exc:
        if dataset_id is None:
            raise
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}") from exc  # just deleted
    files = {PREDICTIONS_FILE: predictions}
    if inline is not None:
        files[INLINE_GT_FILE] = inline
    return await _store(state, _enqueue, state, tenant, dataset_id, files, warnings, run, iou_type)


def _enqueue(
    state: AppState,
    tenant: str,
    dataset_id: str | None,
    files: dict,
    warnings: list[str],
    run: RunLabels,
    iou_type: str,
) -> Job:
    job_id = new_id()
    sizes = {name: path.stat().st_size for name, path in files.items()}
    size = sum(sizes.values())
    state.storage.commit_evaluation(tenant, job_id, files)
    try:
        created = state.store.create(
            job_id,
            tenant,
            dataset_id,
            warnings,
            run,
            size,
            state.settings.tenant_quota_bytes,
            iou_type,
        )
    except redis.RedisError:
        state.storage.remove_evaluation(tenant, job_id)
        raise
    if created != 1:
        state.storage.remove_evaluation(tenant, job_id)
        if created < 0:
            raise _over_quota(state, tenant, size)
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}")  # being deleted
    for name, size_of in sizes.items():
        _count_upload(state, "predictions" if name == PREDICTIONS_FILE else "ground_truth", size_of)
    state.dispatcher.send(job_id)
    job = state.store.get(job_id)
    if job is None:  # the record was just written; only a wiped store loses it
        raise redis.ConnectionError("job record vanished right after it was written")
    return job
