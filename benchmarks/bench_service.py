"""Load benchmark of the HTTP service: many concurrent clients uploading and polling.

Starts ``python -m deteval serve`` on a free loopback port with a fresh data directory
(or targets a running service with ``--url`` and ``--key``), uploads one synthetic
dataset, then runs ``--clients`` concurrent clients. Each submits ``--rounds``
evaluations one after the other and polls each until it finishes, timing every status
poll. Bounded in count (clients x rounds jobs) and time (``--max-seconds``).

Prints throughput (jobs/s), p50/p99/max latency of status polls (all of them, and those
sent while no submit was in flight) and of submits, and the number of errors (non-2xx
answers, transport errors, failed jobs, jobs not finished in time). Latencies are
measured by the clients, which share the machine with the server: the lag of the
clients' own event loop is printed beside them (a poll cannot be timed more precisely
than that), and so is the load average. Example::

    .venv/bin/python benchmarks/bench_service.py --clients 50 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np


def synthetic_coco(n_images: int, n_categories: int, seed: int = 0) -> tuple[bytes, bytes]:
    """A COCO ground truth and jittered detections for it, as JSON bytes."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(n_images)]
    categories = [{"id": k + 1, "name": f"class{k + 1}"} for k in range(n_categories)]
    annotations: list[dict] = []
    results: list[dict] = []
    for image in images:
        for _ in range(int(rng.integers(1, 6))):
            w, h = rng.uniform(10, 200, size=2)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            category = int(rng.integers(1, n_categories + 1))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": category,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
            for _ in range(2):
                jitter = rng.normal(0, 8, size=4)
                box = [
                    x + jitter[0],
                    y + jitter[1],
                    max(1.0, w + jitter[2]),
                    max(1.0, h + jitter[3]),
                ]
                results.append(
                    {
                        "image_id": image["id"],
                        "category_id": category,
                        "bbox": box,
                        "score": float(rng.uniform()),
                    }
                )
    gt = {"images": images, "categories": categories, "annotations": annotations}
    return json.dumps(gt).encode(), json.dumps(results).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection of one client: its submits, polls and reports.

    Deliberately minimal (requests with a body of known length, answers with a
    Content-Length): with 50 clients in one process, httpx's own overhead dominated the
    measured latency; this keeps the numbers about the server.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> tuple[int, bytes]:
        """Send one request and read its answer: (status, body)."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        head.append(f"Authorization: Bearer {self.key}")
        if content_type is not None:
            head.append(f"Content-Type: {content_type}")
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        lines = answer.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


@dataclass
class Tally:
    polls: list[float] = field(default_factory=list)
    quiet_polls: list[float] = field(default_factory=list)  # sent with no submit in flight
    uploading: int = 0  # submits in flight
    submits: list[float] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)
    finished: int = 0
    errors: list[str] = field(default_factory=list)


async def watch_loop(tally: Tally, stop: asyncio.Event, tick: float = 0.01) -> None:
    """Record how late the clients' event loop wakes from a ``tick`` s sleep."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(tick)
        tally.loop_lag.append(max(0.0, time.perf_counter() - t0 - tick))


async def one_client(
    connection: Connection,
    form: tuple[bytes, str],
    rounds: int,
    interval: float,
    deadline: float,
    tally: Tally,
) -> None:
    """Submit ``form`` (body, content type) ``rounds`` times; poll each job to its end."""
    for _ in range(rounds):
        if time.monotonic() > deadline:
            tally.errors.append("out of time before submitting")
            return
        try:
            t0 = time.perf_counter()
            tally.uploading += 1
            try:
                code, body = await connection.request("POST", "/v1/evaluations", *form)
            finally:
                tally.uploading -= 1
            tally.submits.append(time.perf_counter() - t0)
            if code != 202:
                tally.errors.append(f"submit: HTTP {code} {body[:200]!r}")
                continue
            evaluation_id = json.loads(body)["id"]
            while True:
                t0, quiet = time.perf_counter(), tally.uploading == 0
                code, body = await connection.request("GET", f"/v1/evaluations/{evaluation_id}")
                tally.polls.append(time.perf_counter() - t0)
                if quiet:
                    tally.quiet_polls.append(tally.polls[-1])
                if code != 200:
                    tally.errors.append(f"poll: HTTP {code} {body[:200]!r}")
                    break
                polled = json.loads(body)
                status = polled["status"]
                if status == "succeeded":
                    code, _ = await connection.request(
                        "GET", f"/v1/evaluations/{evaluation_id}/report"
                    )
                    if code == 200:
                        tally.finished += 1
                    else:
                        tally.errors.append(f"report: HTTP {code}")
                    break
                if status == "failed":
                    tally.errors.append(f"job failed: {polled['error']}")
                    break
                if time.monotonic() > deadline:
                    tally.errors.append(f"job {evaluation_id} still {status} at the deadline")
                    break
                await asyncio.sleep(interval)
        except (OSError, asyncio.IncompleteReadError) as exc:
            tally.errors.append(f"transport: {type(exc).__name__}: {exc}")


