"""A full data directory, on the real stack: the data directory is a 20 MiB tmpfs.

Uploads are accepted while they leave the reserve (``DETEVAL_MIN_FREE_MB``) free and
refused with 507 otherwise, never 500 or a reset connection, leaving no temp file.
Accepted jobs whose report finds no room wait (retried with back-off, not counted as
attempts) and all finish with the expected report once room comes back; only a job
still without room after ``DETEVAL_OUT_OF_SPACE_RETRY_SECONDS`` fails, as
``out_of_space``. Health shows the free space and says degraded below the reserve.

Mounting needs root: the stack tests skip, with the reason, where it cannot be done.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from service_stack import REFERENCE, Stack, require_reference, wait_for

from service.backend.jobs import JobStore, error_json
from service.backend.storage import new_id
from service.ops.embedded import EmbeddedRedis
from workers.pipeline import score

GT = REFERENCE / "cocoapi-val2014-fake100" / "instances_val2014_100.json"
DT = REFERENCE / "cocoapi-val2014-fake100" / "instances_val2014_fakebbox100_results.json"
TMPFS_MB = 20
require_reference()

RESERVE_MB = 4
RESERVE = RESERVE_MB << 20


# -- the job store: waiting for room is not an attempt, and is not sent twice ------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobStore]:
    with EmbeddedRedis(tmp_path_factory.mktemp("jobs")) as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        yield JobStore(client)
        client.close()


def test_waiting_for_room_gives_the_attempt_back(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    waiting = error_json("retrying", "no room")
    for _ in range(5):  # five tries without room, with max_attempts 1
        assert store.claim(job_id, "t1", 30, 1).outcome == "claimed"
        assert store.wait_for_space(job_id, "t1", waiting, 1, 600, "{}") == "retrying"
        job = store.get(job_id)
        assert job is not None and job.status == "queued" and job.attempts == 0, job
        assert job.error == {"code": "retrying", "detail": "no room"}
    assert store.wait_for_space(job_id, "t1", waiting, 1, 600, "{}") == "lost"  # not running
    assert store.claim(job_id, "t1", 30, 1).outcome == "claimed"
    assert store.succeed(job_id, "alice")


def test_waiting_for_room_fails_the_job_after_the_deadline(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    failure = error_json("out_of_space", "no room for 0.2 s")
    store.claim(job_id, "t1", 30, 3)
    assert store.wait_for_space(job_id, "t1", "{}", 0, 0.2, failure) == "retrying"
    time.sleep(0.3)
    store.claim(job_id, "t1", 30, 3)
    assert store.wait_for_space(job_id, "t1", "{}", 0, 0.2, failure) == "failed"
    job = store.get(job_id)
    assert job is not None and job.status == "failed", job
    assert job.error == {"code": "out_of_space", "detail": "no room for 0.2 s"}
    assert job_id not in store.active_ids()


@pytest.mark.parametrize("hand_back", ["release", "wait_for_space"])
def test_the_sweeper_leaves_a_job_alone_while_its_retry_is_due(
    store: JobStore, hand_back: str
) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    store.mark_sent(job_id)
    store.claim(job_id, "t1", 30, 3)
    if hand_back == "release":
        store.release(job_id, "t1", "{}", 5)
    else:
        store.wait_for_space(job_id, "t1", "{}", 5, 600, "{}")
    time.sleep(0.05)
    # The retry is in the broker, due in 5 s: no second message, however short the
    # grace for unsent jobs and the resend time.
    assert store.sweep_one(job_id, 0.01, 1, 3) == "ok"
    # Once due, a retry that is not taken up is a lost message: sent again.
    assert store.sweep_one(job_id, 0.01, -10, 3) == "send"


# -- the real stack on a small tmpfs ---------------------------------------------------
def _mount_tmpfs(path: Path, size_mb: int = TMPFS_MB) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API on a data directory of 20 MiB, with no worker (each test starts its own)."""
    root = tmp_path_factory.mktemp("full")
    data = root / "data"
    data.mkdir()
    _mount_tmpfs(data)
    running = Stack(
        root, min_free_mb=str(RESERVE_MB), max_upload_mb=str(RESERVE_MB), job_max_attempts="1"
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        subprocess.run(["umount", "-l", str(data)], check=False)


def _fill(path: Path, leave: int = 0) -> None:
    """Write ``path`` until its volume has at most ``leave`` bytes free (0: until full)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1):
            block = b"\0" * size
            while shutil.disk_usage(path).free - size >= leave:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)


def _chunked(body: bytes) -> Iterator[bytes]:
    """The body in pieces: httpx sends it with no Content-Length (chunked)."""
    for start in range(0, len(body), 1 << 16):
        yield body[start : start + (1 << 16)]


def _submit(http: httpx.Client, dataset_id: str) -> httpx.Response:
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", DT.read_bytes(), "application/json")},
    )


def _assert_507(response: httpx.Response) -> None:
    assert response.status_code == 507, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/insufficient-storage"), body
    assert "nothing was stored" in body["detail"], body


def _leftovers(data: Path) -> list[str]:
    """Temp files of uploads and reports that a failure should have removed."""
    found = [p.name for p in (data / "tmp").iterdir()]
    return found + [p.name for p in (data / "evaluations").rglob(".report-*")]


def _statuses(http: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    result = {}
    for job_id in ids:
        response = http.get(f"/evaluations/{job_id}")
        assert response.status_code == 200, response.text
        result[job_id] = response.json()
    return result


def test_a_full_disk_refuses_uploads_with_507_and_loses_no_accepted_job(stack: Stack) -> None:
    data = stack.data_dir
    filler = data / "filler"
    with stack.http() as http:
        created = http.post(
            "/datasets", content=GT.read_bytes(), headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 201, created.text
        dataset_id = created.json()["id"]

        # Room for a few predictions above the reserve: uploads are accepted until the
        # next would eat into the reserve, then refused.
        _fill(filler, leave=RESERVE + 5 * DT.stat().st_size)
        accepted, refused = [], 0
        for _ in range(10):
            response = _submit(http, dataset_id)
            if response.status_code == 202:
                accepted.append(response.json()["id"])
            else:
                _assert_507(response)
                refused += 1
        assert accepted and refused, (len(accepted), refused)
        # A body of unknown length is checked as it arrives: it would fit on the disk,
        # but not above the reserve.
        padded = GT.read_bytes() + b" " * (3 << 20)
        response = http.post(
            "/datasets", content=_chunked(padded), headers={"Content-Type": "application/json"}
        )
        _assert_507(response)
        refused += 1
        assert _leftovers(data) == []

        # Now no room at all: every upload is refused, health says so.
        _fill(filler)
        for _ in range(3):
            _assert_507(_submit(http, dataset_id))
            refused += 1
        for kind in ("json", "multipart"):
            if kind == "json":
                response = http.post(
                    "/datasets",
                    content=GT.read_bytes(),
                    headers={"Content-Type": "application/json"},
                )
            else:
                response = http.post("/datasets", files={"file": ("gt.json", GT.read_bytes())})
            _assert_507(response)
            refused += 1
        health = http.get("/health").json()
        assert health["status"] == "degraded" and health["storage"] is False, health
        assert health["storage_free_bytes"] < RESERVE, health
        assert _leftovers(data) == []

        # The worker finds no room for the reports: the jobs wait, none fails.
        worker = stack.start_worker()
        try:
            wait_for(
                lambda: _statuses(http, accepted),
                lambda s: all((j["error"] or {}).get("code") == "retrying" for j in s.values()),
                120,
                "every accepted job to find no room for its report",
            )
            second = wait_for(
                lambda: _statuses(http, accepted),
                lambda s: any(
                    "again in 2 s" in (j["error"] or {}).get("detail", "") for j in s.values()
                ),
                120,
                "a job to find no room a second time",
            )
            assert all(j["status"] in ("queued", "running") for j in second.values()), second
            assert all("no room on disk" in j["error"]["detail"] for j in second.values())

            # Room again: every accepted job finishes, with the expected report, in
            # one attempt (the tries without room were not attempts).
            filler.unlink()
            for job_id in accepted:
                final = stack.wait_finished(http, job_id, timeout=180)
                assert final["status"] == "succeeded", final
                assert final["attempts"] == 1, final
                report = http.get(f"/evaluations/{job_id}/report")
                assert report.status_code == 200, report.text
                run = report.json()["run"]  # the job's own section: id, labels, dataset
                assert (run["id"], run["dataset_id"]) == (job_id, dataset_id)
                assert report.content == score(GT, DT, run=run)
            # What was refused is accepted now.
            again = [_submit(http, dataset_id) for _ in range(3)]
            assert [r.status_code for r in again] == [202] * 3, [r.text for r in again]
            for response in again:
                assert stack.wait_finished(http, response.json()["id"])["status"] == "succeeded"
        finally:
            stack.stop_worker(worker)
        # The worker is stopped by now, so the status is degraded for that; storage is back.
        health = http.get("/health").json()
        assert health["storage"] is True and health["storage_free_bytes"] >= RESERVE, health
    assert _leftovers(data) == []
    figures = {
        "accepted": len(accepted) + len(again),
        "refused_507": refused,
        "finished": len(accepted) + len(again),
        "lost": 0,
    }
    print(f"\ndisk-full run: {figures}")


def test_a_job_without_room_past_the_deadline_fails_as_out_of_space(stack: Stack) -> None:
    filler = stack.data_dir / "filler"
    with stack.http() as http:
        created = http.post("/datasets", files={"file": ("gt.json", GT.read_bytes())})
        assert created.status_code == 201, created.text
        submitted = _submit(http, created.json()["id"])
        assert submitted.status_code == 202, submitted.text
        _fill(filler)
        worker = stack.start_worker(env={"DETEVAL_OUT_OF_SPACE_RETRY_SECONDS": "2"})
        try:
            final = stack.wait_finished(http, submitted.json()["id"], timeout=120)
        finally:
            stack.stop_worker(worker)
            filler.unlink()
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "out_of_space", final
    assert "DETEVAL_OUT_OF_SPACE_RETRY_SECONDS" in final["error"]["detail"], final
    assert _leftovers(stack.data_dir) == []


# -- no reserve: writes that fail for lack of room, in the API and in the job store
@pytest.fixture(scope="module")
def no_reserve_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API with no free-space reserve; its data directory and its job store (which
    saves in the data directory under `deteval serve`) each on a small tmpfs."""
    root = tmp_path_factory.mktemp("noreserve")
    mounts = [root / "data", root / "store"]
    for path, size_mb in zip(mounts, (TMPFS_MB, 4)):
        path.mkdir()
        _mount_tmpfs(path, size_mb)
    running = Stack(root, min_free_mb="0")
    try:
        running.start()
        yield running
    finally:
        running.stop()
        for path in mounts:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_write_without_room_while_receiving_is_507(no_reserve_stack: Stack) -> None:
    stack = no_reserve_stack
    filler = stack.data_dir / "filler"
    boundary = "b0undary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gt.json"'
            "\r\n\r\n"
        ).encode()
        + GT.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    _fill(filler)
    try:
        with stack.http() as http:
            # No declared length to refuse up front: the writes themselves find no room.
            for body, content_type in (
                (GT.read_bytes(), "application/json"),
                (multipart, f"multipart/form-data; boundary={boundary}"),
            ):
                response = http.post(
                    "/datasets", content=_chunked(body), headers={"Content-Type": content_type}
                )
                _assert_507(response)
            assert _leftovers(stack.data_dir) == []
    finally:
        filler.unlink()


