"""Both storages keep the same promises: a resource appears whole or not at all, reports
are written in one step, deleting leaves nothing, and what a crash leaves is swept.
The S3 storage runs against an S3-protocol server in its own process (``s3_server``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
from s3_server import S3Server
from service_stack import free_port

from service.backend.config import Settings
from service.backend.storage import LocalStorage, Storage, is_valid_id, new_id, open_storage
from service.backend.storage.s3 import S3Storage

SUMMARY = {"id": "x", "n_images": 1, "n_annotations": 0, "n_categories": 1}


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage(Settings(data_dir=tmp_path / "data"))
    server: S3Server = request.getfixturevalue("s3_server")
    settings = server.settings(server.new_bucket(), prefix="team/deteval")
    return open_storage(Settings(data_dir=tmp_path / "data", **settings))


def kept(storage: Storage) -> list[str]:
    """Everything the storage keeps (files or objects), by listing."""
    if isinstance(storage, S3Storage):
        return sorted(obj["Key"] for obj in storage.objects(""))
    assert isinstance(storage, LocalStorage)
    return sorted(
        p.relative_to(storage.root).as_posix()
        for kind in ("datasets", "evaluations")
        for p in (storage.root / kind).rglob("*")
        if p.is_file()
    )


def staged(storage: Storage, data: bytes) -> Path:
    path = storage.new_temp_file()
    path.write_bytes(data)
    return path


def test_ids_cannot_name_other_places(storage: Storage) -> None:
    assert is_valid_id(new_id())
    for bad in ("..", "../x", "a" * 31, "A" * 32, "a" * 32 + "/"):
        assert not is_valid_id(bad)
        assert storage.dataset_summary("alice", bad) is None
        with pytest.raises(ValueError):
            storage.predictions_file("alice", bad)
    with pytest.raises(ValueError):
        storage.commit_dataset("../bob", new_id(), staged(storage, b"{}"), SUMMARY)


def test_commit_read_report_and_remove_leave_nothing(storage: Storage) -> None:
    dataset, evaluation = new_id(), new_id()
    storage.commit_dataset("alice", dataset, staged(storage, b'{"images": []}'), SUMMARY)
    files = {
        "predictions.json": staged(storage, b"[1]"),
        "ground_truth.json": staged(storage, b"{}"),
    }
    storage.commit_evaluation("alice", evaluation, files)
    assert not list(storage.tmp.iterdir())  # the uploads were consumed
    assert storage.dataset_summary("alice", dataset) == SUMMARY
    assert storage.dataset_summary("bob", dataset) is None
    with pytest.raises(FileNotFoundError):
        storage.read_report("alice", evaluation)

    storage.write_report("alice", evaluation, b'{"stats": []}')
    storage.write_report("alice", evaluation, b'{"stats": [1]}')  # a redelivered task
    assert storage.read_report("alice", evaluation) == b'{"stats": [1]}'
    with (
        storage.ground_truth_file("alice", evaluation, dataset) as gt,
        storage.ground_truth_file("alice", evaluation, None) as inline,
        storage.predictions_file("alice", evaluation) as predictions,
        storage.report_file("alice", evaluation) as report,
    ):
        assert gt.read_bytes() == b'{"images": []}'
        assert inline.read_bytes() == b"{}"
        assert predictions.read_bytes() == b"[1]"
        assert orjson.loads(report.read_bytes()) == {"stats": [1]}
    assert not list(storage.tmp.iterdir())  # temporary copies are removed after use

    assert storage.remove_evaluation("alice", evaluation)
    assert storage.remove_dataset("alice", dataset)
    assert storage.remove_dataset("alice", dataset)  # again: nothing to do
    assert storage.dataset_summary("alice", dataset) is None
    with pytest.raises(FileNotFoundError):
        storage.predictions_file("alice", evaluation).__enter__()
    assert kept(storage) == []
    assert not list(storage.tmp.iterdir())


def test_a_failed_commit_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    evaluation = new_id()
    files = {"predictions.json": staged(storage, b"[]"), "ground_truth.json": tmp_path / "gone"}
    with pytest.raises(FileNotFoundError):
        storage.commit_evaluation("alice", evaluation, files)
    assert kept(storage) == []
    with pytest.raises(FileNotFoundError):
        storage.predictions_file("alice", evaluation).__enter__()
    assert not list(storage.tmp.iterdir())


def test_stale_temp_files_are_removed(storage: Storage) -> None:
    old, fresh = storage.new_temp_file(), storage.new_temp_file()
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert storage.remove_stale_temp(3600) == 1
    assert not old.exists() and fresh.exists()


def test_s3_resource_is_invisible_until_its_manifest_and_leftovers_are_swept(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """A commit cut short (files up, no manifest) and a report written after its
    evaluation was deleted are not resources; the sweep removes them, once stale."""
    bucket = s3_server.new_bucket()
    settings = Settings(data_dir=tmp_path, **s3_server.settings(bucket))
    storage = open_storage(settings)
    assert isinstance(storage, S3Storage)
    dataset, evaluation = new_id(), new_id()
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"datasets/alice/{dataset}/gt.json", Body=b"{}")
    assert storage.dataset_summary("alice", dataset) is None
    with pytest.raises(FileNotFoundError):
        storage.dataset_file("alice", dataset).__enter__()

    storage.commit_evaluation("alice", evaluation, {"predictions.json": staged(storage, b"[]")})
    assert storage.remove_evaluation("alice", evaluation)
    storage.write_report("alice", evaluation, b"{}")  # a worker finishing just then
    assert len(s3_server.keys(bucket)) == 2

    assert open_storage(settings).remove_orphans() == 0  # too fresh to be leftovers
    assert len(s3_server.keys(bucket)) == 2
    assert open_storage(settings).remove_orphans(0) == 2
    assert s3_server.keys(bucket) == []


def test_s3_prefix_keeps_keys_apart(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    settings = Settings(data_dir=tmp_path, **s3_server.settings(bucket, prefix="a/b"))
    storage = open_storage(settings)
    dataset = new_id()
    storage.commit_dataset("alice", dataset, staged(storage, b"{}"), SUMMARY)
    assert s3_server.keys(bucket) == [
        f"a/b/datasets/alice/{dataset}/gt.json",
        f"a/b/datasets/alice/{dataset}/manifest.json",
    ]


def test_s3_trouble_is_told_as_the_service_handles_it(s3_server: S3Server, tmp_path: Path) -> None:
    """No bucket: an OSError saying what the store answered; no server: ConnectionError
    (the workers retry it). Either way health says the storage is not writable."""
    missing = open_storage(Settings(data_dir=tmp_path, **s3_server.settings("no-such-bucket")))
    assert not missing.writable()
    with pytest.raises(OSError, match="NoSuchBucket"):
        missing.write_report("alice", new_id(), b"{}")

    settings = s3_server.settings(s3_server.new_bucket())
    settings["s3_endpoint_url"] = f"http://127.0.0.1:{free_port()}"
    unreachable = open_storage(Settings(data_dir=tmp_path, **settings))
    assert not unreachable.writable()
    with pytest.raises(ConnectionError, match="cannot be reached"):
        unreachable.write_report("alice", new_id(), b"{}")
