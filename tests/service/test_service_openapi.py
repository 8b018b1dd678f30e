"""The OpenAPI document against the real API: schemathesis, every check, every phase.

Schemathesis runs as its own command against the module's stack on loopback, with an
API key, every check, a fixed seed and a bounded number of examples and time: once for
the examples, coverage and fuzzing phases, once for the stateful phase (so fuzzing cannot
eat its time). The stateful phase follows the document's links from a dataset upload to
an evaluation and its status, report, page and comparison; the test asserts it reached
every operation that takes an id.

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
from service_stack import KEYS, Stack

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


def test_stateful_phase_reaches_every_operation(stack: Stack, tmp_path: Path) -> None:
    # Share links are left out of this walk: listing them and revoking what the listing
    # names (links schemathesis infers) are quick calls that took most of its time, and
    # the scoring chain was no longer walked to its end. The other phases fuzz them, and
    # test_service_web_http walks them on the real stack.
    # Deletions are left out too: a walk that deletes what it just made has nothing left
    # to follow (deletion has its own real-stack tests, and the other phases fuzz it).
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
    # Reached past authentication: an answer other than 401.
    reached = {op for op, counts in run.statuses.items() if set(counts) - {401}}
    with_ids = {
        "POST /v1/datasets",
        "GET /v1/datasets/{dataset_id}",
        "GET /v1/datasets/{dataset_id}/evaluations",
        "GET /v1/datasets/{dataset_id}/leaderboard.html",
        "POST /v1/evaluations",
        "GET /v1/evaluations/{evaluation_id}",
        "GET /v1/evaluations/{evaluation_id}/report",
        "GET /v1/evaluations/{evaluation_id}/report.html",
        "GET /v1/evaluations/{evaluation_id}/compare/{other_id}",
        "GET /v1/health",  # linked from an evaluation: how the service fares meanwhile
    }
    assert with_ids <= reached, (sorted(with_ids - reached), run.statuses)
    # The links carried real ids: uploads were accepted and what they created was found.
    succeeded = {op for op, counts in run.statuses.items() if any(200 <= s < 300 for s in counts)}
    assert {
        "POST /v1/datasets",
        "GET /v1/datasets/{dataset_id}",
        "POST /v1/evaluations",
        "GET /v1/evaluations/{evaluation_id}",
    } <= succeeded, run.statuses