def test_a_job_store_that_cannot_save_makes_uploads_507(no_reserve_stack: Stack) -> None:
    stack = no_reserve_stack
    filler = stack.root / "store" / "filler"
    client = redis.Redis.from_url(stack.store_server.url)

    def refused() -> bool:
        try:
            client.set("deteval:test:probe", "x" * 1000)
        except redis.ResponseError as exc:
            return "MISCONF" in str(exc)
        return False

    with stack.http() as http:
        created = http.post("/datasets", files={"file": ("gt.json", GT.read_bytes())})
        assert created.status_code == 201, created.text
        dataset_id = created.json()["id"]
        _fill(filler)
        try:
            # The server notices when it next saves a write; from then on it refuses them.
            wait_for(refused, bool, 30, "the job store to refuse writes")
            _assert_507(_submit(http, dataset_id))
            assert _leftovers(stack.data_dir) == []
            assert list((stack.data_dir / "evaluations").rglob("predictions.json")) == []
        finally:
            filler.unlink()
        wait_for(lambda: not refused(), bool, 30, "the job store to take writes again")
        worker = stack.start_worker()
        try:
            submitted = _submit(http, dataset_id)
            assert submitted.status_code == 202, submitted.text
            final = stack.wait_finished(http, submitted.json()["id"])
            assert final["status"] == "succeeded", final
        finally:
            stack.stop_worker(worker)
    client.close()
