"""Fixtures for the service tests. Each test module builds its own stack once
(module scope), which keeps the suite's wall time down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API + one worker (reporting in), shared by a test module."""
    running = Stack(tmp_path_factory.mktemp("stack")).start()
    running.start_worker()
    running.wait_workers(1)
    try:
        yield running
    finally:
        running.stop()
