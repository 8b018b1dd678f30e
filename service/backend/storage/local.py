"""Storage in a local data directory (the embedded default; a shared volume in compose).

Layout under the data directory (one volume shared by every API and worker replica)::

    tmp/                                   uploads being received (removed on rejection)
    datasets/<tenant>/<id>/gt.json         ground truth, immutable once registered
    datasets/<tenant>/<id>/summary.json    {id, n_images, n_annotations, n_categories}
    evaluations/<tenant>/<id>/predictions.json
    evaluations/<tenant>/<id>/ground_truth.json   only for inline ground truth
    evaluations/<tenant>/<id>/report.json  written once, atomically

A resource directory appears by one ``rename`` of a fully written staging directory, and
a report by one ``os.replace``: a reader never sees half of either. A write that fails
for lack of space (:func:`~.base.is_out_of_space`) leaves no partial file behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from service.backend.storage.base import (
    DATASETS,
    EVALUATIONS,
    REPORT_FILE,
    SUMMARY_FILE,
    Storage,
    check_names,
)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(Storage):
    """The data directory.

    Parameters
    ----------
    root : Path
        The data directory; created with its sub-directories if missing.
    """

    stable_paths = True

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.root = root
        for sub in (root / DATASETS, root / EVALUATIONS):
            sub.mkdir(parents=True, exist_ok=True)

    def _dir(self, kind: str, tenant: str, resource_id: str) -> Path:
        return self.root / kind / tenant / resource_id

    def dataset_dir(self, tenant: str, dataset_id: str) -> Path:
        """Directory of one dataset (it may not exist)."""
        check_names(tenant, dataset_id)
        return self._dir(DATASETS, tenant, dataset_id)

    def evaluation_dir(self, tenant: str, evaluation_id: str) -> Path:
        """Directory of one evaluation (it may not exist)."""
        check_names(tenant, evaluation_id)
        return self._dir(EVALUATIONS, tenant, evaluation_id)

    def writable(self) -> bool:
        return os.access(self.root, os.W_OK)

    def _commit(
        self, kind: str, tenant: str, resource_id: str, files: dict[str, Path], summary: dict | None
    ) -> None:
        final = self._dir(kind, tenant, resource_id)
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

    def _remove(self, kind: str, tenant: str, resource_id: str) -> bool:
        # First renamed into tmp/ (one step, so the resource is gone at once for readers),
        # then removed.
        directory = self._dir(kind, tenant, resource_id)
        doomed = self.tmp / f"{directory.name}.{uuid.uuid4().hex[:8]}.deleting"
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            return True
        shutil.rmtree(doomed, ignore_errors=True)
        return not directory.exists()

    def _summary(self, tenant: str, dataset_id: str) -> dict | None:
        try:
            data = (self._dir(DATASETS, tenant, dataset_id) / SUMMARY_FILE).read_bytes()
        except FileNotFoundError:
            return None
        summary: dict = orjson.loads(data)
        return summary

    def _read(self, kind: str, tenant: str, resource_id: str, name: str) -> bytes:
        return (self._dir(kind, tenant, resource_id) / name).read_bytes()

    @contextmanager
    def _local_file(self, kind: str, tenant: str, resource_id: str, name: str) -> Iterator[Path]:
        path = self._dir(kind, tenant, resource_id) / name
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, "no such stored file", os.fspath(path))
        yield path

    def _write_report(self, tenant: str, evaluation_id: str, data: bytes) -> None:
        final = self._dir(EVALUATIONS, tenant, evaluation_id) / REPORT_FILE
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

    def _remove_orphans(self, cutoff: float) -> int:
        return 0  # staging and half-deleted directories live in tmp/: remove_stale_temp
