"""Load benchmark of the HTTP service: many concurrent clients uploading and polling.

Starts ``python -m service serve`` on a free loopback port with a fresh data directory
(or targets a running service with ``--url`` and ``--key``), uploads one synthetic
dataset, then runs ``--clients`` concurrent clients. Each submits ``--rounds``
evaluations one after the other and polls each until it finishes, timing every status
poll. Bounded in count (clients x rounds jobs) and time (``--max-seconds``).

Prints throughput (jobs/s), p50/p99/max latency of status polls and of submits, and the
number of errors (non-2xx answers, transport errors, failed jobs, jobs not finished in
time). Example::

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
    annotations, results = [], []
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


class PollConnection:
    """One keep-alive HTTP/1.1 connection for status polls.

    Deliberately minimal (GET, Content-Length bodies): with 50 concurrent clients in one
    process, httpx's own overhead dominated the measured latency; this keeps the numbers
    about the server.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n\r\n"
        )
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
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
    submits: list[float] = field(default_factory=list)
    finished: int = 0
    errors: list[str] = field(default_factory=list)


async def one_client(
    http: httpx.AsyncClient,
    poller: PollConnection,
    dataset_id: str,
    predictions: bytes,
    rounds: int,
    interval: float,
    deadline: float,
    tally: Tally,
) -> None:
    for _ in range(rounds):
        if time.monotonic() > deadline:
            tally.errors.append("out of time before submitting")
            return
        try:
            t0 = time.perf_counter()
            response = await http.post(
                "/evaluations",
                data={"dataset_id": dataset_id},
                files={"predictions": ("p.json", predictions)},
            )
            tally.submits.append(time.perf_counter() - t0)
            if response.status_code != 202:
                tally.errors.append(f"submit: HTTP {response.status_code} {response.text[:200]}")
                continue
            evaluation_id = response.json()["id"]
            while True:
                t0 = time.perf_counter()
                code, body = await poller.get(f"/v1/evaluations/{evaluation_id}")
                tally.polls.append(time.perf_counter() - t0)
                if code != 200:
                    tally.errors.append(f"poll: HTTP {code} {body[:200]!r}")
                    break
                polled = json.loads(body)
                status = polled["status"]
                if status == "succeeded":
                    report = await http.get(f"/evaluations/{evaluation_id}/report")
                    if report.status_code == 200:
                        tally.finished += 1
                    else:
                        tally.errors.append(f"report: HTTP {report.status_code}")
                    break
                if status == "failed":
                    tally.errors.append(f"job failed: {polled['error']}")
                    break
                if time.monotonic() > deadline:
                    tally.errors.append(f"job {evaluation_id} still {status} at the deadline")
                    break
                await asyncio.sleep(interval)
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as exc:
            tally.errors.append(f"transport: {type(exc).__name__}: {exc}")


async def run_load(url: str, key: str, args: argparse.Namespace) -> dict:
    gt, predictions = synthetic_coco(args.images, args.categories)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=f"{url}/v1", timeout=60, limits=limits, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        created = await http.post(
            "/datasets", content=gt, headers={"Content-Type": "application/json"}
        )
        created.raise_for_status()
        dataset_id = created.json()["id"]
        tally = Tally()
        start = time.monotonic()
        deadline = start + args.max_seconds
        parsed = httpx.URL(url)
        pollers = [PollConnection(parsed.host, parsed.port or 80, key) for _ in range(args.clients)]
        await asyncio.gather(
            *(
                one_client(
                    http,
                    poller,
                    dataset_id,
                    predictions,
                    args.rounds,
                    args.interval,
                    deadline,
                    tally,
                )
                for poller in pollers
            )
        )
        elapsed = time.monotonic() - start
        for poller in pollers:
            await poller.close()

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
        "submit_ms": {"p50": pct(tally.submits, 50), "p99": pct(tally.submits, 99)},
        "detections_per_job": len(json.loads(predictions)),
        # Latencies are client-side: on a shared machine, read them with the load.
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def start_serve(data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start ``python -m service serve`` on a free port; returns (process, url, key)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETEVAL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
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
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--key", help="its API key")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    proc = None
    with tempfile.TemporaryDirectory(prefix="deteval-bench-") as tmp:
        if args.url:
            url, key = args.url, args.key
        else:
            proc, url, key = start_serve(Path(tmp) / "data", args.workers)
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
        print(f"submits: p50 {submit['p50']:.1f} ms, p99 {submit['p99']:.1f} ms")
        print(f"errors: {result['errors']} {result['first_errors']}")
        print(f"machine: {result['cpus']} CPUs, load average {result['load_average_1min']}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
