"""The API's processes: a work pool that outlives its processes, worker presence, and
no orphans.

A work-pool process can die (the OOM killer picks the one loading a huge upload): the
pool is replaced and the lost work run again, and work that kills it twice is answered
503, never 500; health shows the replacements. Workers beat into the job store and
health counts them. Pool processes and uvicorn workers stop with their parent.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from service_stack import Stack, coco_sets, wait_for

from service.ops.restarts import MAX_DELAY_SECONDS, STABLE_SECONDS, Restarts

HERE = Path(__file__).resolve().parent
NAME, GT, DT, EXPECTED = coco_sets()[0]
POOL_SIZE = 2


@pytest.fixture(scope="module")
def pstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An API (no worker) whose pool processes die on a ground truth with the poison."""
    running = Stack(tmp_path_factory.mktemp("procs"), pool_processes=str(POOL_SIZE))
    running.start([str(HERE / "pool_killing_api.py")])
    try:
        yield running
    finally:
        running.stop()


def spawned_children(parent: psutil.Process) -> list[psutil.Process]:
    """``parent``'s children started by multiprocessing (not its resource tracker)."""
    return [c for c in parent.children() if "spawn_main" in " ".join(c.cmdline())]


def still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except psutil.NoSuchProcess:
            pass
    return left


def health(stack: Stack) -> dict[str, Any]:
    with stack.http() as http:
        response = http.get("/health")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(stack: Stack, content: bytes) -> Any:
    with stack.http() as http:
        return http.post("/datasets", files={"file": ("gt.json", content)})


def test_killed_pool_processes_are_replaced_and_the_upload_succeeds(pstack: Stack) -> None:
    assert pstack.api is not None
    api = psutil.Process(pstack.api.pid)
    pool = wait_for(
        lambda: spawned_children(api), lambda p: len(p) == POOL_SIZE, 60, "the pool processes"
    )
    for proc in pool:
        proc.send_signal(signal.SIGKILL)
    wait_for(lambda: still_running(pool), lambda left: not left, 60, "killed processes to end")

    created = upload(pstack, GT.read_bytes())
    assert created.status_code == 201, created.text
    assert upload(pstack, GT.read_bytes()).status_code == 201
    assert health(pstack)["work_pool"] == {"ok": True, "processes": POOL_SIZE, "rebuilds": 1}
    replacements = spawned_children(api)
    assert replacements and not {p.pid for p in replacements} & {p.pid for p in pool}


def test_work_that_kills_the_pool_twice_is_503_and_the_pool_recovers(pstack: Stack) -> None:
    rebuilds = health(pstack)["work_pool"]["rebuilds"]
    gt = json.loads(GT.read_bytes())
    gt["categories"][0]["name"] = "kill-the-pool"
    datasets = pstack.data_dir / "datasets"
    before = sorted(datasets.rglob("*"))

    lost = upload(pstack, json.dumps(gt).encode())
    assert lost.status_code == 503, lost.text
    assert lost.headers["Retry-After"] == "5"
    assert lost.headers["Content-Type"] == "application/problem+json"
    assert lost.json()["type"].endswith("/work-pool-lost"), lost.json()
    assert sorted(datasets.rglob("*")) == before  # nothing accepted
    after_loss = health(pstack)
    assert after_loss["status"] == "degraded"
    assert after_loss["work_pool"] == {
        "ok": False,
        "processes": POOL_SIZE,
        "rebuilds": rebuilds + 2,
    }

    assert upload(pstack, GT.read_bytes()).status_code == 201
    assert health(pstack)["work_pool"] == {
        "ok": True,
        "processes": POOL_SIZE,
        "rebuilds": rebuilds + 2,
    }


def test_health_counts_live_workers(pstack: Stack) -> None:
    assert health(pstack)["workers"] == 0
    first = pstack.start_worker()
    pstack.start_worker()
    pstack.wait_workers(2)
    pstack.stop_worker(first)  # a warm shutdown leaves the set at once
    pstack.wait_workers(1)
    pstack.stop_worker(pstack.workers[0], signal.SIGKILL)  # stops beating: ages out
    pstack.wait_workers(0, timeout=60)


def test_a_killed_api_process_leaves_no_pool_process(tmp_path: Path) -> None:
    stack = Stack(tmp_path, pool_processes="1").start(api_args=("--workers", "2"))
    try:
        assert stack.api is not None
        main = psutil.Process(stack.api.pid)
        workers = wait_for(
            lambda: [w for w in spawned_children(main) if spawned_children(w)],
            lambda found: len(found) == 2,
            90,
            "two uvicorn workers, each with its pool process",
        )
        # A uvicorn worker killed outright: its pool process goes with it.
        doomed = workers[0].children(recursive=True)
        workers[0].send_signal(signal.SIGKILL)
        wait_for(lambda: still_running(doomed), lambda left: not left, 60, "its pool to end")
        # The API killed outright: its uvicorn workers and their pools go with it.
        rest = main.children(recursive=True)
        main.send_signal(signal.SIGKILL)
        wait_for(lambda: still_running(rest), lambda left: not left, 60, "all of it to end")
    finally:
        stack.stop()


def test_restart_delays_double_up_to_a_minute_and_reset_after_a_stable_run() -> None:
    restarts = Restarts()
    now, delays = 0.0, []
    for _ in range(9):  # crashes at once after each start
        restarts.started_at(now)
        delays.append(restarts.crashed_at(now))
        assert not restarts.is_due(now)
        now += delays[-1]
        assert restarts.is_due(now)
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60] and MAX_DELAY_SECONDS == 60
    restarts.started_at(now)
    now += STABLE_SECONDS
    assert restarts.crashed_at(now) == 1
    restarts.started_at(now + 1)
    assert restarts.crashed_at(now + 2) == 2
