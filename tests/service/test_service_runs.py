"""Named runs on the real stack: status fields, run metadata, listings, content types."""

from __future__ import annotations

import json
from typing import Any

import httpx
from service_stack import SMALL_GT, Stack

PREDICTIONS = [
    {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
    for a in SMALL_GT["annotations"]
]


def create_dataset(http: httpx.Client, **params: str) -> dict[str, Any]:
    response = http.post(
        "/datasets",
        content=json.dumps(SMALL_GT),
        params=params,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def submit(
    http: httpx.Client, dataset_id: str, predictions: Any = PREDICTIONS, **fields: str
) -> httpx.Response:
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id, **fields},
        files={"predictions": ("p.json", json.dumps(predictions).encode())},
    )


def test_curl_default_content_type_is_refused_saying_how_to_send_json(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post(
            "/datasets",
            content=json.dumps(SMALL_GT),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["accepted"] == ["application/json", "multipart/form-data"]
    assert "got application/x-www-form-urlencoded" in problem["detail"]
    assert "-H 'Content-Type: application/json' --data-binary @" in problem["detail"]
    assert "-F " in problem["detail"]


def test_warnings_are_a_list_in_every_status(stack: Stack) -> None:
    odd = [{**p, "image_id": float(p["image_id"])} for p in PREDICTIONS]  # 1.0: warns
    with stack.http() as http:
        dataset = create_dataset(http)
        for predictions, expect_warnings in ((PREDICTIONS, False), (odd, True)):
            submitted = submit(http, dataset["id"], predictions)
            assert submitted.status_code == 202, submitted.text
            accepted = submitted.json()
            assert isinstance(accepted["warnings"], list)
            assert bool(accepted["warnings"]) is expect_warnings, accepted
            polled = http.get(f"/evaluations/{accepted['id']}").json()
            final = stack.wait_finished(http, accepted["id"])
            assert final["status"] == "succeeded", final
            assert polled["warnings"] == final["warnings"] == accepted["warnings"]
