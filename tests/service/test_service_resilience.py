"""Jobs survive killed workers, a restarted Redis and a broker that is down.

The stack here runs the job store and the Celery broker on two separate servers, so
each can fail alone. Workers are started per test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import HERE, KEYS, Stack, coco_sets, wait_for

NAME, GT, DT, EXPECTED = coco_sets()[0]


@pytest.fixture(scope="module")
def rstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("res"), separate_broker=True)
    running.env["DETEVAL_TEST_GATE"] = str(running.root / "gate")
    (running.root / "gate").mkdir()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def gate(rstack: Stack) -> Iterator[Path]:
    path = rstack.root / "gate"
    for entry in path.iterdir():
        entry.unlink()
    yield path
    (path / "open").touch()  # never leave a gated worker waiting


@pytest.fixture(scope="module")
def dataset_id(rstack: Stack) -> str:
    with rstack.http() as http:
        response = http.post("/datasets", files={"file": ("gt.json", GT.read_bytes())})
    assert response.status_code == 201, response.text
    dataset: str = response.json()["id"]
    return dataset


def submit(http: httpx.Client, dataset_id: str) -> dict[str, Any]:
    response = http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", DT.read_bytes())},
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_one_good_report(stack: Stack, http: httpx.Client, evaluation_id: str) -> None:
    report = http.get(f"/evaluations/{evaluation_id}/report")
    assert report.status_code == 200, report.text
    assert report.json()["stats"] == pytest.approx(EXPECTED, abs=1e-12)
    folder = stack.data_dir / "evaluations" / "alice" / evaluation_id
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.json", "report.json"]


def gated_pid(gate: Path, stack: Stack) -> int:
    reached = wait_for(
        lambda: sorted(gate.glob("reached-*")), bool, 60, "a gated worker to start scoring"
    )
    return int(reached[0].name.split("-")[1])


def test_report_not_ready_is_409_while_queued(rstack: Stack, dataset_id: str) -> None:
    assert not rstack.workers
    with rstack.http() as http:
        job = submit(http, dataset_id)
        response = http.get(f"/evaluations/{job['id']}/report")
        assert response.status_code == 409, response.text
        assert "queued" in response.json()["detail"]
        worker = rstack.start_worker()
        final = rstack.wait_finished(http, job["id"])
        assert final["status"] == "succeeded", final
        rstack.stop_worker(worker)


def test_worker_process_killed_mid_job(rstack: Stack, dataset_id: str, gate: Path) -> None:
    """SIGKILL the pool process running the task: Celery re-queues the message
    (late ack + reject on worker lost) and the job succeeds on its second attempt."""
    worker = rstack.start_worker([str(HERE / "gated_worker.py")])
    with rstack.http() as http:
        job = submit(http, dataset_id)
        pid = gated_pid(gate, rstack)
        assert pid != worker.pid  # the prefork child, not the main process
        running = wait_for(
            lambda: http.get(f"/evaluations/{job['id']}").json(),
            lambda s: s["progress"] > 0,
            30,
            "progress while gated",
        )
        assert running["status"] == "running" and running["attempts"] == 1, running
        os.kill(pid, signal.SIGKILL)
        (gate / "open").touch()
        final = rstack.wait_finished(http, job["id"])
        assert final["status"] == "succeeded", (
            final,
            rstack.log_tail(rstack.worker_logs[worker.pid]),
        )
        assert final["attempts"] == 2, final
        assert_one_good_report(rstack, http, job["id"])
    rstack.stop_worker(worker)


def test_whole_worker_killed_mid_job(rstack: Stack, dataset_id: str, gate: Path) -> None:
    """SIGKILL the whole worker: nobody re-queues the message, so the job's lease
    expires and the sweeper sends it again; a fresh worker finishes it."""
    worker = rstack.start_worker([str(HERE / "gated_worker.py")], pool="solo")
    with rstack.http() as http:
        job = submit(http, dataset_id)
        assert gated_pid(gate, rstack) == worker.pid
        rstack.stop_worker(worker, signal.SIGKILL)
        (gate / "open").touch()
        replacement = rstack.start_worker()
        final = rstack.wait_finished(http, job["id"], timeout=120)
        assert final["status"] == "succeeded", final
        assert final["attempts"] == 2, final
        assert_one_good_report(rstack, http, job["id"])
    rstack.stop_worker(replacement)


def test_job_over_the_time_limit_fails_with_a_reason(
    rstack: Stack, dataset_id: str, gate: Path
) -> None:
    """The soft limit fires inside the task (the gate never opens): failed, not lost."""
    limits = {"DETEVAL_TASK_TIME_LIMIT_SECONDS": "3"}  # soft limit: 2 s
    worker = rstack.start_worker([str(HERE / "gated_worker.py")], env=limits)
    with rstack.http() as http:
        job = submit(http, dataset_id)
        final = rstack.wait_finished(http, job["id"], timeout=60)
        assert final["status"] == "failed", final
        assert final["error"]["code"] == "time_limit", final
        assert "longer than the limit of 2 s" in final["error"]["detail"]
        report = http.get(f"/evaluations/{job['id']}/report")
        assert report.status_code == 409
        assert f"evaluation {job['id']} failed" in report.json()["detail"]
    rstack.stop_worker(worker)


def test_store_outage_mid_job_is_retried(rstack: Stack, dataset_id: str, gate: Path) -> None:
    """The job store goes away while a job runs: the task retries (transient error) and
    the job still ends succeeded, with one report."""
    worker = rstack.start_worker([str(HERE / "gated_worker.py")])
    log_name = rstack.worker_logs[worker.pid]
    with rstack.http() as http:
        job = submit(http, dataset_id)
        gated_pid(gate, rstack)
        rstack.store_server.stop()
        try:
            (gate / "open").touch()
            wait_for(
                lambda: rstack.log_tail(log_name, 200),
                lambda text: "could not release the lease" in text,
                60,
                "the worker to hit the store outage",
            )
        finally:
            rstack.store_server.start()
        final = rstack.wait_finished(http, job["id"], timeout=60)
        assert final["status"] == "succeeded", (final, rstack.log_tail(log_name))
        assert final["attempts"] == 2, final
        assert_one_good_report(rstack, http, job["id"])
    rstack.stop_worker(worker)


def test_transient_errors_show_while_retried_then_fail_the_job_with_the_reason(
    rstack: Stack, dataset_id: str
) -> None:
    """Scoring keeps failing with a transient error: the status says so while the job is
    retried, and after the last try the job fails with that error, not a generic one."""
    worker = rstack.start_worker([str(HERE / "flaky_worker.py")])
    with rstack.http() as http:
        job = submit(http, dataset_id)
        retrying = wait_for(
            lambda: http.get(f"/evaluations/{job['id']}").json(),
            lambda s: s["error"] is not None or s["status"] == "failed",
            60,
            "the first transient error to show",
        )
        assert retrying["status"] in ("queued", "running"), retrying
        assert retrying["error"]["code"] == "retrying", retrying
        assert (
            "try 1 failed (ConnectionError: the data volume dropped out)"
            in (retrying["error"]["detail"])
        )
        final = rstack.wait_finished(http, job["id"], timeout=90)
        assert final["status"] == "failed", final
        assert final["error"] == {
            "code": "transient",
            "detail": "gave up after 3 tries; the last: "
            "ConnectionError: the data volume dropped out",
        }
        assert final["attempts"] == 3, final

    # What `deteval submit` shows in a log meanwhile, and its exit code.
    cli = subprocess.run(
        [sys.executable, "-m", "deteval", "submit", dataset_id, str(DT)]
        + ["--url", rstack.url, "--key", KEYS["alice"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stderr
    assert "(try 1 failed (ConnectionError: the data volume dropped out); again in 1 s)" in (
        cli.stderr
    )
    assert "failed: gave up after 3 tries" in cli.stderr
    rstack.stop_worker(worker)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["restart", "crash"])
def test_redis_restarted_between_upload_and_scoring(
    rstack: Stack, dataset_id: str, how: signal.Signals
) -> None:
    """Everything answered with 202 is still there after Redis stops, even by SIGKILL
    right after the answers (append-only file, written before each answer)."""
    assert not rstack.workers
    with rstack.http() as http:
        accepted = [submit(http, dataset_id)["id"] for _ in range(3)]
        assert rstack.broker_server is not None
        for server in (rstack.store_server, rstack.broker_server):
            assert server.process is not None
            server.process.send_signal(how)
            server.process.wait(timeout=30)
            server.start()
        worker = rstack.start_worker()
        for evaluation_id in accepted:
            final = rstack.wait_finished(http, evaluation_id, timeout=120)
            assert final["status"] == "succeeded", final
            assert final["attempts"] == 1, final
            assert_one_good_report(rstack, http, evaluation_id)
    rstack.stop_worker(worker)


def test_broker_down_at_submit_is_kept_and_sent_later(rstack: Stack, dataset_id: str) -> None:
    assert rstack.broker_server is not None
    rstack.broker_server.stop()
    try:
        with rstack.http() as http:
            job = submit(http, dataset_id)  # 202: accepted although it could not be sent
            assert job["status"] == "queued"
            health = http.get("/health").json()
            assert health.pop("storage_free_bytes") > 0, health
            assert health["status"] == "degraded", health
            assert (health["store"], health["broker"], health["storage"]) == (True, False, True)
    finally:
        rstack.broker_server.start()
    worker = rstack.start_worker()
    with rstack.http() as http:
        final = rstack.wait_finished(http, job["id"], timeout=120)
        assert final["status"] == "succeeded", final
    rstack.stop_worker(worker)


def test_store_down_is_503_and_keeps_nothing(rstack: Stack, dataset_id: str) -> None:
    before = sorted((rstack.data_dir / "evaluations").rglob("*"))
    rstack.store_server.stop()
    try:
        with rstack.http() as http:
            response = http.post(
                "/evaluations",
                data={"dataset_id": dataset_id},
                files={"predictions": ("p.json", DT.read_bytes())},
            )
            assert response.status_code == 503, response.text
            assert "unreachable" in response.json()["detail"]
            assert http.get("/evaluations/" + "a" * 32).status_code == 503
    finally:
        rstack.store_server.start()
    assert sorted((rstack.data_dir / "evaluations").rglob("*")) == before
    with rstack.http() as http:
        assert http.get("/health").json()["store"] is True
