"""What every storage offers: the interface, ids, file names, local scratch space.

A *resource* is a dataset or an evaluation of one tenant, a few named files. Whatever the
backend, a resource appears whole (a reader never sees half of one), a report is
written in one step, and a failed or interrupted write leaves nothing behind for good
(:meth:`Storage.remove_stale_temp` clears what a crash left on a host's disk, and the
sweeper's :meth:`Storage.remove_orphans` what it left in storage).

Uploads always arrive in a local scratch directory (``<data_dir>/tmp``) first; committing
them moves (local) or copies (object store) them into storage. Readers that need a file
on disk (the validation and scoring code) get one from :meth:`Storage.dataset_file` and
friends: the stored file itself, or a temporary copy removed when they are done.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path

from service.backend.config import TENANT_PATTERN

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DATASETS, EVALUATIONS = "datasets", "evaluations"
GT_FILE = "gt.json"
SUMMARY_FILE = "summary.json"
PREDICTIONS_FILE = "predictions.json"
INLINE_GT_FILE = "ground_truth.json"
REPORT_FILE = "report.json"
#: The errors of a write the volume has no room for: no space, or the user's quota used up.
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: What a crash left (a temporary file, a resource with no manifest) is removed once it is
#: this old: no upload, commit or download takes that long.
STALE_TEMP_SECONDS = 3600.0


def new_id() -> str:
    """A fresh resource id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def is_valid_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id (so it cannot name another path)."""
    return bool(ID_PATTERN.match(value))


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write refused for lack of space (a full disk or quota)."""
    return isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS


def check_names(tenant: str, resource_id: str) -> None:
    """Refuse a tenant or id that could name something outside its resource.

    Raises
    ------
    ValueError
        ``tenant`` is not a safe identifier or ``resource_id`` not 32 hex digits.
    """
    if not TENANT_PATTERN.match(tenant) or not is_valid_id(resource_id):
        raise ValueError(f"invalid tenant {tenant!r} or id {resource_id!r}")


