"""``deteval serve``: the whole service on one machine, started and stopped as one.

It starts a private Redis-protocol server (unless ``DETEVAL_REDIS_URL`` names one), the
API and a Celery worker as child processes, and on Ctrl-C or SIGTERM stops them in
order: API, worker (warm shutdown, then SIGKILL), Redis (which flushes its append-only
file). Children run in process groups of their own and get SIGTERM from the kernel if
this process dies, so nothing is left behind.

A child that dies is started again after a back-off (:mod:`service.ops.restarts`), for as
long as it keeps dying; the others run on. With the worker down the API still accepts
uploads and answers status reads (its health says ``degraded``, ``workers: 0``), and
the accepted jobs wait in the queue.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType

import httpx

from service.backend.config import Settings
from service.backend.procs import spawn, stop_group
from service.ops.embedded import EmbeddedRedis
from service.ops.restarts import Restarts

KEY_FILE = "api-key"

log = logging.getLogger(__name__)


def local_api_key(data_dir: Path) -> str:
    """The key ``deteval serve`` made for this data directory (made on first use, 0600)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


@dataclass
class Child:
    """A supervised child process and how to start it again."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: Restarts = field(default_factory=Restarts)

    def start(self, env: dict[str, str]) -> None:
        # Children log to our stderr, so stdout carries only the URL and the key.
        self.process = spawn(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=sys.stderr)
        self.restarts.started_at(time.monotonic())

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


class Supervisor:
    """Runs and supervises the embedded stack; see the module docstring.

    Parameters
    ----------
    settings : Settings
    host, port : str, int
        Where the API listens.
    concurrency : int
        Worker processes for scoring.
    api_workers : int
        API processes (uvicorn workers).
    access_log : bool
        Whether the API logs a line per request.
    worker_niceness : int
        Added to the scoring processes' nice value.
    """

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        concurrency: int,
        api_workers: int = 1,
        access_log: bool = True,
        worker_niceness: int = 0,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.env = dict(os.environ)
        self.env["DETEVAL_DATA_DIR"] = str(settings.data_dir)
        self.redis: EmbeddedRedis | None = None
        self.redis_restarts = Restarts()
        py = [sys.executable, "-m", "deteval"]
        api = [*py, "api", "--host", host, "--port", str(port), "--workers", str(api_workers)]
        self.api = Child("api", api if access_log else [*api, "--no-access-log"])
        self.worker = Child(
            "worker",
            [*py, "worker", "--concurrency", str(concurrency), "--nice", str(worker_niceness)],
        )
        self.key: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.settings.tenant_keys():
            self.key = local_api_key(self.settings.data_dir)
            self.env["DETEVAL_API_KEYS"] = f"local:{self.key}"
        if self.settings.redis_url is None:
            self.redis = EmbeddedRedis(self.settings.data_dir)
            self._start_redis(self.redis)
            self.env["DETEVAL_REDIS_URL"] = self.redis.url

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.api.exited() is not None:
                raise RuntimeError(f"the API exited with code {self.api.exited()} at start-up")
            try:
                response = httpx.get(f"{self.url}/v1/health", timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc) or type(exc).__name__
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer on {self.url} within {timeout:g} s ({last})")

    def _supervise(
        self, name: str, restarts: Restarts, code: int | None, start: Callable[[], None]
    ) -> None:
        """Schedule a restart of a child that exited (``code``), or restart it when due."""
        now = time.monotonic()
        if restarts.due is None:
            if code is not None:
                delay = restarts.crashed_at(now)
                log.warning("%s exited with code %s; restarting it in %g s", name, code, delay)
            return
        if not restarts.is_due(now):
            return
        try:
            start()
        except (RuntimeError, OSError) as exc:
            now = time.monotonic()
            restarts.started_at(now)  # a start that failed counts as one that crashed at once
            delay = restarts.crashed_at(now)
            log.warning("%s did not start (%s); retrying in %g s", name, exc, delay)

    def _check_all(self) -> None:
        redis = self.redis
        if redis is not None:
            self._supervise(
                "the embedded Redis",
                self.redis_restarts,
                redis.exit_code(),
                partial(self._start_redis, redis),
            )
        for child in (self.api, self.worker):
            self._supervise(
                f"the {child.name}",
                child.restarts,
                child.exited(),
                partial(child.start, self.env),
            )

    def _start_redis(self, server: EmbeddedRedis) -> None:
        server.start()
        self.redis_restarts.started_at(time.monotonic())

    def run(self) -> int:
        """Start everything, print the URL and key, supervise until Ctrl-C; exit code."""
        previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._prepare()
            self.api.start(self.env)
            self.worker.start(self.env)
            self._wait_healthy()
            print(
                f"deteval serving on {self.url}  (web pages: {self.url}/ui, API docs: "
                f"{self.url}/docs)",
                flush=True,
            )
            if self.key is not None:
                print(f"API key: {self.key}", flush=True)
            else:
                print("API keys: as configured in DETEVAL_API_KEYS", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            while True:
                time.sleep(0.5)
                self._check_all()
        except _Stop as stop:
            print(f"stopping ({stop})...", file=sys.stderr, flush=True)
            return 0
        except RuntimeError as exc:
            print(f"deteval serve: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            for s in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut cleanup
                signal.signal(s, signal.SIG_IGN)
            self.shutdown()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def shutdown(self) -> None:
        """Stop API, worker and Redis, in that order."""
        if self.api.process is not None:
            stop_group(self.api.process, signal.SIGTERM, timeout=10)
        if self.worker.process is not None:
            stop_group(self.worker.process, signal.SIGTERM, timeout=20)
        if self.redis is not None:
            self.redis.stop()