async def run_load(url: str, key: str, args: argparse.Namespace) -> dict:
    gt, predictions = synthetic_coco(args.images, args.categories)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"{url}/v1", timeout=60, headers=headers) as http:
        created = await http.post(
            "/datasets", content=gt, headers={"Content-Type": "application/json"}
        )
    created.raise_for_status()
    # Every client sends the same form: encode it once, so the clients' CPU goes to I/O.
    submit = httpx.Request(
        "POST",
        f"{url}/v1/evaluations",
        data={"dataset_id": created.json()["id"]},
        files={"predictions": ("p.json", predictions)},
    )
    form = (submit.read(), submit.headers["Content-Type"])
    tally = Tally()
    start = time.monotonic()
    deadline = start + args.max_seconds
    parsed = httpx.URL(url)
    connections = [Connection(parsed.host, parsed.port or 80, key) for _ in range(args.clients)]
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_loop(tally, stop))
    await asyncio.gather(
        *(
            one_client(connection, form, args.rounds, args.interval, deadline, tally)
            for connection in connections
        )
    )
    elapsed = time.monotonic() - start
    stop.set()
    await watcher
    for connection in connections:
        await connection.close()

    def pct(values: list[float], q: float) -> float | None:
        return float(np.percentile(values, q) * 1000) if values else None

    return {
        "clients": args.clients,
        "rounds": args.rounds,
        "jobs": args.clients * args.rounds,
        "finished": tally.finished,
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
        "seconds": round(elapsed, 2),
        "throughput_jobs_per_s": round(tally.finished / elapsed, 2),
        "polls": len(tally.polls),
        "poll_ms": {
            "p50": pct(tally.polls, 50),
            "p99": pct(tally.polls, 99),
            "max": pct(tally.polls, 100),
        },
        "quiet_polls": len(tally.quiet_polls),
        "quiet_poll_ms": {"p50": pct(tally.quiet_polls, 50), "p99": pct(tally.quiet_polls, 99)},
        "submit_ms": {"p50": pct(tally.submits, 50), "p99": pct(tally.submits, 99)},
        "client_loop_lag_ms": {"p50": pct(tally.loop_lag, 50), "p99": pct(tally.loop_lag, 99)},
        "detections_per_job": len(json.loads(predictions)),
        # Latencies are client-side: on a shared machine, read them with the load.
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def start_serve(
    data_dir: Path, workers: int, api_workers: int | None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start ``python -m deteval serve`` on a free port; returns (process, url, key)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETEVAL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deteval",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
            *([] if api_workers is None else ["--api-workers", str(api_workers)]),
        ],
        stdout=subprocess.PIPE,
        stderr=(data_dir.parent / "serve.log").open("wb"),
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    out, deadline = b"", time.monotonic() + 120
    while b"API key:" not in out:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"serve did not start; see {data_dir.parent / 'serve.log'}")
        if select.select([proc.stdout], [], [], 0.5)[0]:
            out += os.read(proc.stdout.fileno(), 65536)
    key = out.decode().split("API key:", 1)[1].split()[0]
    return proc, f"http://127.0.0.1:{port}", key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="evaluations per client")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--categories", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="scoring processes (serve)")
    parser.add_argument(
        "--api-workers", type=int, help="API processes (serve; default: serve's default)"
    )
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--key", help="its API key")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    proc = None
    with tempfile.TemporaryDirectory(prefix="deteval-bench-") as tmp:
        if args.url:
            url, key = args.url, args.key
        else:
            proc, url, key = start_serve(Path(tmp) / "data", args.workers, args.api_workers)
        try:
            result = asyncio.run(run_load(url, key, args))
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['finished']}/{result['jobs']} jobs in {result['seconds']} s "
            f"({result['throughput_jobs_per_s']} jobs/s, {result['clients']} clients, "
            f"{result['detections_per_job']} detections each)"
        )
        poll, submit = result["poll_ms"], result["submit_ms"]
        print(
            f"status polls: {result['polls']}, p50 {poll['p50']:.1f} ms, "
            f"p99 {poll['p99']:.1f} ms, max {poll['max']:.1f} ms"
        )
        quiet = result["quiet_poll_ms"]
        if quiet["p50"] is not None:
            print(
                f"  of which {result['quiet_polls']} with no submit in flight: "
                f"p50 {quiet['p50']:.1f} ms, p99 {quiet['p99']:.1f} ms"
            )
        print(f"submits: p50 {submit['p50']:.1f} ms, p99 {submit['p99']:.1f} ms")
        lag = result["client_loop_lag_ms"]
        print(f"client event-loop lag: p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms")
        print(f"errors: {result['errors']} {result['first_errors']}")
        print(f"machine: {result['cpus']} CPUs, load average {result['load_average_1min']}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
