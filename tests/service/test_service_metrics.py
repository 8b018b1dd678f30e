"""GET /metrics and the job log lines on the real stack.

The API runs as two uvicorn processes and the worker as a third, so a count is right
only if every process counts into the job store: any scrape, answered by either API
process, must show what all of them did. The exposition text is read with
prometheus_client's parser and checked for what that parser lets pass (a HELP and a
TYPE line before each family's samples, cumulative buckets, ``+Inf`` equal to the
count).
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import SMALL_GT, Stack, wait_for

from service.api.app import create_app
from service.backend import joblog, telemetry
from service.backend.config import Settings
from service.backend.jobs import JobStore, connect
from service.backend.storage import PREDICTIONS_FILE, LocalStorage
from service.ops.embedded import EmbeddedRedis

parser = pytest.importorskip(
    "prometheus_client.parser", reason="prometheus_client is not installed (the test extra)"
)

GOOD = [
    {"image_id": i, "category_id": 1, "bbox": [10, 10, 50, 40], "score": 0.9} for i in range(1, 11)
]
#: Valid when uploaded; put in place of a stored job's predictions, it fails the job in
#: the worker (an image the ground truth does not have).
UNKNOWN_IMAGE = [{"image_id": 999, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5}]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two API processes and, once a test starts one, a worker."""
    running = Stack(tmp_path_factory.mktemp("metrics")).start(api_args=("--workers", "2"))
    try:
        yield running
    finally:
        running.stop()


def check_exposition(text: str) -> Samples:
    """Parse exposition text as Prometheus would, check what the parser does not, and
    return every sample as (name, sorted labels) -> value."""
    declared: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name = line.split(" ")[1:3]
            declared.setdefault(name, set()).add(kind)
        else:
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            owner = name if name in declared else family
            assert declared.get(owner) == {"HELP", "TYPE"}, f"{line!r} before its HELP and TYPE"
    samples: Samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
        if family.type == "histogram":
            series: dict[tuple[tuple[str, str], ...], list[float]] = {}
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    rest = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                    series.setdefault(rest, []).append(sample.value)
            for rest, buckets in series.items():
                assert buckets == sorted(buckets), (family.name, rest, buckets)
                assert buckets[-1] == samples[f"{family.name}_count", rest], (family.name, rest)
    return samples


