"""Finished evaluations as people read them: report pages, comparisons, dataset listings.

The rules (what is ready, what may be compared) are here; the CPU-bound work (parsing
reports, rendering HTML, computing deltas) runs in the work pool, in :mod:`service.api.pages`.
A succeeded job's metrics are read from its report once and then cached in its record,
so listing a dataset's evaluations reads no report twice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio

from service.api import pages, stored
from service.api.errors import (
    DatasetNotFound,
    EvaluationNotFound,
    NotComparable,
    ReportNotReady,
)
from service.api.state import AppState
from service.backend.catalog import READY
from service.backend.jobs import DELETING, FAILED, SUCCEEDED, Job
from service.backend.storage import is_valid_id


async def own_dataset(state: AppState, tenant: str, dataset_id: str) -> dict[str, Any]:
    """The summary of one of ``tenant``'s datasets (404 for another's, or one being
    deleted)."""
    summary = await anyio.to_thread.run_sync(state.storage.dataset_summary, tenant, dataset_id)
    if summary is not None:
        record = await state.jobs.dataset(dataset_id)
        if record is not None and record.status != READY:
            summary = None
    if summary is None:  # another tenant's dataset does not exist for you
        raise DatasetNotFound(f"no dataset with id {dataset_id!r}")
    return summary


async def own_job(state: AppState, tenant: str, evaluation_id: str) -> Job:
    """One of ``tenant``'s evaluations (404 for another's, or one being deleted)."""
    job = None
    if is_valid_id(evaluation_id):
        job = await state.jobs.get(evaluation_id)
    # Another tenant's job does not exist for you, nor one being deleted.
    if job is None or job.tenant != tenant or job.status == DELETING:
        raise EvaluationNotFound(f"no evaluation with id {evaluation_id!r}")
    return job


def require_report(job: Job) -> None:
    """Raise 409 (:class:`ReportNotReady`) unless ``job`` succeeded and has its report."""
    if job.status == FAILED:
        detail = job.error["detail"] if job.error else "unknown reason"
        raise ReportNotReady(
            f"evaluation {job.id} failed, no report: {detail}", job_status=job.status
        )
    if job.status != SUCCEEDED:
        raise ReportNotReady(
            f"evaluation {job.id} is {job.status} ({job.progress:.0%}); "
            f"poll /v1/evaluations/{job.id}",
            job_status=job.status,
        )


def _report(state: AppState, job: Job) -> AbstractAsyncContextManager[Path]:
    return stored.local_file(state.storage.report_file(job.tenant, job.id))


async def report_html(state: AppState, job: Job) -> str:
    """The HTML page of a succeeded evaluation (409 otherwise)."""
    require_report(job)
    title = (
        f"Evaluation {job.labels.name} ({job.id})" if job.labels.name else f"Evaluation {job.id}"
    )
    async with _report(state, job) as path:
        return await state.pool.run(pages.report_page, os.fspath(path), title)


async def compare(state: AppState, a: Job, b: Job) -> dict[str, Any]:
    """Deltas from evaluation ``a`` (baseline) to ``b`` (candidate).

    Two evaluations of registered datasets must be of the same dataset; otherwise (inline
    ground truth on either side) their reports must cover the same categories.

    Raises
    ------
    NotComparable
        Different datasets, or different category sets (422).
    ReportNotReady
        Either has not succeeded (409).
    """
    if a.dataset_id is not None and b.dataset_id is not None and a.dataset_id != b.dataset_id:
        raise NotComparable(
            f"evaluations {a.id} and {b.id} are of different datasets "
            f"({a.dataset_id} and {b.dataset_id}); compare evaluations of one dataset",
            datasets=[a.dataset_id, b.dataset_id],
        )
    require_report(a)
    require_report(b)
    try:
        async with _report(state, a) as path_a, _report(state, b) as path_b:
            result = await state.pool.run(pages.comparison, os.fspath(path_a), os.fspath(path_b))
    except ValueError as exc:
        raise NotComparable(f"evaluations {a.id} and {b.id}: {exc}") from exc
    names = {"a": a.labels.name, "b": b.labels.name}
    return {"evaluations": {"a": a.id, "b": b.id}, "names": names, **result}


async def _metrics(state: AppState, job: Job) -> dict[str, float | None] | None:
    if job.status != SUCCEEDED:
        return None
    if job.metrics is not None:
        return job.metrics
    async with _report(state, job) as path:
        metrics = await state.pool.run(pages.report_metrics, os.fspath(path))
    await state.jobs.cache_metrics(job.id, metrics)
    return metrics


async def listing(state: AppState, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """One row per job: id, status, progress, times, and the metrics once succeeded."""
    metrics = await asyncio.gather(*(_metrics(state, job) for job in jobs))
    return [
        {
            "id": job.id,
            "name": job.labels.name,
            "tags": list(job.labels.tags),
            "status": job.status,
            "progress": job.progress,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "metrics": job_metrics,
        }
        for job, job_metrics in zip(jobs, metrics, strict=True)
    ]


def report_link(evaluation_id: str) -> str:
    """The link of a leaderboard row to its report page, relative to the leaderboard
    (``../../evaluations/<id>/report.html`` from ``/v1/datasets/<id>/leaderboard.html``),
    so it also works behind a path prefix."""
    return f"../../evaluations/{evaluation_id}/report.html"


async def leaderboard_html(
    state: AppState,
    dataset: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    href: Callable[[str], str] = report_link,
) -> str:
    """The dataset page: its evaluations as a leaderboard, the finished ones linking to
    ``href(id)``, their report pages."""
    called = f"{dataset['name']} (dataset {dataset['id']})" if dataset.get("name") else None
    name = (
        f"{called or 'dataset ' + dataset['id']} ({dataset['n_images']} images, "
        f"{dataset['n_annotations']} annotations, {dataset['n_categories']} categories)"
    )
    linked = [
        {
            **row,
            "label": row["name"],
            **({"href": href(row["id"])} if row["status"] == SUCCEEDED else {}),
        }
        for row in rows
    ]
    return await state.pool.run(pages.leaderboard_page, name, linked)


async def dataset_leaderboard_html(
    state: AppState,
    tenant: str,
    dataset_id: str,
    limit: int,
    href: Callable[[str], str] = report_link,
) -> str:
    """:func:`leaderboard_html` of one of ``tenant``'s datasets and its newest ``limit``
    evaluations (404 for another's dataset, or one being deleted)."""
    dataset = await own_dataset(state, tenant, dataset_id)
    jobs = await state.jobs.dataset_jobs(tenant, dataset_id, limit)
    return await leaderboard_html(state, dataset, await listing(state, jobs), href)
