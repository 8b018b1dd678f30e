"""Fixtures for the service tests. Each test module builds its own stack once
(module scope), which keeps the suite's wall time down.

A module that sets ``STORAGES = ("local", "s3")`` runs once per storage: its ``storage``
fixture is parametrized, and ``storage_settings`` points the stack at a fresh bucket of
an S3-protocol server (moto's, in its own process on loopback) for ``"s3"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from s3_server import S3Server
from service_stack import Stack, running_stack


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    storages = getattr(metafunc.module, "STORAGES", None)
    if storages is not None and "storage" in metafunc.fixturenames:
        metafunc.parametrize("storage", storages, indirect=True, scope="module")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3-protocol server for the session; each user takes a bucket of its own."""
    server = S3Server(tmp_path_factory.mktemp("s3") / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def storage(request: pytest.FixtureRequest) -> str:
    """The storage a module's stack uses: "local" unless the module asks for more."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(scope="module")
def new_storage_settings(
    request: pytest.FixtureRequest, storage: str
) -> Callable[[], dict[str, str]]:
    """Makes stack settings for ``storage``: none for the data directory (each stack has
    its own); a new bucket (keys under a prefix) of the session's S3 server for "s3"."""

    def make() -> dict[str, str]:
        if storage == "local":
            return {}
        server: S3Server = request.getfixturevalue("s3_server")
        return server.settings(server.new_bucket(), prefix="deteval/")

    return make


@pytest.fixture(scope="module")
def storage_settings(new_storage_settings: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Stack settings for the module's ``storage``, shared by the module."""
    return new_storage_settings()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, storage_settings: dict[str, str]
) -> Iterator[Stack]:
    """API + one worker (reporting in), shared by a test module."""
    with running_stack(tmp_path_factory.mktemp("stack"), **storage_settings) as running:
        yield running
