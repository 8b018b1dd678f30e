"""Deleting evaluations and datasets on the real stack: running jobs cancelled, files and
records gone, 409 for a dataset in use, and nothing half-deleted after a crash."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from service_stack import SMALL_GT, Stack, gated_stack, wait_for

from service.backend.deletion import DELETING_KEY, Deleter
from service.backend.jobs import JobStore, connect

HERE = Path(__file__).resolve().parent
STORAGES = ("local", "s3")
PREDICTIONS = [
    {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
    for a in SMALL_GT["annotations"]
]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Path:
    return tmp_path_factory.mktemp(f"gate-{storage}")


@pytest.fixture(scope="module")
def dstack(
    tmp_path_factory: pytest.TempPathFactory, gate: Path, storage_settings: dict[str, str]
) -> Iterator[Stack]:
    """API + one gated worker: each job waits at the gate until ``gate/open`` exists."""
    with gated_stack(tmp_path_factory.mktemp("stack"), gate, **storage_settings) as running:
        yield running


def create_dataset(http: httpx.Client) -> str:
    response = http.post(
        "/datasets", content=json.dumps(SMALL_GT), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def submit(http: httpx.Client, dataset_id: str, **fields: str) -> str:
    response = http.post(
        "/evaluations",
        data={"dataset_id": dataset_id, **fields},
        files={"predictions": ("p.json", json.dumps(PREDICTIONS).encode())},
    )
    assert response.status_code == 202, response.text
    evaluation_id: str = response.json()["id"]
    return evaluation_id


def redis_keys(stack: Stack) -> set[str]:
    return set(connect(stack.store_server.url).keys("deteval:*"))


def stored(stack: Stack, evaluation_id: str, tenant: str = "alice") -> list[str]:
    """The evaluation's stored files (in the data directory or the bucket)."""
    return stack.stored("evaluations", tenant, evaluation_id)


def test_a_running_evaluation_is_cancelled_and_leaves_nothing(dstack: Stack, gate: Path) -> None:
    with dstack.http() as http:
        dataset_id = create_dataset(http)
        evaluation_id = submit(http, dataset_id, tags="doomed")
        wait_for(lambda: list(gate.glob("reached-*")), bool, 60, "the job to start")
        assert http.get(f"/evaluations/{evaluation_id}").json()["status"] == "running"

        deleted = http.delete(f"/evaluations/{evaluation_id}")
        assert deleted.status_code == 204, deleted.text
        assert http.get(f"/evaluations/{evaluation_id}").status_code == 404
        assert not stored(dstack, evaluation_id)
        (gate / "open").touch()  # the worker goes on, finds the job deleted, writes nothing
        wait_for(
            lambda: dstack.log_tail("worker0", 200),
            lambda log: f"job {evaluation_id}: deleted while it ran; cancelled" in log,
            60,
            "the worker to cancel the job",
        )
        assert not stored(dstack, evaluation_id)
        assert http.get(f"/evaluations/{evaluation_id}/report").status_code == 404
        assert http.delete(f"/evaluations/{evaluation_id}").status_code == 404
        assert http.get("/evaluations", params={"tag": "doomed"}).json()["items"] == []
        assert not any(evaluation_id in key for key in redis_keys(dstack))


def test_deleting_a_finished_evaluation_removes_report_record_and_indexes(
    dstack: Stack, gate: Path
) -> None:
    (gate / "open").touch()
    with dstack.http() as http, dstack.http("bob") as bob:
        dataset_id = create_dataset(http)
        evaluation_id = submit(http, dataset_id, name="gone-soon", tags="t1,t2")
        assert dstack.wait_finished(http, evaluation_id)["status"] == "succeeded"
        assert f"evaluations/alice/{evaluation_id}/report.json" in stored(dstack, evaluation_id)

        assert bob.delete(f"/evaluations/{evaluation_id}").status_code == 404
        assert http.get(f"/evaluations/{evaluation_id}").status_code == 200

        assert http.delete(f"/evaluations/{evaluation_id}").status_code == 204
        for path in ("", "/report", "/report.html"):
            assert http.get(f"/evaluations/{evaluation_id}{path}").status_code == 404
        assert not stored(dstack, evaluation_id)
        assert http.get(f"/datasets/{dataset_id}/evaluations").json() == []
        assert http.get("/evaluations", params={"name_prefix": "gone-soon"}).json()["items"] == []
        assert not any(evaluation_id in key for key in redis_keys(dstack))
        assert evaluation_id not in connect(dstack.store_server.url).zrange(
            "deteval:tenant:alice:tag:t1:evaluations", 0, -1
        )


