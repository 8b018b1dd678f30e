"""Report pages, comparisons and dataset leaderboards on the real stack.

One stack for the module. Evaluations are submitted before any worker runs, so the
answers for unfinished jobs are recorded first; then a worker scores them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import Stack, coco_sets

SETS = {name: (gt, dt, expected) for name, gt, dt, expected in coco_sets()}
COCO_GT, COCO_DT, COCO_EXPECTED = SETS["cocoapi-val2014-fake100"]
OTHER_GT, OTHER_DT, _ = SETS["padilla-val2014-bboxarea100"]  # 80 classes, like COCO_GT
SMALL_GT, SMALL_DT, _ = SETS["podm-sample3-coco"]  # one class
STORAGES = ("local", "s3")


def perfect_predictions(gt_path: Path) -> bytes:
    """Every non-crowd ground-truth box, detected exactly with score 1."""
    gt = json.loads(gt_path.read_bytes())
    return json.dumps(
        [
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": a["bbox"],
                "score": 1.0,
            }
            for a in gt["annotations"]
            if not a.get("iscrowd")
        ]
    ).encode()


def create_dataset(http: httpx.Client, gt: Path) -> str:
    response = http.post(
        "/datasets", content=gt.read_bytes(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def submit(http: httpx.Client, predictions: bytes, **where: Any) -> str:
    """Submit to a dataset (``dataset_id=...``) or with inline ``ground_truth=path``."""
    files: dict[str, Any] = {"predictions": ("p.json", predictions)}
    data = {}
    if "ground_truth" in where:
        files["ground_truth"] = ("gt.json", where["ground_truth"].read_bytes())
    else:
        data["dataset_id"] = where["dataset_id"]
    response = http.post("/evaluations", data=data, files=files)
    assert response.status_code == 202, response.text
    evaluation_id: str = response.json()["id"]
    return evaluation_id


@dataclass
class Ctx:
    dataset: str  # alice's COCO dataset: weak and perfect evaluations
    weak: str
    perfect: str
    other_dataset: str  # alice's second dataset: one evaluation
    other: str
    inline: str  # alice's, inline ground truth with one class
    bob_dataset: str
    bob: str
    before: dict[str, httpx.Response] = field(default_factory=dict)  # answers while queued
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def rstack(
    tmp_path_factory: pytest.TempPathFactory, storage_settings: dict[str, str]
) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("rep"), **storage_settings).start()  # no worker yet
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def ctx(rstack: Stack) -> Ctx:
    with rstack.http("alice") as alice, rstack.http("bob") as bob:
        dataset = create_dataset(alice, COCO_GT)
        other_dataset = create_dataset(alice, OTHER_GT)
        bob_dataset = create_dataset(bob, COCO_GT)
        c = Ctx(
            dataset=dataset,
            weak=submit(alice, COCO_DT.read_bytes(), dataset_id=dataset),
            perfect=submit(alice, perfect_predictions(COCO_GT), dataset_id=dataset),
            other_dataset=other_dataset,
            other=submit(alice, OTHER_DT.read_bytes(), dataset_id=other_dataset),
            inline=submit(alice, SMALL_DT.read_bytes(), ground_truth=SMALL_GT),
            bob_dataset=bob_dataset,
            bob=submit(bob, COCO_DT.read_bytes(), dataset_id=bob_dataset),
        )
        assert not rstack.workers  # so all of them are still queued
        for name, path in {
            "report.html": f"/evaluations/{c.weak}/report.html",
            "compare": f"/evaluations/{c.weak}/compare/{c.perfect}",
            "compare other dataset": f"/evaluations/{c.weak}/compare/{c.other}",
            "listing": f"/datasets/{c.dataset}/evaluations",
            "leaderboard": f"/datasets/{c.dataset}/leaderboard.html",
        }.items():
            c.before[name] = alice.get(path)
        rstack.start_worker()
        for evaluation_id in (c.weak, c.perfect, c.other, c.inline):
            final = rstack.wait_finished(alice, evaluation_id)
            assert final["status"] == "succeeded", final
            report = alice.get(f"/evaluations/{evaluation_id}/report")
            assert report.status_code == 200, report.text
            c.reports[evaluation_id] = report.json()
        assert rstack.wait_finished(bob, c.bob)["status"] == "succeeded"
    return c


def assert_problem(response: httpx.Response, status: int, *needles: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    for needle in needles:
        assert needle in body["detail"], body


# -- unfinished ----------------------------------------------------------------------------
def test_unfinished_evaluations_have_no_page_and_no_comparison(ctx: Ctx) -> None:
    assert_problem(ctx.before["report.html"], 409, ctx.weak, "queued")
    assert_problem(ctx.before["compare"], 409, "queued")


def test_other_dataset_is_refused_even_before_scoring(ctx: Ctx) -> None:
    # Known at once, so it is not a 409 that would turn into a 422 later.
    assert_problem(ctx.before["compare other dataset"], 422, "different datasets")


def test_unfinished_evaluations_are_listed_without_metrics(ctx: Ctx) -> None:
    listing = ctx.before["listing"]
    assert listing.status_code == 200, listing.text
    rows = listing.json()
    assert [r["id"] for r in rows] == [ctx.perfect, ctx.weak]  # newest first
    assert all(r["status"] == "queued" and r["metrics"] is None for r in rows)
    page = ctx.before["leaderboard"]
    assert page.status_code == 200, page.text
    assert ctx.weak in page.text and "report.html" not in page.text  # nothing to link yet


# -- report page ---------------------------------------------------------------------------
def test_report_page_shows_the_reports_numbers(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http() as http:
        page = http.get(f"/evaluations/{ctx.weak}/report.html")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    ap = ctx.reports[ctx.weak]["metrics"]["AP"]
    assert ap == pytest.approx(COCO_EXPECTED[0], abs=1e-12)  # pycocotools' AP
    assert f'data-value="{ap!r}"' in page.text
    assert f"{ap:.3f}" in page.text
    assert page.text.lstrip().lower().startswith("<!doctype html>")


# -- comparison ----------------------------------------------------------------------------
def test_compare_gives_the_deltas_of_the_two_reports(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http() as http:
        response = http.get(f"/evaluations/{ctx.weak}/compare/{ctx.perfect}")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["evaluations"] == {"a": ctx.weak, "b": ctx.perfect}
    weak, perfect = ctx.reports[ctx.weak], ctx.reports[ctx.perfect]
    assert perfect["metrics"]["AP"] > weak["metrics"]["AP"]
    for name, a in weak["metrics"].items():
        b = perfect["metrics"][name]
        pair = result["metrics"][name]
        assert (pair["a"], pair["b"]) == (a, b), name
        if a is None or b is None:
            assert pair["delta"] is None
        else:
            assert pair["delta"] == pytest.approx(b - a, abs=1e-12), name
    by_class = {row["category_id"]: row for row in perfect["per_class"]}
    for row in weak["per_class"]:
        delta = result_row(result, row["category_id"])["AP"]["delta"]
        if row["AP"] is None or by_class[row["category_id"]]["AP"] is None:
            assert delta is None
        else:
            assert delta == pytest.approx(by_class[row["category_id"]]["AP"] - row["AP"])
    assert result["counts"]["regressed"] == 0


def result_row(result: dict[str, Any], category_id: int) -> dict[str, Any]:
    rows = [row for row in result["per_class"] if row["category_id"] == category_id]
    assert len(rows) == 1, category_id
    return rows[0]


def test_compare_refuses_other_datasets_and_category_sets(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http() as http:
        datasets = http.get(f"/evaluations/{ctx.weak}/compare/{ctx.other}")
        classes = http.get(f"/evaluations/{ctx.inline}/compare/{ctx.weak}")
    assert_problem(datasets, 422, "different datasets", ctx.dataset, ctx.other_dataset)
    assert_problem(classes, 422, "different category sets")


# -- a dataset's evaluations ---------------------------------------------------------------
def test_listing_has_each_evaluations_metrics(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http() as http:
        first = http.get(f"/datasets/{ctx.dataset}/evaluations")
        again = http.get(f"/datasets/{ctx.dataset}/evaluations")  # now from the cache
        newest = http.get(f"/datasets/{ctx.dataset}/evaluations", params={"limit": 1})
        too_many = http.get(f"/datasets/{ctx.dataset}/evaluations", params={"limit": 0})
    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    rows = first.json()
    assert [r["id"] for r in rows] == [ctx.perfect, ctx.weak]
    for row in rows:
        assert row["status"] == "succeeded" and row["finished_at"] is not None
        assert row["metrics"] == ctx.reports[row["id"]]["metrics"]
    assert [r["id"] for r in newest.json()] == [ctx.perfect]
    assert_problem(too_many, 422, "limit")


def test_leaderboard_ranks_by_ap_and_links_reports(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http() as http:
        page = http.get(f"/datasets/{ctx.dataset}/leaderboard.html")
        target = page.url.join(f"../../evaluations/{ctx.weak}/report.html")
        linked = http.get(target)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.index(ctx.perfect) < html.index(ctx.weak)  # AP 1 before AP 0.50
    for evaluation_id in (ctx.perfect, ctx.weak):
        assert f'href="../../evaluations/{evaluation_id}/report.html"' in html
    assert ctx.other not in html and ctx.inline not in html
    # The relative link resolves to the report page.
    assert target.path == f"/v1/evaluations/{ctx.weak}/report.html"
    assert linked.status_code == 200, linked.text


# -- tenants -------------------------------------------------------------------------------
def test_another_tenant_gets_404_everywhere(rstack: Stack, ctx: Ctx) -> None:
    with rstack.http("bob") as bob, rstack.http("alice") as alice:
        answers = [
            bob.get(f"/evaluations/{ctx.weak}/report.html"),
            bob.get(f"/evaluations/{ctx.weak}/compare/{ctx.perfect}"),
            bob.get(f"/evaluations/{ctx.bob}/compare/{ctx.weak}"),  # one of them is his
            alice.get(f"/evaluations/{ctx.weak}/compare/{ctx.bob}"),
            bob.get(f"/datasets/{ctx.dataset}/evaluations"),
            bob.get(f"/datasets/{ctx.dataset}/leaderboard.html"),
        ]
        own = bob.get(f"/datasets/{ctx.bob_dataset}/evaluations")
    for response in answers:
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert [r["id"] for r in own.json()] == [ctx.bob]  # his own listing has only his


def test_no_key_is_401(rstack: Stack, ctx: Ctx) -> None:
    with httpx.Client(base_url=f"{rstack.url}/v1", timeout=30) as anonymous:
        for path in (
            f"/evaluations/{ctx.weak}/report.html",
            f"/evaluations/{ctx.weak}/compare/{ctx.perfect}",
            f"/datasets/{ctx.dataset}/leaderboard.html",
        ):
            assert_problem(anonymous.get(path), 401)


def test_new_endpoints_are_documented(rstack: Stack) -> None:
    spec = httpx.get(f"{rstack.url}/openapi.json", timeout=30).json()
    paths = spec["paths"]
    html = paths["/v1/evaluations/{evaluation_id}/report.html"]["get"]["responses"]
    assert "text/html" in html["200"]["content"] and "409" in html
    compare = paths["/v1/evaluations/{evaluation_id}/compare/{other_id}"]["get"]["responses"]
    assert "metrics" in compare["200"]["content"]["application/json"]["example"]
    assert {"404", "409", "422"} <= set(compare)
    listing = paths["/v1/datasets/{dataset_id}/evaluations"]["get"]
    assert any(p["name"] == "limit" for p in listing["parameters"])
    board = paths["/v1/datasets/{dataset_id}/leaderboard.html"]["get"]["responses"]
    assert "text/html" in board["200"]["content"]
