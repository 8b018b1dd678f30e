"""The OpenAPI document against the real API: schemathesis, every check, every phase.

Schemathesis runs as its own command against the module's stack on loopback, with an
API key, every check, a fixed seed and a bounded number of examples and time: once for
the examples, coverage and fuzzing phases, once for the stateful phase (so fuzzing cannot
eat its time). The stateful phase walks the document's links at random, looking for
failures; a deterministic walk of our own follows every link from a real dataset upload
(to an evaluation and its status, report, page, comparison and share) and checks that
each leads to an answer.

One allowance, in :data:`CONFIG`: a request that matches its schema may still be refused
with 422 (``positive_data_acceptance``) by four operations. The uploads, because what
makes ground truth or predictions valid (an annotation naming an existing image, a file
that is JSON at all) is beyond what JSON Schema can say about a file field; the
comparison, because two evaluations of different datasets are not comparable, which
depends on what the ids name, not on their form (as 404 and 409 do, allowed by default);
a share link's request, because the longest a link may last is a setting of the
service (DETEVAL_SHARE_MAX_DAYS), not a constant of the document.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_stack import KEYS, SMALL_GT, Stack

pytest.importorskip("schemathesis", reason="schemathesis is not installed (the test extra)")

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = """\
[[operations]]
include-operation-id = [
  "create_dataset", "create_evaluation", "compare_evaluations", "create_share"
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "409", "422"]
"""
SEED = "20261202"
MAX_EXAMPLES = "25"
#: The operations of the API (every one tested).
OPERATIONS = 18


@dataclass
class Run:
    """What one schemathesis run did, from its JSON and NDJSON reports."""

    returncode: int
    output: str
    report: dict[str, Any]
    statuses: dict[str, collections.Counter[int]] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    @property
    def documented(self) -> set[str]:
        """The operations answered other than 405 (the probes of undocumented methods)."""
        return {op for op, counts in self.statuses.items() if set(counts) - {405}}

    def summary(self) -> str:
        return (
            f"{self.requests} requests, {len(self.documented)} operations answered, "
            f"{self.report['test_cases']['generated']} test cases, "
            f"{len(self.report['failures'])} failures, {len(self.report['errors'])} errors, "
            f"{self.report['running_time']:.0f} s"
        )


def _statuses(ndjson: Path) -> dict[str, collections.Counter[int]]:
    """Per operation (``METHOD /path``), how often each status was answered."""
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    with ndjson.open() as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            for case_id, case in (recorder.get("cases") or {}).items():
                response = (interactions.get(case_id) or {}).get("response")
                if response is not None:
                    request = case["value"]
                    operation = f"{request['method']} {request['path']}"
                    statuses[operation][response["status_code"]] += 1
    return dict(statuses)


def run_schemathesis(stack: Stack, out: Path, phases: str, max_time: int, *extra: str) -> Run:
    config = out / "schemathesis.toml"
    config.write_text(CONFIG)
    argv = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{stack.url}/openapi.json",
        "--phases",
        phases,
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {KEYS['alice']}",
        "--max-examples",
        MAX_EXAMPLES,
        "--max-time",
        str(max_time),
        "--workers",
        "1",
        "--seed",
        SEED,
        *extra,
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(out / "report.json"),
        "--report-ndjson-path",
        str(out / "events.ndjson"),
    ]
    # In ``out``: schemathesis keeps a cache in its working directory.
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, timeout=max_time + 120)
    report = json.loads((out / "report.json").read_text())
    return Run(done.returncode, done.stdout + done.stderr, report, _statuses(out / "events.ndjson"))


def _operations(run: Run) -> int:
    counts: dict[str, int] = run.report["operations"]
    assert counts["selected"] == counts["total"] == OPERATIONS, counts
    return counts["tested"]


def test_every_error_is_documented_as_a_problem(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url}/openapi.json", timeout=30).json()
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    assert "Problem" in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"] == {"application/problem+json": problem}, (
                        method,
                        path,
                        status,
                    )
    uploads = [spec["paths"][p]["post"]["responses"] for p in ("/v1/datasets", "/v1/evaluations")]
    for responses in uploads:
        assert {"400", "401", "413", "415", "422", "503", "507"} <= set(responses)


def test_examples_coverage_and_fuzzing_find_nothing(stack: Stack, tmp_path: Path) -> None:
    run = run_schemathesis(stack, tmp_path, "examples,coverage,fuzzing", max_time=75)
    print(f"examples, coverage, fuzzing: {run.summary()}")
    assert run.report["failures"] == [] and run.report["errors"] == [], run.output[-6000:]
    assert run.returncode == 0, run.output[-6000:]
    assert _operations(run) == OPERATIONS, run.output[-3000:]
    assert len(run.documented) == OPERATIONS, run.statuses
    assert not any(status >= 500 for counts in run.statuses.values() for status in counts)


def test_stateful_phase_finds_no_failure(stack: Stack, tmp_path: Path) -> None:
    """schemathesis' own walk along the links, with every check, and no 5xx. How far a
    random walk gets in its time is left to chance; that every link leads where it says
    is :func:`test_every_link_leads_to_its_operation`."""
    # Share links and deletions are left out of this walk: listing shares and revoking
    # what the listing names, or deleting what was just made, took most of its time.
    # The other phases fuzz them, and they have their own real-stack tests.
    run = run_schemathesis(
        stack,
        tmp_path,
        "stateful",
        90,
        "--exclude-path-regex",
        "^/v1/shares",
        "--exclude-method",
        "DELETE",
    )
    print(f"stateful: {run.summary()}")
    for operation, counts in sorted(run.statuses.items()):
        print(f"  {operation}: {dict(sorted(counts.items()))}")
    assert run.report["failures"] == [] and run.report["errors"] == [], run.output[-6000:]
    assert run.returncode == 0, run.output[-6000:]
    assert not any(status >= 500 for counts in run.statuses.values() for status in counts)


def _resolve(value: Any, body: Any) -> Any:
    """A link's value: ``$response.body#/pointer`` read from ``body``, anything else as is."""
    if isinstance(value, str) and value.startswith("$response.body#/"):
        for part in value.removeprefix("$response.body#/").split("/"):
            body = body[int(part)] if isinstance(body, list) else body[part]
        return body
    return value