class Storage(ABC):
    """Datasets, evaluations and reports, kept by a backend (:mod:`.local`, :mod:`.s3`).

    Parameters
    ----------
    scratch : Path
        The local directory whose ``tmp/`` receives uploads (created if missing).
    """

    #: Whether the paths readers get are the stored files themselves (so a cache may key
    #: on them), not temporary copies.
    stable_paths = False

    def __init__(self, scratch: Path) -> None:
        self.tmp = scratch / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    # -- scratch space -------------------------------------------------------------------
    def new_temp_file(self) -> Path:
        """Create an empty file under ``tmp/`` for an upload being received."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        os.close(fd)
        return Path(name)

    def free_bytes(self) -> int:
        """Bytes free for this process where uploads are received."""
        return shutil.disk_usage(self.tmp).free

    # -- resources -----------------------------------------------------------------------
    def commit_dataset(self, tenant: str, dataset_id: str, gt: Path, summary: dict) -> None:
        """Register a validated ground-truth upload under its new id (the temp file is
        consumed)."""
        check_names(tenant, dataset_id)
        self._commit(DATASETS, tenant, dataset_id, {GT_FILE: gt}, summary)

    def commit_evaluation(self, tenant: str, evaluation_id: str, files: dict[str, Path]) -> None:
        """Store the validated uploads of an evaluation (``predictions.json``, ...); the
        temp files are consumed."""
        check_names(tenant, evaluation_id)
        self._commit(EVALUATIONS, tenant, evaluation_id, files, None)

    def remove_evaluation(self, tenant: str, evaluation_id: str) -> bool:
        """Delete an evaluation's files; whether none are left (a file written meanwhile,
        by a worker finishing, can be left: call again)."""
        check_names(tenant, evaluation_id)
        return self._remove(EVALUATIONS, tenant, evaluation_id)

    def remove_dataset(self, tenant: str, dataset_id: str) -> bool:
        """Delete a dataset's files; whether none are left."""
        check_names(tenant, dataset_id)
        return self._remove(DATASETS, tenant, dataset_id)

    def dataset_summary(self, tenant: str, dataset_id: str) -> dict | None:
        """The stored summary of a dataset, or None if this tenant has no such dataset."""
        if not is_valid_id(dataset_id):
            return None
        check_names(tenant, dataset_id)
        return self._summary(tenant, dataset_id)

    # -- files for readers ---------------------------------------------------------------
    def dataset_file(self, tenant: str, dataset_id: str) -> AbstractContextManager[Path]:
        """A dataset's ground truth on local disk, for the ``with`` block.

        Raises
        ------
        FileNotFoundError
            No such dataset (or it was deleted meanwhile).
        """
        check_names(tenant, dataset_id)
        return self._local_file(DATASETS, tenant, dataset_id, GT_FILE)

    def ground_truth_file(
        self, tenant: str, evaluation_id: str, dataset_id: str | None
    ) -> AbstractContextManager[Path]:
        """An evaluation's ground truth on local disk: its dataset's, or its inline
        upload's (see :meth:`dataset_file`)."""
        if dataset_id is not None:
            return self.dataset_file(tenant, dataset_id)
        check_names(tenant, evaluation_id)
        return self._local_file(EVALUATIONS, tenant, evaluation_id, INLINE_GT_FILE)

    def predictions_file(self, tenant: str, evaluation_id: str) -> AbstractContextManager[Path]:
        """An evaluation's predictions on local disk (see :meth:`dataset_file`)."""
        check_names(tenant, evaluation_id)
        return self._local_file(EVALUATIONS, tenant, evaluation_id, PREDICTIONS_FILE)

    def report_file(self, tenant: str, evaluation_id: str) -> AbstractContextManager[Path]:
        """An evaluation's report on local disk (see :meth:`dataset_file`)."""
        check_names(tenant, evaluation_id)
        return self._local_file(EVALUATIONS, tenant, evaluation_id, REPORT_FILE)

    def read_report(self, tenant: str, evaluation_id: str) -> bytes:
        """An evaluation's report.

        Raises
        ------
        FileNotFoundError
            It has none (yet, or any more).
        """
        check_names(tenant, evaluation_id)
        return self._read(EVALUATIONS, tenant, evaluation_id, REPORT_FILE)

    def write_report(self, tenant: str, evaluation_id: str, data: bytes) -> None:
        """Write a report atomically: a reader sees no report or all of it.

        Running twice (a redelivered task) replaces the report with an identical one.
        """
        check_names(tenant, evaluation_id)
        self._write_report(tenant, evaluation_id, data)

    # -- housekeeping --------------------------------------------------------------------
    def remove_stale_temp(self, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
        """Delete what crashed processes left in this host's ``tmp/`` (uploads being
        received, temporary copies, staged or half-deleted directories) older than
        ``older_than_seconds``; return how many."""
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

    def remove_orphans(self, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
        """Delete what crashes left in storage itself, last written more than
        ``older_than_seconds`` ago; return how many files or objects."""
        return self._remove_orphans(time.time() - older_than_seconds)

    @abstractmethod
    def writable(self) -> bool:
        """Whether the storage answers and takes writes (for the health check)."""

    # -- what a backend provides ---------------------------------------------------------
    @abstractmethod
    def _commit(
        self, kind: str, tenant: str, resource_id: str, files: dict[str, Path], summary: dict | None
    ) -> None:
        """Make a resource of ``files`` (target name -> temp path, consumed) and, if given,
        ``summary`` appear in one step; on failure leave nothing of it."""

    @abstractmethod
    def _remove(self, kind: str, tenant: str, resource_id: str) -> bool:
        """Make a resource disappear in one step, then remove its files; True once none
        are left."""

    @abstractmethod
    def _summary(self, tenant: str, dataset_id: str) -> dict | None:
        """A registered dataset's summary, or None."""

    @abstractmethod
    def _read(self, kind: str, tenant: str, resource_id: str, name: str) -> bytes:
        """One stored file's bytes (FileNotFoundError when missing)."""

    @abstractmethod
    def _local_file(
        self, kind: str, tenant: str, resource_id: str, name: str
    ) -> AbstractContextManager[Path]:
        """One stored file on local disk for a ``with`` block (FileNotFoundError when
        missing)."""

    @abstractmethod
    def _write_report(self, tenant: str, evaluation_id: str, data: bytes) -> None:
        """Store a report in one atomic step."""

    @abstractmethod
    def _remove_orphans(self, cutoff: float) -> int:
        """Remove stored leftovers of crashes last written before ``cutoff`` (a Unix
        time); how many."""
