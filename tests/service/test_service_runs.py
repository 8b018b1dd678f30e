"""Named runs on the real stack: status fields, run metadata, listings, content types."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import KEYS, SMALL_GT, Stack

from service.client import ApiError, Client

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


LABELS = {"name": "yolov8n", "tags": "baseline,fp16", "metadata": '{"commit": "4f2a9c1"}'}


def test_named_run_shows_in_status_report_listing_leaderboard_and_comparison(
    stack: Stack,
) -> None:
    with stack.http() as http:
        dataset = create_dataset(http, name="val-small", description="ten cats\nfor tests")
        assert (dataset["name"], dataset["description"]) == ("val-small", "ten cats\nfor tests")
        assert http.get(f"/datasets/{dataset['id']}").json() == dataset
        submitted = submit(http, dataset["id"], **LABELS)
        assert submitted.status_code == 202, submitted.text
        run = submitted.json()
        assert (run["name"], run["tags"], run["metadata"]) == (
            "yolov8n",
            ["baseline", "fp16"],
            {"commit": "4f2a9c1"},
        )
        final = stack.wait_finished(http, run["id"])
        assert {k: final[k] for k in ("name", "tags", "metadata")} == {
            k: run[k] for k in ("name", "tags", "metadata")
        }
        plain = submit(http, dataset["id"]).json()
        assert (plain["name"], plain["tags"], plain["metadata"]) == (None, [], {})
        stack.wait_finished(http, plain["id"])

        report = http.get(f"/evaluations/{run['id']}/report").json()
        assert report["run"] == {
            "id": run["id"],
            "name": "yolov8n",
            "tags": ["baseline", "fp16"],
            "metadata": {"commit": "4f2a9c1"},
            "dataset_id": dataset["id"],
            "dataset_name": "val-small",
        }
        rows = http.get(f"/datasets/{dataset['id']}/evaluations").json()
        assert [(r["id"], r["name"], r["tags"]) for r in rows] == [
            (plain["id"], None, []),
            (run["id"], "yolov8n", ["baseline", "fp16"]),
        ]
        page = http.get(f"/datasets/{dataset['id']}/leaderboard.html").text
        assert "yolov8n" in page and "val-small" in page
        assert "yolov8n" in http.get(f"/evaluations/{run['id']}/report.html").text
        compared = http.get(f"/evaluations/{run['id']}/compare/{plain['id']}").json()
        assert compared["names"] == {"a": "yolov8n", "b": None}


def test_names_are_escaped_in_pages(stack: Stack) -> None:
    with stack.http() as http:
        dataset = create_dataset(http, name="<b>ds</b>")
        run = submit(http, dataset["id"], name="<script>x</script>").json()
        stack.wait_finished(http, run["id"])
        page = http.get(f"/datasets/{dataset['id']}/leaderboard.html").text
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "<b>ds" not in page


BAD_LABELS = [
    ({"name": "x" * 129}, "name", "129 characters, at most 128"),
    ({"name": "a\x00b"}, "name", "control character"),
    ({"tags": "ok,bad tag"}, "tags[1]", "'bad tag' is not a tag"),
    ({"tags": ",".join(f"t{i}" for i in range(21))}, "tags", "21 tags, at most 20"),
    ({"metadata": "[1, 2]"}, "metadata", "must be a JSON object, got an array"),
    ({"metadata": "{nope"}, "metadata", "not JSON"),
    ({"metadata": json.dumps({"k": "v" * 5000})}, "metadata", "at most 4096 allowed"),
]


def test_bad_labels_are_located_422s_and_nothing_is_kept(stack: Stack) -> None:
    with stack.http() as http:
        dataset = create_dataset(http)
        before = http.get(f"/datasets/{dataset['id']}/evaluations").json()
        for fields, location, problem in BAD_LABELS:
            response = submit(http, dataset["id"], **fields)
            assert response.status_code == 422, (fields, response.text)
            body = response.json()
            assert body["location"] == location, body
            assert problem in body["problem"], body
        too_long = http.post(
            "/datasets",
            content=json.dumps(SMALL_GT),
            params={"description": "d" * 2001},
            headers={"Content-Type": "application/json"},
        )
        assert too_long.status_code == 422, too_long.text
        assert too_long.json()["location"] == "description"
        assert http.get(f"/datasets/{dataset['id']}/evaluations").json() == before


def test_deteval_submit_labels_the_run(stack: Stack, tmp_path: Path) -> None:
    gt, predictions = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(json.dumps(SMALL_GT))
    predictions.write_text(json.dumps(PREDICTIONS))
    argv = [sys.executable, "-m", "deteval", "submit", str(gt), str(predictions)]
    argv += ["--url", stack.url, "--key", KEYS["alice"], "--name", "detr-r50"]
    argv += ["--tag", "nightly", "--tag", "r50", "--metadata", '{"epoch": 12}']
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    evaluation_id = re.search(r"evaluation ([0-9a-f]{32}) \(detr-r50\)", run.stdout)
    assert evaluation_id, run.stdout
    with stack.http() as http:
        status = http.get(f"/evaluations/{evaluation_id[1]}").json()
    assert (status["name"], status["tags"], status["metadata"]) == (
        "detr-r50",
        ["nightly", "r50"],
        {"epoch": 12},
    )
    refused = subprocess.run([*argv[:-1], "[1]"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "--metadata: must be a JSON object" in refused.stderr


def all_pages(http: httpx.Client, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following next_cursor (and checking the Link header).

    A filtered listing whose page filled up cannot know whether more match: a last,
    empty page is dropped.
    """
    pages = []
    cursor = None
    for _ in range(50):
        response = http.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            return pages[:-1] if len(pages) > 1 and not pages[-1] else pages
        assert response.headers["link"].startswith(f"</v1{path}?"), response.headers
        assert 'rel="next"' in response.headers["link"]
    raise AssertionError("more than 50 pages")


