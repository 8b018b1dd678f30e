"""Retention and the per-tenant storage quota on the real stack; storage and Redis come
back to their baseline once everything is deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from service_stack import SMALL_GT, Stack, running_stack, wait_for

from service.backend.jobs import connect

PREDICTIONS = [
    {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
    for a in SMALL_GT["annotations"]
]
QUOTA_MB = 0.1
QUOTA_BYTES = int(QUOTA_MB * 1024 * 1024)
RETENTION_SECONDS = 8.0
STORAGES = ("local", "s3")  # for the quota's stack


def big_gt(n_images: int) -> bytes:
    """A valid ground truth of about 140 bytes per image."""
    images = [{"id": i, "width": 640, "height": 480} for i in range(1, n_images + 1)]
    annotations = [
        {
            "id": i,
            "image_id": i,
            "category_id": 1,
            "bbox": [1, 2, 30, 40],
            "area": 1200,
            "iscrowd": 0,
        }
        for i in range(1, n_images + 1)
    ]
    gt = {"images": images, "categories": [{"id": 1, "name": "cat"}], "annotations": annotations}
    return json.dumps(gt).encode()


def post_gt(http: httpx.Client, body: bytes) -> httpx.Response:
    return http.post("/datasets", content=body, headers={"Content-Type": "application/json"})


def submit(http: httpx.Client, dataset_id: str) -> httpx.Response:
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", json.dumps(PREDICTIONS).encode())},
    )


def stored_bytes(stack: Stack, tenant: str) -> int:
    """Bytes of the tenant's stored files, bookkeeping (summaries, manifests) aside."""
    return sum(
        size
        for kind in ("datasets", "evaluations")
        for name, size in stack.stored_sizes(kind, tenant).items()
        if name.rsplit("/", 1)[-1] not in ("summary.json", "manifest.json")
    )


@pytest.fixture(scope="module")
def qstack(
    tmp_path_factory: pytest.TempPathFactory, storage_settings: dict[str, str]
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("stack"), tenant_quota_mb=str(QUOTA_MB), **storage_settings
    ) as running:
        yield running


def test_quota_refuses_with_409_counts_reports_and_frees_on_delete(qstack: Stack) -> None:
    usage = connect(qstack.store_server.url)
    big = big_gt(300)
    assert 20_000 < len(big) < QUOTA_BYTES / 2
    with qstack.http() as http, qstack.http("bob") as bob:
        first = post_gt(http, big)
        assert first.status_code == 201, first.text
        small = post_gt(http, json.dumps(SMALL_GT).encode()).json()["id"]
        job = submit(http, small)
        assert job.status_code == 202, job.text
        assert qstack.wait_finished(http, job.json()["id"])["status"] == "succeeded"
        # Uploads and the report count, as stored (summaries are bookkeeping).
        assert int(usage.get("deteval:tenant:alice:bytes")) == stored_bytes(qstack, "alice")
        before = http.get("/datasets").json()["items"]
        used = int(usage.get("deteval:tenant:alice:bytes"))
        over = big_gt((QUOTA_BYTES - used) // 140 + 20)  # just over what is left
        assert used + len(over) > QUOTA_BYTES and len(over) < QUOTA_BYTES - used + len(big)

        refused = post_gt(http, over)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/quota-exceeded")
        assert problem["quota_bytes"] == QUOTA_BYTES
        assert (problem["upload_bytes"], problem["used_bytes"]) == (len(over), used)
        assert "delete" in problem["detail"].lower()
        assert http.get("/datasets").json()["items"] == before  # nothing kept
        assert list((qstack.data_dir / "tmp").glob("*.part")) == []
        assert post_gt(bob, over).status_code == 201  # another tenant's quota is its own

        assert http.delete(f"/datasets/{first.json()['id']}").status_code == 204
        again = post_gt(http, over)
        assert again.status_code == 201, again.text

        for dataset in http.get("/datasets").json()["items"]:
            gone = http.delete(f"/datasets/{dataset['id']}", params={"cascade": "true"})
            assert gone.status_code == 204, gone.text
    assert int(usage.get("deteval:tenant:alice:bytes")) == 0
    assert stored_bytes(qstack, "alice") == 0
    left = [k for k in usage.keys("deteval:*") if "alice" in k or k.startswith("deteval:job:")]
    assert left == ["deteval:tenant:alice:bytes"], left


def test_an_evaluation_over_the_quota_is_refused(qstack: Stack) -> None:
    with qstack.http() as http:
        dataset = post_gt(http, big_gt(200)).json()["id"]
        filler = post_gt(http, big_gt(500))
        assert filler.status_code == 201, filler.text
        predictions = [{**PREDICTIONS[0], "score": 0.5 + i / 1e4} for i in range(200)]
        refused = http.post(
            "/evaluations",
            data={"dataset_id": dataset},
            files={"predictions": ("p.json", json.dumps(predictions).encode())},
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/quota-exceeded")
        assert http.get("/evaluations").json()["items"] == []


@pytest.fixture(scope="module")
def rstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    days = RETENTION_SECONDS / 86400
    with running_stack(tmp_path_factory.mktemp("stack"), retention_days=repr(days)) as running:
        yield running


def test_retention_deletes_old_evaluations_then_their_datasets(rstack: Stack) -> None:
    client = connect(rstack.store_server.url)
    with rstack.http() as http:
        dataset = post_gt(http, json.dumps(SMALL_GT).encode()).json()["id"]
        job = submit(http, dataset).json()["id"]
        assert rstack.wait_finished(http, job)["status"] == "succeeded"

        def state() -> tuple[Any, ...]:
            return (
                http.get(f"/evaluations/{job}").status_code,
                http.get(f"/datasets/{dataset}").status_code,
                stored_bytes(rstack, "alice"),
            )

        wait_for(state, lambda s: s == (404, 404, 0), 60, "retention to delete both")
    assert client.get("deteval:tenant:alice:bytes") == "0"
    assert not [
        k for k in client.keys("deteval:*") if k.startswith(("deteval:job:", "deteval:ds:"))
    ]
