"""Helpers to run a real stack for the service tests: valkey-server, the API under
uvicorn, Celery workers, all as subprocesses on loopback and unix sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from service.backend.config import Settings
from service.backend.procs import spawn, stop_group
from service.backend.storage import Storage, open_storage
from service.backend.storage.s3 import S3Storage
from service.ops.embedded import EmbeddedRedis

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("DETEVAL_SHARED_DIR", HERE.parents[2] / "shared"))
REFERENCE = SHARED / "reference-data"
KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef"}
MAX_UPLOAD_MB = 1.0
KINDS = ("datasets", "evaluations")

#: A small valid ground truth: 10 images, one box each, one category.
SMALL_GT = {
    "images": [{"id": i, "width": 640, "height": 480} for i in range(1, 11)],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 50, 40], "area": 2000}
        for i in range(1, 11)
    ],
}


@contextmanager
def running_stack(root: Path, api_args: tuple[str, ...] = (), **settings: str) -> Iterator[Stack]:
    """A stack (Redis, the API with ``api_args``, one worker reporting in) on ``root``
    with ``settings`` (``DETEVAL_*`` in lowercase, without the prefix), stopped on exit."""
    running = Stack(root, **settings).start(api_args=api_args)
    try:
        running.start_worker()
        running.wait_workers(1)
        yield running
    finally:
        running.stop()


@contextmanager
def gated_stack(root: Path, gate: Path, **settings: str) -> Iterator[Stack]:
    """A stack whose one worker holds each job until ``gate/open`` exists
    (``gated_worker.py``); on exit the gate opens, so no job is left waiting, and the
    stack stops."""
    running = Stack(root, test_gate=str(gate), **settings).start()
    try:
        running.start_worker([str(HERE / "gated_worker.py")])
        running.wait_workers(1)
        yield running
    finally:
        (gate / "open").touch()
        running.stop()


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call ``probe`` until ``done(result)``; fail after ``timeout`` s with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if done(last):
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}; last: {last!r}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require_reference() -> Path:
    """The shared reference data; skips the calling module, saying where it looked, when
    it is not beside the checkout (as the library's reference-data tests do)."""
    if not (REFERENCE / "expected-pycocotools.json").is_file():
        pytest.skip(
            f"shared reference data not found at {REFERENCE}: put the project's shared/ "
            "folder beside the checkout or set DETEVAL_SHARED_DIR",
            allow_module_level=True,
        )
    return REFERENCE


def coco_sets() -> list[tuple[str, Path, Path, list[float]]]:
    """(name, gt, predictions, expected stats) for every COCO set with pycocotools numbers."""
    expected = json.loads((require_reference() / "expected-pycocotools.json").read_text())
    sets = []
    for name, entry in expected.items():
        if name.startswith("_"):
            continue
        dt = entry["dt"].split(" (")[0]  # "file (the 'annotations' list)" -> file
        sets.append((name, REFERENCE / entry["gt"], REFERENCE / dt, entry["stats"]))
    return sets


class Stack:
    """A running service: Redis server(s), one API process, any number of workers.

    Parameters
    ----------
    root : Path
        A short directory (unix socket paths are limited to ~100 characters).
    separate_broker : bool
        Run the Celery broker on a second server, so the broker can be down while the
        job store is up.
    """

    def __init__(self, root: Path, separate_broker: bool = False, **settings: str) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.store_server = EmbeddedRedis(root / "store")
        self.broker_server = EmbeddedRedis(root / "broker") if separate_broker else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            {
                "DETEVAL_REDIS_URL": self.store_server.url,
                "DETEVAL_DATA_DIR": str(self.data_dir),
                "DETEVAL_API_KEYS": ",".join(f"{t}:{k}" for t, k in KEYS.items()),
                "DETEVAL_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
                "DETEVAL_JOB_LEASE_SECONDS": "3",
                "DETEVAL_SWEEP_INTERVAL_SECONDS": "0.5",
                "DETEVAL_TASK_TIME_LIMIT_SECONDS": "120",
                "DETEVAL_VISIBILITY_TIMEOUT_SECONDS": "180",
                "DETEVAL_JOB_MAX_ATTEMPTS": "3",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.broker_server is not None:
            self.env["DETEVAL_BROKER_URL"] = self.broker_server.url
        self.env.update({f"DETEVAL_{k.upper()}": v for k, v in settings.items()})
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.worker_logs: dict[int, str] = {}  # pid -> log name

    # -- processes -----------------------------------------------------------------------
    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        return spawn(
            [sys.executable, *argv],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def start(self, api_script: list[str] | None = None, api_args: tuple[str, ...] = ()) -> Stack:
        """Start the Redis server(s) and the API (``api_script`` replaces ``-m deteval``;
        ``api_args`` are added to its ``api`` command)."""
        self.store_server.start()
        if self.broker_server is not None:
            self.broker_server.start()
        argv = api_script or ["-m", "deteval"]
        self.api = self._spawn("api", [*argv, "api", "--port", str(self.port), *api_args])
        wait_for(self._health, lambda r: r is not None, 60, f"the API on {self.url}")
        return self

    def _health(self) -> dict[str, Any] | None:
        if self.api is not None and self.api.poll() is not None:
            pytest.fail(f"API exited with {self.api.returncode}:\n{self.log_tail('api')}")
        try:
            response = httpx.get(f"{self.url}/v1/health", timeout=5)
        except httpx.HTTPError:
            return None
        result: dict[str, Any] = response.json()
        return result

    def start_worker(
        self,
        script: list[str] | None = None,
        pool: str = "prefork",
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a Celery worker process (``script`` replaces ``-m service``; ``env`` adds
        settings for this worker only)."""
        argv = script or ["-m", "deteval"]
        name = f"worker{len(self.worker_logs)}"
        worker = self._spawn(
            name,
            [*argv, "worker", "--concurrency", "1", "--pool", pool],
            env,
        )
        self.workers.append(worker)
        self.worker_logs[worker.pid] = name
        return worker

    def wait_workers(self, count: int, timeout: float = 90) -> dict[str, Any]:
        """Wait until health counts ``count`` live workers; the health answer."""
        return wait_for(
            self._health,
            lambda h: h is not None and h["workers"] == count,
            timeout,
            f"health to count {count} workers",
        )

    def stop_worker(self, worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        stop_group(worker, sig, timeout=30)
        self.workers.remove(worker)

    def stop(self) -> None:
        for worker in list(self.workers):
            self.stop_worker(worker, signal.SIGQUIT)
        if self.api is not None:
            stop_group(self.api)
        self.store_server.stop()
        if self.broker_server is not None:
            self.broker_server.stop()

    # -- storage -------------------------------------------------------------------------
    def storage(self) -> Storage:
        """The storage the stack's API and workers use (its data directory or bucket)."""
        env = {k.removeprefix("DETEVAL_").lower(): v for k, v in self.env.items()}
        return open_storage(Settings(**{k: env[k] for k in Settings.model_fields if k in env}))

    def stored_sizes(self, *parts: str) -> dict[str, int]:
        """The stored files under ``parts`` (e.g. ``"evaluations", "alice", id``) and
        their sizes, by paths relative to the storage's root; with no parts, all that it
        keeps (with S3: the whole bucket, listed)."""
        storage = self.storage()
        where = "/".join(parts)
        if isinstance(storage, S3Storage):
            objects = storage.objects(storage.prefix + where + "/" if where else "")
            return {obj["Key"].removeprefix(storage.prefix): obj["Size"] for obj in objects}
        tops = [self.data_dir / where] if where else [self.data_dir / k for k in KINDS]
        return {
            p.relative_to(self.data_dir).as_posix(): p.stat().st_size
            for top in tops
            if top.exists()
            for p in top.rglob("*")
            if p.is_file()
        }

    def stored(self, *parts: str) -> list[str]:
        """The names of :meth:`stored_sizes`, sorted."""
        return sorted(self.stored_sizes(*parts))

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- HTTP ----------------------------------------------------------------------------
    def http(self, tenant: str = "alice") -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v1",
            timeout=60,
            headers={"Authorization": f"Bearer {KEYS[tenant]}"},
        )

    def wait_finished(
        self, http: httpx.Client, evaluation_id: str, timeout: float = 90
    ) -> dict[str, Any]:
        """Poll an evaluation until it succeeded or failed (or fail the test)."""

        def probe() -> dict[str, Any]:
            response = http.get(f"/evaluations/{evaluation_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        return wait_for(
            probe,
            lambda s: s["status"] in ("succeeded", "failed"),
            timeout,
            f"evaluation {evaluation_id} to finish",
        )
