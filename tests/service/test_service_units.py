"""The service's parts on their own: settings, keys, storage, job records, CLI wiring."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from pydantic import ValidationError

from service.api.auth import KeyRing
from service.api.errors import Unauthorized
from service.api.workpool import WorkPool
from service.backend.config import Settings
from service.backend.dispatch import Dispatcher, celery_config, make_celery
from service.backend.jobs import JobStore, error_json
from service.backend.jobs_async import AsyncJobStore, connect_async
from service.backend.storage import new_id
from service.cli import register
from service.ops.embedded import EmbeddedRedis
from workers.cli import kernel_threads
from workers.cli import register as register_worker

KEY = "k" * 20


# -- settings ------------------------------------------------------------------------------
def test_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETEVAL_API_KEYS", f"team-a:{KEY}, team-b:{'z' * 16}")
    monkeypatch.setenv("DETEVAL_REDIS_URL", "unix:///tmp/x.sock")
    monkeypatch.setenv("DETEVAL_MAX_UPLOAD_MB", "2")
    settings = Settings()
    assert settings.tenant_keys() == [("team-a", KEY), ("team-b", "z" * 16)]
    assert settings.max_upload_bytes == 2 * 1024 * 1024
    assert settings.max_inflight_upload_bytes == 2 * 2 * settings.max_upload_bytes  # the default
    assert settings.effective_broker_url == "redis+socket:///tmp/x.sock"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DETEVAL_API_KEYS": "nokey"}, "must be 'tenant:key'"),
        ({"DETEVAL_API_KEYS": "a:short"}, "shorter than 16"),
        ({"DETEVAL_API_KEYS": f"../x:{KEY}"}, "tenant '../x'"),
        ({"DETEVAL_API_KEYS": f"a:{KEY},b:{KEY}"}, "listed twice"),
        (
            {"DETEVAL_TASK_TIME_LIMIT_SECONDS": "600", "DETEVAL_VISIBILITY_TIMEOUT_SECONDS": "600"},
            "must exceed",
        ),
        ({"DETEVAL_MAX_UPLOAD_MB": "0"}, "greater than 0"),
        (
            {"DETEVAL_MAX_UPLOAD_MB": "100", "DETEVAL_MAX_INFLIGHT_UPLOAD_MB": "50"},
            "must be at least max_upload_mb",
        ),
        ({"DETEVAL_STORAGE": "ftp"}, "'local' or 's3'"),
        ({"DETEVAL_STORAGE": "s3"}, "needs DETEVAL_S3_BUCKET"),
        ({"DETEVAL_S3_BUCKET": "evals"}, "DETEVAL_S3_BUCKET set but DETEVAL_STORAGE is not"),
        ({"DETEVAL_STORAGE": "s3", "DETEVAL_S3_BUCKET": "My_Bucket"}, "not a bucket name"),
        (
            {"DETEVAL_STORAGE": "s3", "DETEVAL_S3_BUCKET": "evals", "DETEVAL_S3_PREFIX": "/x"},
            "no leading '/'",
        ),
        (
            {
                "DETEVAL_STORAGE": "s3",
                "DETEVAL_S3_BUCKET": "evals",
                "DETEVAL_S3_ACCESS_KEY_ID": "a",
            },
            "set both DETEVAL_S3_ACCESS_KEY_ID and DETEVAL_S3_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_unsafe_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_visibility_timeout_set_everywhere_celery_reads_it() -> None:
    conf = celery_config(Settings(redis_url="redis://127.0.0.1:1/0"))
    visibility = conf["visibility_timeout"]
    assert visibility > conf["task_time_limit"] > conf["task_soft_time_limit"]
    assert conf["broker_transport_options"]["visibility_timeout"] == visibility
    assert conf["result_backend_transport_options"]["visibility_timeout"] == visibility
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1


def test_warm_up_with_the_broker_down_is_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The API must start (and answer 202 or 503 later) while the broker is down.
    settings = Settings(redis_url=f"unix://{tmp_path}/nobody-listens.sock")
    dispatcher = Dispatcher(
        make_celery(settings), JobStore(redis.Redis.from_url(settings.redis_url))
    )
    dispatcher.warm_up()
    assert "broker unreachable at start-up" in caplog.text
    assert not dispatcher.broker_ok()


# -- keys ----------------------------------------------------------------------------------
def test_keyring_maps_keys_to_tenants() -> None:
    ring = KeyRing([("a", KEY), ("b", "y" * 20)])
    assert ring.tenant_for(KEY) == "a"
    assert ring.tenant_for("y" * 20) == "b"
    for bad in (None, "", KEY + "x", KEY[:-1]):
        with pytest.raises(Unauthorized):
            ring.tenant_for(bad)


def test_keyring_refuses_to_be_empty() -> None:
    with pytest.raises(ValueError, match="no API keys"):
        KeyRing([])


# -- job records ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path_factory.mktemp("jobs")) as running:
        yield running


@pytest.fixture(scope="module")
def store(server: EmbeddedRedis) -> Iterator[JobStore]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    yield JobStore(client)
    client.close()


def test_job_life(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    job = store.get(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.progress, job.dataset_id) == ("queued", 0, 0.0, None)
    assert job.created_at is not None and job.created_at.endswith("Z")
    assert store.claim(job_id, "t1", 30, 3).outcome == "claimed"
    assert store.claim(job_id, "t2", 30, 3).outcome == "busy"  # another live holder
    assert store.heartbeat(job_id, "t1", 30, 0.5)
    assert not store.heartbeat(job_id, "t2", 30, 0.9)
    running = store.get(job_id)
    assert running is not None and (running.status, running.progress) == ("running", 0.5)
    assert store.succeed(job_id, "alice")
    assert not store.succeed(job_id, "alice")  # idempotent
    assert store.claim(job_id, "t3", 30, 3).outcome == "succeeded"  # a redelivery
    done = store.get(job_id)
    assert done is not None and done.status == "succeeded" and done.finished_at is not None
    assert job_id not in store.active_ids()


def test_same_token_reclaims_its_lease(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    assert store.claim(job_id, "t1", 30, 3).attempt == 1
    again = store.claim(job_id, "t1", 30, 3)  # its worker process died; message redelivered
    assert (again.outcome, again.attempt) == ("claimed", 2)


def test_expired_lease_is_resent_then_failed_after_max_attempts(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", "d" * 32)
    assert store.sweep_one(job_id, 60, 600, 2) == "ok"  # just created: the API is sending
    for attempt in (1, 2):
        assert store.claim(job_id, f"t{attempt}", 0.05, 2).outcome == "claimed"
        time.sleep(0.1)  # the lease runs out: the worker is gone
        outcome = store.sweep_one(job_id, 60, 600, 2)
        assert outcome == ("send" if attempt == 1 else "failed")
    job = store.get(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 2
    assert job.error is not None and job.error["code"] == "attempts_exhausted"
    assert "gave up after 2 attempts" in job.error["detail"]


def test_unsent_and_lost_messages_are_resent(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    time.sleep(0.05)
    assert store.sweep_one(job_id, 0.01, 600, 3) == "send"  # publish failed
    store.mark_sent(job_id)
    assert store.sweep_one(job_id, 0.01, 600, 3) == "ok"
    time.sleep(0.05)
    assert store.sweep_one(job_id, 0.01, 0.01, 3) == "send"  # message lost in the broker


def test_fail_keeps_the_reason(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "bob", None)
    assert store.fail(job_id, "invalid_input", "predictions[3].bbox: bad", location="x")
    assert not store.fail(job_id, "internal", "again")
    job = store.get(job_id)
    assert job is not None
    assert job.error == {
        "code": "invalid_input",
        "detail": "predictions[3].bbox: bad",
        "location": "x",
    }


def test_release_puts_the_job_back_with_its_reason_until_success(store: JobStore) -> None:
    job_id = new_id()
    store.create(job_id, "alice", None)
    store.claim(job_id, "t1", 30, 3)
    why = error_json("retrying", "try 1 failed (ConnectionError: gone); again in 1 s")
    assert not store.release(job_id, "other", why, 1)
    assert store.release(job_id, "t1", why, 1)
    job = store.get(job_id)
    assert job is not None and job.status == "queued"
    assert job.error == {
        "code": "retrying",
        "detail": "try 1 failed (ConnectionError: gone); again in 1 s",
    }
    assert store.claim(job_id, "t1", 30, 3).outcome == "claimed"
    running = store.get(job_id)
    assert running is not None and running.status == "running" and running.error == job.error
    assert store.succeed(job_id, "alice")
    done = store.get(job_id)
    assert done is not None and done.status == "succeeded" and done.error is None


def test_async_reads_the_same_record_and_the_dataset_index(
    server: EmbeddedRedis, store: JobStore
) -> None:
    dataset, other = new_id(), new_id()
    first, second, elsewhere, inline = new_id(), new_id(), new_id(), new_id()
    for job_id, dataset_id in ((first, dataset), (second, dataset), (elsewhere, other)):
        store.create(job_id, "alice", dataset_id)
        time.sleep(0.002)  # distinct creation times
    store.create(inline, "alice", None)
    metrics = {"AP": 0.25, "APs": None}

    async def scenario() -> tuple[Any, ...]:
        jobs = AsyncJobStore(connect_async(server.url))
        try:
            listed = await jobs.dataset_jobs("alice", dataset, limit=10)
            newest = await jobs.dataset_jobs("alice", dataset, limit=1)
            others = await jobs.dataset_jobs("bob", dataset, limit=10)
            await jobs.cache_metrics(first, metrics)  # still queued: not cached
            queued = (await jobs.get(first), store.get(first))
            store.claim(first, "t", 30, 3)
            store.succeed(first, "alice")
            await jobs.cache_metrics(first, metrics)
            await jobs.cache_metrics(first, {"AP": 0.5})  # the first writer wins
            return listed, newest, others, queued, await jobs.get_many([first, new_id()])
        finally:
            await jobs.close()

    listed, newest, others, queued, (done, missing) = asyncio.run(scenario())
    assert [job.id for job in listed] == [second, first]  # newest first
    assert [job.id for job in newest] == [second]
    assert others == []  # the index is per tenant
    assert queued[0] is not None and queued[0] == queued[1]  # Lua read and HGETALL agree
    assert queued[0].status == "queued" and queued[0].metrics is None
    assert done is not None and done.status == "succeeded" and done.metrics == metrics
    assert done == store.get(first)
    assert missing is None


def _priority() -> tuple[int, int | None]:
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    return os.getpriority(os.PRIO_PROCESS, 0), policy


def test_work_pool_runs_at_a_lower_priority() -> None:
    pool = WorkPool(1, niceness=3)
    try:
        nice, policy = asyncio.run(pool.run(_priority))
    finally:
        pool.close()
    own_nice, _ = _priority()
    assert nice == min(19, own_nice + 3)
    if hasattr(os, "SCHED_BATCH"):
        assert policy == os.SCHED_BATCH


# -- wiring --------------------------------------------------------------------------------
def test_register_adds_subcommands_with_funcs() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    register(sub)
    register_worker(sub)
    for argv in (
        ["serve", "--port", "9000", "--workers", "2", "--data-dir", "d"],
        ["api"],
        ["worker"],
        ["submit", "a" * 32, "p.json", "--key", "k", "--json"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func)
    assert parser.parse_args(["serve", "--port", "9000"]).port == 9000


def test_cli_module_is_light_to_import() -> None:
    # Every `deteval` run builds the whole parser: the service's and the workers'
    # registrations must not pull in the frameworks their commands use.
    code = (
        "import sys, deteval.cli\n"
        "deteval.cli.build_parser()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(out.stdout.split())
    assert {"service", "workers"} <= loaded  # the probe ran
    heavy = {"fastapi", "pydantic", "pydantic_settings", "celery", "httpx", "redis", "uvicorn"}
    assert not loaded & heavy


def test_api_does_not_import_worker_code() -> None:
    code = (
        "import sys, service.api.app, service.cli; print(any(m.startswith('workers') "
        "for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


# -- compose -------------------------------------------------------------------------------
COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="no docker compose on this machine")
def test_compose_file_is_accepted_and_refuses_to_run_without_keys() -> None:
    command = [*(_compose_command() or []), "-f", str(COMPOSE), "config"]
    env = {k: v for k, v in os.environ.items() if k != "DETEVAL_API_KEYS"}
    ok = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "DETEVAL_API_KEYS": f"team:{KEY}"},
    )
    assert ok.returncode == 0, ok.stderr
    for expected in ("appendonly", "service_healthy", "/data", "deteval", "worker"):
        assert expected in ok.stdout
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0
    assert "DETEVAL_API_KEYS" in refused.stderr
    s3 = subprocess.run(
        [*command[:-1], "--profile", "s3", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "DETEVAL_API_KEYS": f"team:{KEY}", "DETEVAL_STORAGE": "s3"},
    )
    assert s3.returncode == 0, s3.stderr
    for expected in ("minio/minio", "minio-bucket", "DETEVAL_STORAGE: s3", "http://minio:9000"):
        assert expected in s3.stdout


def _compose_defaults(environment: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """``environment`` of a compose service with ``${VAR:-default}`` resolved as compose
    would with only ``given`` set."""

    def resolve(value: str) -> str:
        match = re.fullmatch(r"\$\{(\w+)(?::[-?](.*))?\}", value)
        if match is None:
            return value
        return given.get(match[1], match[2] or "")

    return {name: resolve(str(value)) for name, value in environment.items()}


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_compose_settings_are_accepted_for_both_storages(
    monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    """What compose hands the API and workers is a consistent configuration both without
    and with the s3 profile, whose object store (MinIO) only that profile starts."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert services["minio"]["profiles"] == services["minio-bucket"]["profiles"] == ["s3"]
    assert all("profiles" not in services[name] for name in ("redis", "api", "worker"))
    for name in ("api", "worker"):
        assert services[name]["environment"] == compose["x-deteval-env"]
    given = {"DETEVAL_API_KEYS": f"team:{KEY}"} | (
        {"DETEVAL_STORAGE": "s3"} if storage == "s3" else {}
    )
    env = _compose_defaults(compose["x-deteval-env"], given)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.storage == storage
    assert settings.s3_endpoint_url == "http://minio:9000"  # the s3 profile's service
    minio = _compose_defaults(services["minio"]["environment"], given)
    assert settings.s3_access_key_id == minio["MINIO_ROOT_USER"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == minio["MINIO_ROOT_PASSWORD"]


@pytest.mark.parametrize(
    ("cores", "concurrency", "threads"), [(8, 1, 8), (8, 3, 2), (2, 4, 1), (1, 1, 1), (4, 0, 4)]
)
def test_scoring_processes_share_the_cores(cores: int, concurrency: int, threads: int) -> None:
    # Each scoring process runs the kernels on threads: together, no more than the cores.
    assert kernel_threads(cores, concurrency) == threads
