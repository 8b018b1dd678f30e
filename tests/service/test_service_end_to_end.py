"""Upload every COCO reference set to the real stack and compare with pycocotools."""

from __future__ import annotations

import httpx
import msgspec
import numpy as np
import pytest
from service_stack import KEYS, REFERENCE, Stack, coco_sets

from evaluator import ReportJSON, read_report
from service.client import ApiError, Client

REPORT_TEMPLATE = "#/components/schemas/report.{name}"

SETS = coco_sets()
STORAGES = ("local", "s3")


def test_reference_data_present() -> None:
    assert (REFERENCE / "expected-pycocotools.json").is_file()
    assert len(SETS) >= 5


@pytest.mark.parametrize(("name", "gt", "dt", "expected"), SETS, ids=[s[0] for s in SETS])
def test_dataset_then_evaluation_matches_pycocotools(
    stack: Stack, name: str, gt, dt, expected: list[float]
) -> None:
    with stack.http() as http:
        created = http.post(
            "/datasets", content=gt.read_bytes(), headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 201, created.text
        dataset = created.json()
        assert http.get(f"/datasets/{dataset['id']}").json() == dataset

        with dt.open("rb") as f:
            submitted = http.post(
                "/evaluations",
                data={"dataset_id": dataset["id"]},
                files={"predictions": ("p.json", f, "application/json")},
            )
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        assert submitted.headers["Location"] == f"/v1/evaluations/{job['id']}"
        assert job["status"] in ("queued", "running", "succeeded")

        final = stack.wait_finished(http, job["id"])
        assert final["status"] == "succeeded", final
        assert final["progress"] == 1.0
        report = http.get(f"/evaluations/{job['id']}/report")
        assert report.status_code == 200, report.text
        read_report(report.content)  # the stored report fits the published schema
    # The report has null where pycocotools writes -1 (undefined).
    stats = [-1.0 if v is None else v for v in report.json()["stats"]]
    np.testing.assert_allclose(stats, expected, rtol=0, atol=1e-12, err_msg=name)


def test_inline_ground_truth(stack: Stack) -> None:
    name, gt, dt, expected = SETS[0]
    with stack.http() as http, gt.open("rb") as g, dt.open("rb") as d:
        submitted = http.post(
            "/evaluations",
            files={
                "ground_truth": ("gt.json", g, "application/json"),
                "predictions": ("dt.json", d, "application/json"),
            },
        )
        assert submitted.status_code == 202, submitted.text
        final = stack.wait_finished(http, submitted.json()["id"])
        assert final["status"] == "succeeded", final
        assert final["dataset_id"] is None
        stats = http.get(f"/evaluations/{final['id']}/report").json()["stats"]
    np.testing.assert_allclose(stats, expected, rtol=0, atol=1e-12)


def test_health_needs_no_key_and_docs_are_served(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        health = http.get("/v1/health")
        assert health.status_code == 200
        body = health.json()
        assert body.pop("storage_free_bytes") > 0, body
        processes = body["work_pool"]["processes"]
        assert processes >= 1
        assert body == {
            "status": "ok",
            "store": True,
            "broker": True,
            "storage": True,
            "workers": 1,
            "work_pool": {"ok": True, "processes": processes, "rebuilds": 0},
        }
        assert http.get("/docs").status_code == 200
        spec = http.get("/openapi.json").json()
    for path in (
        "/v1/datasets",
        "/v1/datasets/{dataset_id}",
        "/v1/evaluations",
        "/v1/evaluations/{evaluation_id}",
        "/v1/evaluations/{evaluation_id}/report",
        "/v1/health",
    ):
        assert path in spec["paths"], path
    upload = spec["paths"]["/v1/evaluations"]["post"]["requestBody"]["content"]
    assert "predictions" in upload["multipart/form-data"]["schema"]["properties"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    # The report's schema is the library's (evaluator.ReportJSON), served as the answer of
    # GET .../report; the report this test suite's stack produces fits it.
    ok = spec["paths"]["/v1/evaluations/{evaluation_id}/report"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/report.ReportJSON"
    assert msgspec.json.schema_components([ReportJSON], ref_template=REPORT_TEMPLATE)[1] == {
        name.removeprefix("report."): schema
        for name, schema in spec["components"]["schemas"].items()
        if name.startswith("report.")
    }


def test_python_client(stack: Stack) -> None:

    name, gt, dt, expected = SETS[1]
    seen: list[str] = []
    with Client(stack.url, KEYS["alice"]) as client:
        assert client.health()["status"] == "ok"
        dataset = client.create_dataset(gt)
        job = client.submit(dt, dataset_id=dataset["id"])
        final = client.wait(
            job["id"], timeout=90, interval=0.1, on_status=lambda s: seen.append(s["status"])
        )
        assert final["status"] == "succeeded", final
        assert seen[-1] == "succeeded"
        assert client.report(job["id"])["stats"] == pytest.approx(expected, abs=1e-12)
        with pytest.raises(ApiError) as caught:
            client.status("0" * 32)
    assert caught.value.status == 404
    assert "no evaluation" in str(caught.value)