def _follow(
    http: httpx.Client,
    operations: dict[str, tuple[str, str, dict[str, Any]]],
    link: dict,
    body: Any,
) -> httpx.Response:
    """The request a link describes, made: its path parameters and request body filled
    from ``body`` (a multipart form for an operation that takes one, with its binary
    fields as files; else JSON)."""
    method, path, operation = operations[link["operationId"]]
    for name, value in link.get("parameters", {}).items():
        path = path.replace("{" + name + "}", str(_resolve(value, body)))
    fields = {name: _resolve(value, body) for name, value in link.get("requestBody", {}).items()}
    if not fields:
        return http.request(method, path)
    content = operation["requestBody"]["content"]
    if "multipart/form-data" not in content:
        return http.request(method, path, json=fields)
    schema = content["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = http.get("/openapi.json").json()["components"]["schemas"][
            schema["$ref"].rsplit("/", 1)[1]
        ]
    binary = {n for n, p in schema["properties"].items() if p.get("format") == "binary"}
    files = {n: (n + ".json", str(v).encode()) for n, v in fields.items() if n in binary}
    data = {n: v for n, v in fields.items() if n not in binary}
    return http.request(method, path, data=data, files=files)


def test_every_link_leads_to_its_operation(stack: Stack) -> None:
    """Every link of the document, followed from a real upload as its runtime expressions
    say, answers: no 401, 404, 422 or 5xx (a report not ready yet may be a 409). A
    deterministic walk, where the stateful phase's is random."""
    spec = httpx.get(f"{stack.url}/openapi.json", timeout=30).json()
    operations = {
        op["operationId"]: (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    http = httpx.Client(
        base_url=stack.url, timeout=60, headers={"Authorization": f"Bearer {KEYS['alice']}"}
    )
    with http:
        start = http.post(
            "/v1/datasets",
            content=json.dumps(SMALL_GT).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert start.status_code == 201, start.text
        pending = [("create_dataset", start)]
        followed: set[tuple[str, str]] = set()
        reached: set[str] = set()
        while pending:
            source, response = pending.pop()
            answers = operations[source][2]["responses"].get(str(response.status_code), {})
            for name, link in answers.get("links", {}).items():
                if (source, name) in followed:
                    continue
                followed.add((source, name))
                answer = _follow(http, operations, link, response.json())
                assert answer.status_code < 400 or answer.status_code == 409, (
                    source,
                    name,
                    answer.status_code,
                    answer.text[:500],
                )
                reached.add(link["operationId"])
                if answer.headers.get("content-type", "").startswith("application/json"):
                    pending.append((link["operationId"], answer))
    every_target = {
        link["operationId"]
        for _, _, op in operations.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    }
    assert reached == every_target, sorted(every_target - reached)