def test_a_dataset_in_use_is_refused_unless_cascading(dstack: Stack, gate: Path) -> None:
    (gate / "open").touch()
    with dstack.http() as http:
        dataset_id = create_dataset(http)
        evaluations = [submit(http, dataset_id) for _ in range(2)]
        for evaluation_id in evaluations:
            dstack.wait_finished(http, evaluation_id)

        refused = http.delete(f"/datasets/{dataset_id}")
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/dataset-in-use")
        assert "cascade=true" in problem["detail"]
        assert sorted(problem["evaluations"]) == sorted(evaluations)
        assert http.get(f"/datasets/{dataset_id}").status_code == 200
        assert all(http.get(f"/evaluations/{e}").status_code == 200 for e in evaluations)

        cascaded = http.delete(f"/datasets/{dataset_id}", params={"cascade": "true"})
        assert cascaded.status_code == 204, cascaded.text
        assert http.get(f"/datasets/{dataset_id}").status_code == 404
        assert all(http.get(f"/evaluations/{e}").status_code == 404 for e in evaluations)
        assert not dstack.stored("datasets", "alice", dataset_id)
        assert not any(stored(dstack, e) for e in evaluations)
        assert dataset_id not in [d["id"] for d in http.get("/datasets").json()["items"]]
        late = http.post(
            "/evaluations",
            data={"dataset_id": dataset_id},
            files={"predictions": ("p.json", b"[]")},
        )
        assert late.status_code == 404, late.text

        unused = create_dataset(http)
        assert http.delete(f"/datasets/{unused}").status_code == 204
        assert http.delete(f"/datasets/{unused}").status_code == 404


def test_a_planted_half_deletion_is_finished_by_the_sweeper(dstack: Stack, gate: Path) -> None:
    """The state a crash leaves: an evaluation marked deleting, its files still there."""
    (gate / "open").touch()
    with dstack.http() as http:
        dataset_id = create_dataset(http)
        evaluation_id = submit(http, dataset_id)
        dstack.wait_finished(http, evaluation_id)
        client = connect(dstack.store_server.url)
        deleter = Deleter(client, dstack.storage())
        member = f"evaluation:alice:{evaluation_id}"
        deleter._mark_evaluation(
            keys=[JobStore.key(evaluation_id), "deteval:active", DELETING_KEY],
            args=[evaluation_id, member],
        )
        assert http.get(f"/evaluations/{evaluation_id}").status_code == 404  # gone at once
        wait_for(
            lambda: (
                client.sismember(DELETING_KEY, member),
                stored(dstack, evaluation_id),
            ),
            lambda state: state == (0, []),
            30,
            "the sweeper to finish the deletion",
        )
        assert not client.exists(JobStore.key(evaluation_id))
        assert http.get(f"/datasets/{dataset_id}/evaluations").json() == []


def test_api_killed_mid_delete_then_the_sweeper_finishes(
    tmp_path_factory: pytest.TempPathFactory, new_storage_settings: Callable[[], dict[str, str]]
) -> None:
    stack = Stack(tmp_path_factory.mktemp("stack"), **new_storage_settings()).start(
        [str(HERE / "dying_delete_api.py")]
    )
    try:
        stack.start_worker()
        stack.wait_workers(1)
        with stack.http() as http:
            dataset_id = create_dataset(http)
            evaluation_id = submit(http, dataset_id, tags="k")
            stack.wait_finished(http, evaluation_id)
            with pytest.raises(httpx.HTTPError):
                http.delete(f"/evaluations/{evaluation_id}")  # the API dies mid-way
        assert stack.api is not None
        assert stack.api.wait(timeout=30) != 0
        client = connect(stack.store_server.url)
        assert client.hget(JobStore.key(evaluation_id), "status") == "deleting"  # half done
        assert not stored(stack, evaluation_id)

        stack.api = stack._spawn("api2", ["-m", "deteval", "api", "--port", str(stack.port)])
        wait_for(stack._health, lambda h: h is not None, 60, "the restarted API")
        wait_for(
            lambda: client.smembers(DELETING_KEY), lambda members: not members, 30, "the sweeper"
        )
        assert not client.exists(JobStore.key(evaluation_id))
        with stack.http() as http:
            assert http.get(f"/evaluations/{evaluation_id}").status_code == 404
            assert http.get("/evaluations", params={"tag": "k"}).json()["items"] == []
            assert http.delete(f"/datasets/{dataset_id}").status_code == 204
        assert not any(
            k.startswith(("deteval:job:", "deteval:ds:")) for k in client.keys("deteval:*")
        )
        assert stack.stored() == []  # with S3: the bucket, listed, is empty
    finally:
        stack.stop()
