"""Fault run of the HTTP service: work accepted while processes are killed, none lost.

Starts ``python -m deteval serve`` (one scoring process, two API processes) on a free
loopback port with a fresh data directory, uploads the reference ground truth
(cocoapi-val2014-fake100, found in ``$DETEVAL_SHARED_DIR`` or ``../shared``) and
computes, in this process with the library, the report its results must give. Then,
for ``--seconds``:

* ``--clients`` clients submit evaluations of the reference results, one after the
  other, each polling its job for up to ``--patience`` s before submitting the next;
* ``--bad-clients`` clients send hostile requests from a small rotating table (deep
  nesting, a lone surrogate and a 5,000-character name, truncated JSON, wrong content
  types, a declared length over the limit, no key, an unknown dataset), and
  ``--stallers`` clients send bodies that stop half way and never finish;
* every ``--kill-every`` seconds a chaos loop SIGKILLs the next of: the Celery child
  process, the Celery worker, the embedded valkey, one uvicorn API worker, the
  work-pool processes of one API worker (all found in the process tree under ``serve``).

Then the chaos stops and every accepted job (202) is waited for (``--drain-seconds`` at
most) and checked: succeeded, its report byte for byte the expected one, one report file
in its directory. Jobs the service stored though their client got no answer (the
connection died) are checked the same way and counted apart. Last, ``serve`` is
stopped (Ctrl-C) and every process ever seen under it must end within 30 s.

Prints a summary and, last, the figures as one JSON line. Exits with 1 if an accepted
job was lost (not finished, failed, a wrong or extra report), if a hostile request got a
5xx answer, if any request got a 500, or if a process outlived ``serve``. Connection
errors while processes are killed are expected: the request in flight at a killed API
worker gets no answer, so it was not accepted. They are counted apart, and so are the
503s answered while the job store is down (nothing is accepted then). The data
directory and ``serve.log`` are kept (and their place printed) when the run fails, or
with ``--keep``. Example::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/fault_run.py --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench_service import start_serve

from workers.pipeline import score

try:
    import psutil
except ImportError:  # the process tree is then read from /proc
    psutil = None

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DETEVAL_SHARED_DIR", REPO.parent / "shared"))
REFERENCE = SHARED / "reference-data" / "cocoapi-val2014-fake100"
GT = REFERENCE / "instances_val2014_100.json"
RESULTS = REFERENCE / "instances_val2014_fakebbox100_results.json"
FINISHED = ("succeeded", "failed")
#: What the chaos loop kills, in turn.
TARGETS = ("celery-child", "api-worker", "valkey", "work-pool", "celery-main")
#: Bodies that stop half way: declared length, bytes sent before the client goes quiet.
STALLED_LENGTH, STALLED_SENT = 1_000_000, 1_000

# -- hostile requests ------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile request: a POST of ``body`` to ``path``.

    ``declared`` is the Content-Length sent when it is not ``len(body)``; ``stall``
    marks a body that stops short of it (its client waits for the server to give up,
    so it sends the next one without a pause).
    """

    name: str
    path: str
    content_type: str | None
    body: bytes
    declared: int | None = None
    key: bool = True
    stall: bool = False


TINY_GT = {
    "images": [{"id": 1, "width": 64, "height": 64}],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100}
    ],
}
DEEP = b"[" * 100_000 + b"]" * 100_000


def _gt_named(raw_name: bytes) -> bytes:
    """The tiny ground truth with its category's name replaced by raw JSON text."""
    return json.dumps(TINY_GT).encode().replace(b'"cat"', raw_name)