def test_listings_are_newest_first_filtered_paged_and_tenant_scoped(stack: Stack) -> None:
    with stack.http() as http, stack.http("bob") as bob:
        first = create_dataset(http, name="lst-first")
        second = create_dataset(http, name="lst-second")
        create_dataset(bob, name="lst-bob")
        runs = []  # (id, dataset, name, tags), oldest first
        for i in range(5):
            dataset = (first, second)[i % 2]["id"]
            tags = "even" if i % 2 == 0 else "odd"
            job = submit(http, dataset, name=f"lst-run{i}", tags=f"{tags},lst").json()
            runs.append((job["id"], dataset, f"lst-run{i}", tags))
        failing = submit(http, second["id"], [{**PREDICTIONS[0], "image_id": 99}])
        assert failing.status_code == 422  # refused, not listed
        for job_id, *_ in runs:
            stack.wait_finished(http, job_id)
        bob_job = submit(bob, bob.get("/datasets").json()["items"][0]["id"], name="lst-bob")
        assert bob_job.status_code == 202

        datasets = all_pages(http, "/datasets", name_prefix="lst-", limit=1)
        assert [[d["name"] for d in p] for p in datasets] == [["lst-second"], ["lst-first"]]
        assert datasets[0][0] == second
        assert [d["name"] for d in bob.get("/datasets").json()["items"]] == ["lst-bob"]

        newest_first = [r[0] for r in reversed(runs)]
        pages = all_pages(http, "/evaluations", name_prefix="lst-", limit=2)
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [e["id"] for p in pages for e in p] == newest_first
        assert pages[0][0]["name"] == "lst-run4" and pages[0][0]["tags"] == ["even", "lst"]

        def ids(**params: Any) -> list[str]:
            return [e["id"] for p in all_pages(http, "/evaluations", **params) for e in p]

        assert ids(dataset_id=first["id"]) == [r[0] for r in reversed(runs) if r[1] == first["id"]]
        assert ids(tag="odd", limit=1) == [r[0] for r in reversed(runs) if r[3] == "odd"]
        assert ids(tag="lst", status="succeeded") == newest_first
        assert ids(tag="lst", status="queued") == []
        assert ids(name_prefix="lst-run3") == [runs[3][0]]
        assert ids(name_prefix="lst-bob") == []
        middle = http.get(f"/evaluations/{runs[2][0]}").json()["created_at"]
        assert ids(tag="lst", created_after=middle) == newest_first[:3]
        assert ids(tag="lst", created_before=middle) == newest_first[2:]
        assert bob.get("/evaluations", params={"dataset_id": first["id"]}).status_code == 404


@pytest.mark.parametrize(
    ("params", "location"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"limit": 201}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"status": "deleting"}, "query.status"),
        ({"created_after": "yesterday"}, "query.created_after"),
    ],
)
def test_bad_listing_parameters_are_located_422s(
    stack: Stack, params: dict[str, Any], location: str
) -> None:
    with stack.http() as http:
        response = http.get("/evaluations", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    located = [e["location"] for e in body.get("errors", [])] or [body.get("location")]
    assert location in located, body


def test_the_client_lists_and_deletes(stack: Stack, tmp_path: Path) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(SMALL_GT))
    predictions = tmp_path / "pred.json"
    predictions.write_text(json.dumps(PREDICTIONS))
    with Client(stack.url, KEYS["alice"]) as client:
        dataset = client.create_dataset(gt, name="sdk-set", description="via the client")
        assert (dataset["name"], dataset["description"]) == ("sdk-set", "via the client")
        runs = [
            client.submit(predictions, dataset["id"], name=f"sdk-{i}", tags=["sdk"])["id"]
            for i in range(3)
        ]
        listed = [e["id"] for e in client.list_evaluations(tag="sdk", limit=2)]
        assert listed == runs[::-1]
        assert [d["id"] for d in client.list_datasets(name_prefix="sdk-")] == [dataset["id"]]
        with pytest.raises(ApiError) as in_use:
            client.delete_dataset(dataset["id"])
        assert in_use.value.status == 409
        client.delete_evaluation(runs[0])
        assert [e["id"] for e in client.list_evaluations(tag="sdk")] == runs[:0:-1]
        client.delete_dataset(dataset["id"], cascade=True)
        assert list(client.list_evaluations(tag="sdk")) == []
        with pytest.raises(ApiError) as gone:
            client.delete_evaluation(runs[1])
        assert gone.value.status == 404
