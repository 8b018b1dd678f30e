"""The service on an object store that cannot be reached: health says so, and uploads
are refused with 503 (retry later), keeping nothing, instead of failing with a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from s3_server import S3Server
from service_stack import SMALL_GT, Stack, free_port


@pytest.fixture(scope="module")
def lost(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Stack]:
    settings = s3_server.settings(s3_server.new_bucket())
    settings["s3_endpoint_url"] = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    running = Stack(tmp_path_factory.mktemp("lost"), **settings).start()
    try:
        yield running
    finally:
        running.stop()


def test_unreachable_object_store_is_a_503_and_keeps_nothing(lost: Stack) -> None:
    health = httpx.get(f"{lost.url}/v1/health", timeout=30).json()
    assert health["storage"] is False and health["status"] == "degraded", health
    with lost.http() as http:
        response = http.post(
            "/datasets", content=json.dumps(SMALL_GT), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"].endswith("/unavailable")
        assert "unreachable" in problem["detail"] and "retry later" in problem["detail"]
        assert response.headers["Retry-After"]
        assert http.get("/datasets").json()["items"] == []
    assert list((lost.data_dir / "tmp").iterdir()) == []