def form(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart form: (body, content type)."""
    request = httpx.Request(
        "POST",
        "http://form/",
        data=fields,
        files={name: (f"{name}.json", data) for name, data in files.items()},
    )
    return request.read(), request.headers["Content-Type"]


def hostile_requests(dataset_id: str, results: bytes) -> list[Hostile]:
    """The rotating table of hostile requests (all must be answered 4xx)."""
    gt = json.dumps(TINY_GT).encode()
    deep_form = form({"dataset_id": dataset_id}, {"predictions": DEEP})
    cut_form = form({"dataset_id": dataset_id}, {"predictions": results[: len(results) // 2]})
    unknown_form = form({"dataset_id": "0" * 32}, {"predictions": results})
    good_form = form({"dataset_id": dataset_id}, {"predictions": results})
    json_type, multipart = "application/json", good_form[1]
    return [
        Hostile("dataset-deep-nesting", "/v1/datasets", json_type, DEEP),
        Hostile("predictions-deep-nesting", "/v1/evaluations", deep_form[1], deep_form[0]),
        Hostile("name-lone-surrogate", "/v1/datasets", json_type, _gt_named(b'"a\\ud800"')),
        Hostile("name-5000-chars", "/v1/datasets", json_type, _gt_named(b'"' + b"n" * 5000 + b'"')),
        Hostile("dataset-truncated", "/v1/datasets", json_type, gt[: len(gt) // 2]),
        Hostile("predictions-truncated", "/v1/evaluations", cut_form[1], cut_form[0]),
        Hostile("dataset-as-text-plain", "/v1/datasets", "text/plain", gt),
        Hostile("evaluation-as-json", "/v1/evaluations", json_type, gt),
        Hostile("multipart-no-boundary", "/v1/evaluations", "multipart/form-data", good_form[0]),
        Hostile("form-cut-short", "/v1/evaluations", multipart, good_form[0][:-200]),
        Hostile("dataset-declares-10GB", "/v1/datasets", json_type, gt, declared=10 * 2**30),
        Hostile("evaluation-declares-10GB", "/v1/evaluations", multipart, b"--", 10 * 2**30),
        Hostile("no-key", "/v1/datasets", json_type, gt, key=False),
        Hostile("unknown-dataset", "/v1/evaluations", unknown_form[1], unknown_form[0]),
    ]


def stalled_request(gt: bytes) -> Hostile:
    """A dataset upload that sends its first bytes and then nothing, for ever."""
    return Hostile(
        "stalled-body",
        "/v1/datasets",
        "application/json",
        gt[:STALLED_SENT],
        declared=STALLED_LENGTH,
        stall=True,
    )


async def send_raw(
    host: str, port: int, key: str, hostile: Hostile, timeout: float
) -> tuple[int, str]:
    """Send ``hostile`` on a connection of its own; the answer's status and body.

    Raises ``OSError`` or ``asyncio.IncompleteReadError`` when the connection breaks,
    ``TimeoutError`` when no answer comes within ``timeout`` s.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [f"POST {hostile.path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        if hostile.key:
            head.append(f"Authorization: Bearer {key}")
        if hostile.content_type is not None:
            head.append(f"Content-Type: {hostile.content_type}")
        declared = len(hostile.body) if hostile.declared is None else hostile.declared
        head.append(f"Content-Length: {declared}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + hostile.body)
        await writer.drain()
        head_in = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head_in.decode("latin-1").split("\r\n")
        length = next(
            (
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        body = await asyncio.wait_for(reader.readexactly(min(length, 4096)), timeout)
        return int(lines[0].split()[1]), body.decode(errors="replace")
    finally:
        writer.close()


# -- the process tree under serve --------------------------------------------------------


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s children."""
    if psutil is not None:
        try:
            return [child.pid for child in psutil.Process(pid).children()]
        except psutil.NoSuchProcess:
            return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "(comm)" and state
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    """``pid``'s command line, words joined by spaces ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def identity(pid: int) -> tuple[int, int] | None:
    """(pid, start time in clock ticks): names one process even once its pid is reused;
    None once it is gone (a zombie counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (pid, int(fields[19]))  # state; starttime, field 22


def descendants(pid: int) -> list[int]:
    """``pid``'s children, theirs, and so on."""
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def children_running(pid: int, marker: str) -> list[int]:
    """``pid``'s children whose command line holds ``marker``."""
    return [child for child in children(pid) if marker in cmdline(child)]


def find_target(serve_pid: int, target: str, turn: int) -> list[int]:
    """The pids to kill for ``target`` (empty if it is not running now).

    ``turn`` picks which API worker, so that the kills alternate between them.
    """
    api = children_running(serve_pid, "deteval api")
    worker = children_running(serve_pid, "deteval worker")
    if target == "valkey":
        return children_running(serve_pid, "valkey-server") or children_running(
            serve_pid, "redis-server"
        )
    if target == "celery-main":
        return worker[:1]
    if target == "celery-child":
        return children(worker[0])[:1] if worker else []
    api_workers = children_running(api[0], "spawn_main") if api else []
    if not api_workers:
        return []
    chosen = api_workers[turn % len(api_workers)]
    if target == "api-worker":
        return [chosen]
    pools = [children_running(w, "spawn_main") for w in api_workers]
    with_pool = [pool for pool in pools if pool]  # pool processes start on first use
    return with_pool[turn % len(with_pool)] if with_pool else []


# -- the run -----------------------------------------------------------------------------


@dataclass
class Tally:
    accepted: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)  # good submits not answered 202
    poll_answers: Counter[int] = field(default_factory=Counter)  # non-200 status polls
    connection_errors: Counter[str] = field(default_factory=Counter)
    bad: dict[str, Counter[int]] = field(default_factory=dict)  # hostile name -> codes
    kills: Counter[str] = field(default_factory=Counter)
    not_running: Counter[str] = field(default_factory=Counter)  # target absent at its turn
    kill_log: list[tuple[float, str, list[int]]] = field(default_factory=list)
    server_errors: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # 5xx
    seen: set[tuple[int, int]] = field(default_factory=set)  # every process under serve

    def transport(self, where: str, exc: BaseException) -> None:
        self.connection_errors[f"{where}: {type(exc).__name__}"] += 1


async def good_client(
    http: httpx.AsyncClient, submit: tuple[bytes, str], tally: Tally, args: argparse.Namespace
) -> None:
    """Submit evaluations until the run ends, polling each for up to ``--patience`` s."""
    body, content_type = submit
    while time.monotonic() < args.stop_at:
        try:
            answer = await http.post(
                "/v1/evaluations", content=body, headers={"Content-Type": content_type}
            )
        except httpx.TransportError as exc:
            tally.transport("submit", exc)
            await asyncio.sleep(0.5)
            continue
        if answer.status_code != 202:
            tally.refused[answer.status_code] += 1
            if answer.status_code >= 500:
                tally.server_errors["submit", answer.status_code, answer.text[:300]] += 1
            await asyncio.sleep(0.5)
            continue
        job_id = answer.json()["id"]
        tally.accepted.append(job_id)
        until = min(args.stop_at, time.monotonic() + args.patience)
        while time.monotonic() < until:
            await asyncio.sleep(args.interval)
            try:
                polled = await http.get(f"/v1/evaluations/{job_id}")
            except httpx.TransportError as exc:
                tally.transport("poll", exc)
                continue
            if polled.status_code != 200:
                tally.poll_answers[polled.status_code] += 1
                continue
            if polled.json()["status"] in FINISHED:
                break


async def bad_client(
    url: httpx.URL, key: str, table: Iterator[Hostile], tally: Tally, stop_at: float
) -> None:
    """Send hostile requests from ``table`` one after the other until ``stop_at``."""
    while time.monotonic() < stop_at:
        hostile = next(table)
        try:
            code, detail = await send_raw(url.host, url.port or 80, key, hostile, timeout=120)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            tally.transport(f"hostile {hostile.name}", exc)
            continue
        tally.bad.setdefault(hostile.name, Counter())[code] += 1
        if code >= 500:
            tally.server_errors[hostile.name, code, detail] += 1
        if not hostile.stall:
            await asyncio.sleep(0.1)


async def chaos(serve_pid: int, tally: Tally, args: argparse.Namespace, start: float) -> None:
    """SIGKILL the next target every ``--kill-every`` s until the run ends."""
    for turn, target in enumerate(itertools.cycle(TARGETS)):
        tally.seen.update(filter(None, map(identity, descendants(serve_pid))))
        await asyncio.sleep(min(args.kill_every, max(0.0, args.stop_at - time.monotonic())))
        if time.monotonic() >= args.stop_at:
            return
        pids = find_target(serve_pid, target, turn // len(TARGETS))
        if not pids:
            tally.not_running[target] += 1
            continue
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        tally.kills[target] += 1
        tally.kill_log.append((round(time.monotonic() - start, 1), target, pids))


@dataclass
class Outcome:
    """How one job ended, seen after the run."""

    status: str  # succeeded, failed, not finished, no record
    error: dict | None = None
    report_ok: bool = False
    report_answer: str = ""  # of GET .../report, when it was not the expected report
    report_files: list[str] = field(default_factory=list)


async def settle(
    http: httpx.AsyncClient, job_ids: list[str], deadline: float, tally: Tally
) -> dict[str, dict | None]:
    """Poll every job until all finished or ``deadline``; the last status of each
    (None: the service has no such job)."""
    last: dict[str, dict | None] = {}
    pending = list(job_ids)
    while pending:
        still = []
        for job_id in pending:
            try:
                answer = await http.get(f"/v1/evaluations/{job_id}")
            except httpx.TransportError as exc:
                tally.transport("drain", exc)
                still.append(job_id)
                continue
            if answer.status_code == 404:
                last[job_id] = None
            elif answer.status_code != 200:
                still.append(job_id)
            else:
                last[job_id] = answer.json()
                if last[job_id]["status"] not in FINISHED:
                    still.append(job_id)
        pending = still
        if pending and time.monotonic() > deadline:
            break
        if pending:
            await asyncio.sleep(1.0)
    return last


async def check(
    http: httpx.AsyncClient, data_dir: Path, job_id: str, last: dict | None, expected: bytes
) -> Outcome:
    """Compare a settled job with what it must be: succeeded, the expected report bytes,
    one report file."""
    if last is None:
        return Outcome("no record")
    outcome = Outcome(last["status"] if last["status"] in FINISHED else "not finished")
    outcome.error = last.get("error")
    for directory in (data_dir / "evaluations").glob(f"*/{job_id}"):
        outcome.report_files += sorted(
            p.name for p in directory.iterdir() if p.name.lstrip(".").startswith("report")
        )
    if outcome.status == "succeeded":
        for _ in range(5):  # a 500 closes its connection: the next request may find it gone
            try:
                report = await http.get(f"/v1/evaluations/{job_id}/report")
            except httpx.TransportError as exc:
                outcome.report_answer = type(exc).__name__
                await asyncio.sleep(1.0)
                continue
            outcome.report_ok = report.status_code == 200 and report.content == expected
            if not outcome.report_ok:
                outcome.report_answer = f"HTTP {report.status_code}, {len(report.content)} bytes"
            break
    return outcome


def stored_ids(data_dir: Path) -> set[str]:
    """Ids of every evaluation with files in the data directory."""
    return {p.name for p in (data_dir / "evaluations").glob("*/*") if p.is_dir()}


async def fault_run(
    serve_pid: int, url: str, key: str, data_dir: Path, tally: Tally, args: argparse.Namespace
) -> dict:
    """The run (see the module docstring); its figures (see :func:`summarise`)."""
    gt, results = GT.read_bytes(), RESULTS.read_bytes()
    expected = score(GT, RESULTS)
    headers = {"Authorization": f"Bearer {key}"}

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, headers=headers, timeout=60)

    async with client() as http:
        created = await http.post(
            "/v1/datasets", content=gt, headers={"Content-Type": "application/json"}
        )
    created.raise_for_status()
    dataset_id = created.json()["id"]
    submit = form({"dataset_id": dataset_id}, {"predictions": results})
    table = itertools.cycle(hostile_requests(dataset_id, results))
    stalls = itertools.repeat(stalled_request(gt))

    start = time.monotonic()
    args.stop_at = start + args.seconds
    parsed = httpx.URL(url)
    good = [client() for _ in range(args.clients)]
    try:
        await asyncio.gather(
            chaos(serve_pid, tally, args, start),
            *(good_client(http, submit, tally, args) for http in good),
            *(bad_client(parsed, key, table, tally, args.stop_at) for _ in range(args.bad_clients)),
            *(bad_client(parsed, key, stalls, tally, args.stop_at) for _ in range(args.stallers)),
        )
    finally:
        for http in good:
            await http.aclose()
    ran = time.monotonic() - start

    async with client() as http:
        accepted = list(dict.fromkeys(tally.accepted))
        unanswered = sorted(stored_ids(data_dir) - set(accepted))
        drain_start = time.monotonic()
        last = await settle(http, accepted + unanswered, drain_start + args.drain_seconds, tally)
        drained = time.monotonic() - drain_start
        outcomes = {
            job_id: await check(http, data_dir, job_id, last.get(job_id), expected)
            for job_id in accepted + unanswered
        }
        health = (await http.get("/v1/health")).json()
    # Uploads cut short by a killed API worker leave their temp file for the sweeper.
    health["temp_files_left"] = sum(1 for _ in (data_dir / "tmp").iterdir())
    return summarise(tally, accepted, unanswered, outcomes, ran, drained, health, args)


def summarise(
    tally: Tally,
    accepted: list[str],
    unanswered: list[str],
    outcomes: dict[str, Outcome],
    ran: float,
    drained: float,
    health: dict,
    args: argparse.Namespace,
) -> dict:
    """The figures of the run, and what (if anything) was lost."""

    def tally_of(ids: list[str]) -> dict:
        seen = [outcomes[i] for i in ids]
        good = [o for o in seen if o.status == "succeeded" and o.report_ok]
        return {
            "jobs": len(ids),
            "succeeded_with_expected_report": len(good),
            "status": dict(Counter(o.status for o in seen)),
            "failed_codes": dict(
                Counter(o.error["code"] for o in seen if o.status == "failed" and o.error)
            ),
            "wrong_report": sum(o.status == "succeeded" and not o.report_ok for o in seen),
            "not_one_report_file": sum(
                o.status == "succeeded" and o.report_files != ["report.json"] for o in seen
            ),
        }

    answered = tally_of(accepted)
    kept = tally_of([i for i in unanswered if outcomes[i].status != "no record"])
    no_record = [i for i in unanswered if outcomes[i].status == "no record"]
    lost = [
        i
        for i in accepted
        if not (
            outcomes[i].status == "succeeded"
            and outcomes[i].report_ok
            and outcomes[i].report_files == ["report.json"]
        )
    ]
    bad_codes: Counter[int] = Counter()
    for codes in tally.bad.values():
        bad_codes.update(codes)
    return {
        "seconds": round(ran, 1),
        "drain_seconds": round(drained, 1),
        "clients": args.clients,
        "bad_clients": args.bad_clients,
        "stallers": args.stallers,
        "accepted": answered,
        "lost": len(lost),
        "lost_ids": [
            (
                i,
                outcomes[i].status,
                outcomes[i].error or outcomes[i].report_answer,
                outcomes[i].report_files,
            )
            for i in lost[:10]
        ],
        "stored_unanswered": kept,
        "stored_without_record": len(no_record),
        "submits_refused": dict(tally.refused),
        "polls_not_200": dict(tally.poll_answers),
        "bad_inputs": sum(bad_codes.values()),
        "bad_input_codes": dict(bad_codes),
        "bad_by_request": {name: dict(codes) for name, codes in sorted(tally.bad.items())},
        "bad_5xx": sum(n for code, n in bad_codes.items() if code >= 500),
        "server_errors": [[*key, n] for key, n in tally.server_errors.most_common()],
        "http_500": sum(n for (_, code, _), n in tally.server_errors.items() if code == 500),
        "connection_errors": dict(tally.connection_errors),
        "kills": dict(tally.kills),
        "not_running_at_its_turn": dict(tally.not_running),
        "kill_log": tally.kill_log,
        "health_after": health,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def wait_gone(processes: set[tuple[int, int]], timeout: float) -> list[tuple[int, int]]:
    """Wait up to ``timeout`` s for ``processes`` to end; those still running."""
    deadline = time.monotonic() + timeout
    while True:
        left = sorted(p for p in processes if identity(p[0]) == p)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def print_summary(result: dict) -> None:
    acc, kept = result["accepted"], result["stored_unanswered"]
    rows = [
        ("run / drain", f"{result['seconds']} s / {result['drain_seconds']} s"),
        ("jobs accepted (202)", acc["jobs"]),
        ("  succeeded, expected report", acc["succeeded_with_expected_report"]),
        ("  final status", acc["status"]),
        ("  failed, by code", acc["failed_codes"] or "-"),
        ("  wrong report / not one file", f"{acc['wrong_report']} / {acc['not_one_report_file']}"),
        ("LOST", result["lost"]),
        (
            "stored, answer lost in a kill",
            f"{kept['jobs']} (succeeded: {kept['succeeded_with_expected_report']})",
        ),
        ("stored files, no job record", result["stored_without_record"]),
        ("good submits refused", result["submits_refused"] or "-"),
        ("status polls not 200", result["polls_not_200"] or "-"),
        ("bad inputs sent (answered)", result["bad_inputs"]),
        ("  status codes", result["bad_input_codes"]),
        ("  5xx", result["bad_5xx"]),
        ("connection errors", sum(result["connection_errors"].values())),
        ("kills", result["kills"]),
        ("target not running at its turn", result["not_running_at_its_turn"] or "-"),
        (
            "health after",
            f"{result['health_after']['status']} (workers {result['health_after']['workers']})",
        ),
        ("upload temp files left in data/tmp", result["health_after"]["temp_files_left"]),
        ("serve still running", result["serve_alive"]),
        (
            "processes left after serve stopped",
            f"{len(result['left_running_after_stop'])} of {result['processes_seen']} seen",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("bad inputs by request:")
    for name, codes in result["bad_by_request"].items():
        print(f"  {name:<26} {codes}")
    if result["connection_errors"]:
        print("connection errors by request:")
        for name, count in sorted(result["connection_errors"].items()):
            print(f"  {name:<50} {count}")
    for where, code, detail, n in result["server_errors"]:
        print(f"5xx: {n} x {where}: {code} {detail}")
    for job_id, status, error, files in result["lost_ids"]:
        print(f"lost: {job_id} {status} {error or ''} report files: {files}")
    for process in result["left_running_after_stop"]:
        print(f"left running: {process}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the fault run")
    parser.add_argument("--clients", type=int, default=8, help="clients submitting good work")
    parser.add_argument(
        "--bad-clients", type=int, default=2, help="clients sending hostile requests"
    )
    parser.add_argument("--stallers", type=int, default=2, help="clients sending stalled bodies")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--patience", type=float, default=15.0, help="s a client polls a job")
    parser.add_argument("--interval", type=float, default=0.3, help="s between status polls")
    parser.add_argument(
        "--drain-seconds", type=float, default=300.0, help="most s to wait at the end"
    )
    parser.add_argument("--workers", type=int, default=1, help="scoring processes (serve)")
    parser.add_argument("--api-workers", type=int, default=2, help="API processes (serve)")
    parser.add_argument("--keep", action="store_true", help="keep serve.log and the data dir")
    args = parser.parse_args()
    if not GT.exists():
        parser.error(f"no reference data at {REFERENCE}; set DETEVAL_SHARED_DIR")

    work = Path(tempfile.mkdtemp(prefix="deteval-fault-"))
    data_dir = work / "data"
    proc, url, key = start_serve(data_dir, args.workers, args.api_workers)
    tally = Tally()
    try:
        result = asyncio.run(fault_run(proc.pid, url, key, data_dir, tally, args))
        result["serve_alive"] = proc.poll() is None
        tally.seen.update(filter(None, map(identity, descendants(proc.pid))))
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    left = wait_gone(tally.seen, timeout=30)
    result["processes_seen"] = len(tally.seen)
    result["left_running_after_stop"] = [f"{pid} {cmdline(pid)[:100]}" for pid, _ in left]
    print_summary(result)
    failed = (
        result["lost"]
        or result["bad_5xx"]
        or result["http_500"]
        or not result["serve_alive"]
        or left
    )
    if failed or args.keep:
        print(f"kept for inspection: {work} (serve.log, data/)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
