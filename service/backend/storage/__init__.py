"""Where datasets, evaluations and reports are kept: a local data directory (the
default, :mod:`.local`) or an S3-API object store (:mod:`.s3`), behind one interface
(:class:`Storage`, :mod:`.base`)."""

from __future__ import annotations

from service.backend.config import Settings
from service.backend.storage.base import (
    GT_FILE,
    INLINE_GT_FILE,
    PREDICTIONS_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    Storage,
    is_out_of_space,
    is_valid_id,
    new_id,
)
from service.backend.storage.local import LocalStorage


def open_storage(settings: Settings) -> Storage:
    """The storage ``settings.storage`` names (``"local"`` or ``"s3"``)."""
    if settings.storage == "s3":
        from service.backend.storage.s3 import S3Storage  # boto3 only when it is used

        return S3Storage.from_settings(settings)
    return LocalStorage(settings.data_dir)


__all__ = [
    "GT_FILE",
    "INLINE_GT_FILE",
    "PREDICTIONS_FILE",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "LocalStorage",
    "Storage",
    "is_out_of_space",
    "is_valid_id",
    "new_id",
    "open_storage",
]
