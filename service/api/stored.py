"""Stored files on local disk for the event loop: :meth:`Storage.dataset_file` and its
kin fetch in a thread (an object store's download blocks), and clean up in one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

import anyio


@asynccontextmanager
async def local_file(opened: AbstractContextManager[Path]) -> AsyncIterator[Path]:
    """Enter ``opened`` (e.g. ``storage.report_file(tenant, id)``) in a thread, yield its
    path, and exit it in a thread (removing a temporary copy) when the block ends."""
    path = await anyio.to_thread.run_sync(opened.__enter__)
    try:
        yield path
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled request still cleans up
            await anyio.to_thread.run_sync(opened.__exit__, None, None, None)