def scrape(stack: Stack, **headers: str) -> Samples:
    response = httpx.get(f"{stack.url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == telemetry.CONTENT_TYPE
    return check_exposition(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not yet counted."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def job_lines(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The ``deteval.jobs`` lines of one process' log, each parsed as JSON."""
    lines = []
    for line in (stack.logs / f"{name}.log").read_text(errors="replace").splitlines():
        if '"logger":"deteval.jobs"' in line:
            parsed = json.loads(line)  # the whole line, or the test fails here
            assert parsed["logger"] == "deteval.jobs"
            lines.append(parsed)
    return lines


def submit(http: httpx.Client, dataset_id: str, predictions: list[dict[str, Any]]) -> str:
    body = json.dumps(predictions).encode()
    response = http.post(
        "/evaluations",
        data={"dataset_id": dataset_id},
        files={"predictions": ("p.json", body, "application/json")},
    )
    assert response.status_code == 202, response.text
    evaluation_id: str = response.json()["id"]
    return evaluation_id


def test_jobs_move_the_counts_histograms_gauges_and_the_log(stack: Stack) -> None:
    before = scrape(stack)
    assert value(before, "deteval_workers") == 0
    with stack.http() as http:
        gt = json.dumps(SMALL_GT).encode()
        created = http.post("/datasets", content=gt, headers={"Content-Type": "application/json"})
        assert created.status_code == 201, created.text
        dataset_id = created.json()["id"]
        good = submit(http, dataset_id, GOOD)
        bad = submit(http, dataset_id, GOOD)
        # No worker runs yet: both messages wait in the broker.
        stored = LocalStorage(stack.data_dir).evaluation_dir("alice", bad) / PREDICTIONS_FILE
        stored.write_bytes(json.dumps(UNKNOWN_IMAGE).encode())
        queued = scrape(stack)
        assert value(queued, "deteval_queue_depth") == 2
        assert value(queued, "deteval_jobs", state="queued") == 2
        assert value(queued, "deteval_jobs", state="running") == 0
        jobs_total = "deteval_jobs_total"
        assert (
            value(queued, jobs_total, state="queued") - value(before, jobs_total, state="queued")
            == 2
        )
        uploads = "deteval_upload_bytes"
        for kind, count, size in (
            ("dataset", 1, len(gt)),
            ("predictions", 2, 2 * len(json.dumps(GOOD))),
        ):
            grown = value(queued, f"{uploads}_count", kind=kind) - value(
                before, f"{uploads}_count", kind=kind
            )
            assert grown == count, kind
            added = value(queued, f"{uploads}_sum", kind=kind) - value(
                before, f"{uploads}_sum", kind=kind
            )
            assert added == size, kind
        assert value(queued, f"{uploads}_bucket", kind="dataset", le="1024") == 0
        assert value(queued, f"{uploads}_bucket", kind="dataset", le="16384") == 1

        stack.start_worker()
        assert stack.wait_finished(http, good)["status"] == "succeeded"
        failed = stack.wait_finished(http, bad)
        assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_input"
        assert http.get(f"/evaluations/{'0' * 32}").status_code == 404
        assert http.delete(f"/evaluations/{bad}").status_code == 204

    def grown(samples: Samples, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    after = wait_for(
        lambda: scrape(stack),
        lambda s: grown(s, "deteval_errors_total", source="api", type="evaluation-not-found") == 1,
        10,
        "the 404 to be counted",
    )
    for state, n in (("queued", 2), ("started", 2), ("succeeded", 1), ("failed", 1)):
        assert grown(after, jobs_total, state=state) == n, state
    assert grown(after, jobs_total, state="deleted") == 1
    assert grown(after, "deteval_errors_total", source="job", type="invalid_input") == 1
    assert grown(after, "deteval_scoring_seconds_count", iou_type="bbox") == 1
    assert 0 < grown(after, "deteval_scoring_seconds_sum", iou_type="bbox") < 60
    assert grown(after, "deteval_queue_wait_seconds_count") == 2
    assert value(after, "deteval_queue_depth") == 0
    assert value(after, "deteval_jobs", state="queued") == 0
    assert value(after, "deteval_jobs", state="running") == 0
    assert value(after, "deteval_workers") == 1
    assert value(after, "deteval_deletions_pending") == 0

    # One line per transition, from the process that made it.
    api, worker = job_lines(stack, "api"), job_lines(stack, "worker0")
    seen = [(line["job_id"], line["event"]) for line in api + worker]
    assert sorted(e for j, e in seen if j == good) == ["queued", "started", "succeeded"]
    assert sorted(e for j, e in seen if j == bad) == ["deleted", "failed", "queued", "started"]
    made_in = {(line["job_id"], line["event"]): "api" for line in api}
    made_in |= {(line["job_id"], line["event"]): "worker" for line in worker}
    assert made_in[good, "queued"] == made_in[bad, "deleted"] == "api"
    assert made_in[good, "started"] == made_in[good, "succeeded"] == "worker"
    assert made_in[bad, "failed"] == "worker"
    by_event = {(line["job_id"], line["event"]): line for line in api + worker}
    line = by_event[good, "succeeded"]
    assert line["tenant"] == "alice" and line["dataset_id"] == dataset_id
    assert line["iou_type"] == "bbox" and line["attempt"] == 1 and line["level"] == "info"
    assert 0 < line["duration_seconds"] <= line["total_seconds"]
    assert by_event[bad, "failed"]["error_type"] == "invalid_input"


def test_rendering_escapes_labels_and_sums_buckets(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    try:
        client = connect(server.url)
        for seconds in (0.05, 0.3, 0.3, 7.0, 5000.0):
            telemetry.observe(client, telemetry.SCORING_SECONDS, seconds, "segm")
        telemetry.count(client, telemetry.ERRORS_TOTAL, "api", 'odd "type"\\\n')
        text = telemetry.render(telemetry.read_stored(client), [])
    finally:
        server.stop()
    samples = check_exposition(text)
    name = "deteval_scoring_seconds"
    cumulative = {"0.1": 1, "0.25": 1, "0.5": 3, "5": 3, "10": 4, "3600": 4, "+Inf": 5}
    for le, expected in cumulative.items():
        assert value(samples, f"{name}_bucket", iou_type="segm", le=le) == expected, le
    assert value(samples, f"{name}_count", iou_type="segm") == 5
    assert math.isclose(value(samples, f"{name}_sum", iou_type="segm"), 5007.65)
    assert value(samples, "deteval_errors_total", source="api", type='odd "type"\\\n') == 1


@pytest.mark.parametrize("count_args", [("api",), ("api", "x", "y")])
def test_a_wrong_label_count_is_refused(count_args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="takes labels"):
        telemetry.counter_field(telemetry.ERRORS_TOTAL, *count_args)


def test_token_and_switch(tmp_path: Path) -> None:
    token = "scrape-token-0123456789"
    secured = Stack(tmp_path / "s", metrics_token=token).start()
    try:
        url = f"{secured.url}/metrics"
        assert httpx.get(url).status_code == 401
        wrong = httpx.get(url, headers={"Authorization": "Bearer alice-key-0123456789abcdef"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        scrape(secured, Authorization=f"Bearer {token}")
        spec = httpx.get(f"{secured.url}/openapi.json").json()
        operation = spec["paths"]["/metrics"]["get"]
        assert operation["security"] == [{"MetricsToken": []}] and "401" in operation["responses"]
        example = operation["responses"]["200"]["content"]["text/plain"]["example"]
        assert value(check_exposition(example), "deteval_jobs_total", state="succeeded") == 1
    finally:
        secured.stop()
    keys = "alice:alice-key-0123456789abcdef"
    off = create_app(
        Settings(redis_url="redis://127.0.0.1:1", api_keys=keys, metrics_enabled=False)
    )
    assert "/metrics" not in off.openapi()["paths"]
    assert not any(getattr(route, "path", "") == "/metrics" for route in off.routes)


def test_requeued_cancelled_and_retried_jobs(tmp_path: Path) -> None:
    """A worker killed mid-job (the sweeper puts the job back), a job deleted while it
    runs (its worker cancels it), a job whose tries keep failing (retried, then failed):
    each transition once, logged by the process that made it, and counted."""
    here = Path(__file__).resolve().parent
    gate = tmp_path / "gate"
    gate.mkdir()
    stack = Stack(tmp_path / "s", test_gate=str(gate)).start()
    try:
        with stack.http() as http:
            gt = json.dumps(SMALL_GT).encode()
            created = http.post(
                "/datasets", content=gt, headers={"Content-Type": "application/json"}
            )
            dataset_id = created.json()["id"]
            gated = [str(here / "gated_worker.py")]
            first = stack.start_worker(gated)
            killed = submit(http, dataset_id, GOOD)
            wait_for(lambda: len(list(gate.glob("reached-*"))), bool, 60, "the first run")
            stack.stop_worker(first, signal.SIGKILL)
            wait_for(
                lambda: [e["event"] for e in job_lines(stack, "api") if e["job_id"] == killed],
                lambda events: "requeued" in events,
                30,
                "the sweeper to requeue the job",
            )
            second = stack.start_worker(gated)
            wait_for(lambda: len(list(gate.glob("reached-*"))), lambda n: n == 2, 60, "a rerun")
            assert http.delete(f"/evaluations/{killed}").status_code == 204
            (gate / "open").touch()
            wait_for(
                lambda: [e["event"] for e in job_lines(stack, "worker1")],
                lambda events: "cancelled" in events,
                30,
                "the worker to cancel the deleted job",
            )
            stack.stop_worker(second)

            stack.start_worker([str(here / "flaky_worker.py")])
            flaky = submit(http, dataset_id, GOOD)
            final = stack.wait_finished(http, flaky)
            assert final["status"] == "failed" and final["error"]["code"] == "transient", final
        samples = scrape(stack)
    finally:
        stack.stop()

    lines = {name: job_lines(stack, name) for name in ("api", "worker0", "worker1", "worker2")}

    def events(name: str, job: str) -> list[tuple[str, int | None]]:
        return [
            (line["event"], line.get("attempt")) for line in lines[name] if line["job_id"] == job
        ]

    assert events("api", killed) == [("queued", None), ("requeued", 1), ("deleted", None)]
    assert events("worker0", killed) == [("started", 1)]
    assert events("worker1", killed) == [("started", 2), ("cancelled", 2)]
    assert events("api", flaky) == [("queued", None)]
    assert events("worker2", flaky) == [
        ("started", 1),
        ("retried", 1),
        ("started", 2),
        ("retried", 2),
        ("started", 3),
        ("failed", 3),
    ]
    retried = [line for line in lines["worker2"] if line["event"] == "retried"]
    assert all("the data volume dropped out" in line["error"] for line in retried), retried
    assert [line["error_type"] for line in lines["worker2"] if line["event"] == "failed"] == [
        "transient"
    ]
    for state, n in (("requeued", 1), ("cancelled", 1), ("retried", 2), ("started", 5)):
        assert value(samples, "deteval_jobs_total", state=state) == n, state
    assert value(samples, "deteval_errors_total", source="job", type="transient") == 1
    assert value(samples, "deteval_queue_wait_seconds_count") == 2  # first starts only


def test_a_broker_down_leaves_out_only_the_queue_depth(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "s", separate_broker=True).start()
    try:
        assert value(scrape(stack), "deteval_queue_depth") == 0
        assert stack.broker_server is not None
        stack.broker_server.stop()
        samples = scrape(stack)
        assert not any(name == "deteval_queue_depth" for name, _ in samples)
        assert value(samples, "deteval_jobs", state="queued") == 0
    finally:
        stack.stop()


def test_a_store_gone_after_a_transition_loses_its_counts_not_its_line(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    store = JobStore(connect(server.url))
    job_id = "a" * 32
    try:
        assert store.create(job_id, "alice", None) == 1
    finally:
        server.stop()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(joblog.JsonFormatter())
    logger = logging.getLogger(joblog.LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        store.events.emit(joblog.SUCCEEDED, job_id, note="x")  # does not raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    line = json.loads(stream.getvalue())
    assert line["event"] == "succeeded" and line["job_id"] == job_id and line["note"] == "x"
