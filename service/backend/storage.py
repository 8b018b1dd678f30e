"""Files on disk: uploads in progress, datasets, evaluations and reports.

Layout under the data directory (one volume shared by every API and worker replica)::

    tmp/                                   uploads being received (removed on rejection)
    datasets/<tenant>/<id>/gt.json         ground truth, immutable once registered
    datasets/<tenant>/<id>/summary.json    {id, n_images, n_annotations, n_categories}
    evaluations/<tenant>/<id>/predictions.json
    evaluations/<tenant>/<id>/ground_truth.json   only for inline ground truth
    evaluations/<tenant>/<id>/report.json  written once, atomically

A resource directory appears by one ``rename`` of a fully written staging directory, and
a report by one ``os.replace``: a reader never sees half of either. A write that fails
for lack of space (:func:`is_out_of_space`) leaves no partial file behind.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from service.backend.config import TENANT_PATTERN

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
GT_FILE = "gt.json"
SUMMARY_FILE = "summary.json"
PREDICTIONS_FILE = "predictions.json"
INLINE_GT_FILE = "ground_truth.json"
REPORT_FILE = "report.json"
#: The errors of a write the volume has no room for: no space, or the user's quota used up.
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def new_id() -> str:
    """A fresh resource id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def is_valid_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id (so it cannot name another path)."""
    return bool(ID_PATTERN.match(value))


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write refused for lack of space (a full disk or quota)."""
    return isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Storage:
    """The data directory.

    Parameters
    ----------
    root : Path
        The data directory; created with its sub-directories if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        for sub in (self.tmp, root / "datasets", root / "evaluations"):
            sub.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------
    def _resource_dir(self, kind: str, tenant: str, resource_id: str) -> Path:
        # Both parts are checked so that no caller can build a path outside the root.
        if not TENANT_PATTERN.match(tenant) or not is_valid_id(resource_id):
            raise ValueError(f"invalid tenant {tenant!r} or id {resource_id!r}")
        return self.root / kind / tenant / resource_id

    def dataset_dir(self, tenant: str, dataset_id: str) -> Path:
        """Directory of one dataset (it may not exist)."""
        return self._resource_dir("datasets", tenant, dataset_id)

    def evaluation_dir(self, tenant: str, evaluation_id: str) -> Path:
        """Directory of one evaluation (it may not exist)."""
        return self._resource_dir("evaluations", tenant, evaluation_id)

    def free_bytes(self) -> int:
        """Bytes free for this process on the data directory's volume."""
        return shutil.disk_usage(self.root).free

    # -- staging -------------------------------------------------------------------------
    def new_temp_file(self) -> Path:
        """Create an empty file under ``tmp/`` for an upload being received."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        os.close(fd)
        return Path(name)

    def _commit(self, final: Path, files: dict[str, Path], summary: dict | None) -> None:
        """Move staged ``files`` (target name -> temp path) into ``final`` in one rename."""
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.tmp, suffix=".staging"))
        try:
            for name, src in files.items():
                os.replace(src, staging / name)
            if summary is not None:
                (staging / SUMMARY_FILE).write_bytes(orjson.dumps(summary))
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_dir(final.parent)

    def commit_dataset(self, tenant: str, dataset_id: str, gt: Path, summary: dict) -> None:
        """Register a validated ground-truth upload under its new id."""
        self._commit(self.dataset_dir(tenant, dataset_id), {GT_FILE: gt}, summary)

    def commit_evaluation(self, tenant: str, evaluation_id: str, files: dict[str, Path]) -> None:
        """Store the validated uploads of an evaluation (``predictions.json``, ...)."""
        self._commit(self.evaluation_dir(tenant, evaluation_id), files, None)

    def remove_evaluation(self, tenant: str, evaluation_id: str) -> bool:
        """Delete an evaluation's files; whether none are left (a file written meanwhile,
        by a worker finishing, can keep its directory: call again)."""
        return self._remove(self.evaluation_dir(tenant, evaluation_id))

    def remove_dataset(self, tenant: str, dataset_id: str) -> bool:
        """Delete a dataset's files; whether none are left."""
        return self._remove(self.dataset_dir(tenant, dataset_id))

    def _remove(self, directory: Path) -> bool:
        """Delete ``directory``: first renamed into ``tmp/`` (one step, so its resource
        is gone at once for readers), then removed; True once it no longer exists."""
        doomed = self.tmp / f"{directory.name}.{uuid.uuid4().hex[:8]}.deleting"
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            return True
        shutil.rmtree(doomed, ignore_errors=True)
        return not directory.exists()

    # -- reading -------------------------------------------------------------------------
    def dataset_summary(self, tenant: str, dataset_id: str) -> dict | None:
        """The stored summary of a dataset, or None if this tenant has no such dataset."""
        if not is_valid_id(dataset_id):
            return None
        try:
            data = (self.dataset_dir(tenant, dataset_id) / SUMMARY_FILE).read_bytes()
        except FileNotFoundError:
            return None
        summary: dict = orjson.loads(data)
        return summary

    def ground_truth_path(self, tenant: str, evaluation_id: str, dataset_id: str | None) -> Path:
        """Where an evaluation's ground truth is: its dataset's, or its inline upload."""
        if dataset_id is None:
            return self.evaluation_dir(tenant, evaluation_id) / INLINE_GT_FILE
        return self.dataset_dir(tenant, dataset_id) / GT_FILE

    def predictions_path(self, tenant: str, evaluation_id: str) -> Path:
        """Where an evaluation's predictions are."""
        return self.evaluation_dir(tenant, evaluation_id) / PREDICTIONS_FILE

    def report_path(self, tenant: str, evaluation_id: str) -> Path:
        """Where an evaluation's report is (once written)."""
        return self.evaluation_dir(tenant, evaluation_id) / REPORT_FILE

    # -- writing reports -----------------------------------------------------------------
    def write_report(self, tenant: str, evaluation_id: str, data: bytes) -> None:
        """Write a report atomically: a reader sees no report or all of it.

        Running twice (a redelivered task) replaces the report with an identical one.
        """
        final = self.report_path(tenant, evaluation_id)
        fd, name = tempfile.mkstemp(dir=final.parent, prefix=".report-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(name, final)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)

    # -- housekeeping --------------------------------------------------------------------
    def remove_stale_temp(self, older_than_seconds: float) -> int:
        """Delete leftovers in ``tmp/`` of processes that died mid-upload; return how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.tmp.iterdir():
            try:
                if entry.stat().st_mtime >= cutoff:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed
