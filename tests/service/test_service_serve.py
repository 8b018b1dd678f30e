"""``deteval serve`` (here ``python -m deteval serve``): one command runs everything,
prints the URL and a key, and Ctrl-C stops all of it with no orphan process. A child that
keeps crashing is restarted with back-off while the others run on."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from service_stack import coco_sets, free_port, wait_for

HERE = Path(__file__).resolve().parent
NAME, GT, DT, EXPECTED = coco_sets()[0]


def start_serve(
    data_dir: Path, port: int, log: Path, script: tuple[str, ...] = ("-m", "deteval")
) -> tuple[subprocess.Popen[bytes], str]:
    """Start serve in a session of its own (like a terminal's foreground job);
    ``script`` replaces ``-m deteval``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETEVAL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            *script,
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    out = b""
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while not any(line.startswith("API key:") for line in lines):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(
                f"serve printed no key (exit {proc.poll()}); stdout: {lines}; "
                f"log: {log.read_text()[-2000:]}"
            )
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:  # raw reads: a buffered readline could hide lines from select()
            out += os.read(proc.stdout.fileno(), 65536)
            lines = out.decode().splitlines()
    assert lines[0].startswith(f"deteval serving on http://127.0.0.1:{port}"), lines
    key = next(line for line in lines if line.startswith("API key:")).split(":", 1)[1].strip()
    return proc, key


def submit(url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deteval", "submit", *args, "--url", url, "--key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )


def submit_on_a_terminal(url: str, key: str, *args: str) -> tuple[int, str]:
    """``submit`` with its stderr on a pseudo-terminal: (exit code, what it showed there)."""
    terminal, child_side = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "deteval", "submit", *args, "--url", url, "--key", key],
            stdout=subprocess.DEVNULL,
            stderr=child_side,
            timeout=120,
        )
    finally:
        os.close(child_side)
    shown = b""
    try:
        while chunk := os.read(terminal, 65536):
            shown += chunk
    except OSError:  # EIO: nothing is left on the other side
        pass
    finally:
        os.close(terminal)
    return done.returncode, shown.decode(errors="replace")


def all_gone(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_serve_submit_and_ctrl_c(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "d", free_port()
    url = f"http://127.0.0.1:{port}"
    proc, key = start_serve(data_dir, port, tmp_path / "serve.log")
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "valkey-server" in names and " api " in names and " worker " in names, names

        done = submit(url, key, str(GT), str(DT), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["stats"] == pytest.approx(EXPECTED, abs=1e-12)

        readable = submit(url, key, str(GT), str(DT))
        assert readable.returncode == 0, readable.stderr
        assert "AP50" in readable.stdout
        # A log gets a line per status, no progress bar; a terminal gets the bar.
        assert readable.stderr.rstrip().endswith(": succeeded"), readable.stderr
        assert "\r" not in readable.stderr and "#" not in readable.stderr
        code, shown = submit_on_a_terminal(url, key, str(GT), str(DT))
        assert code == 0 and "\r[" in shown and "100% succeeded" in shown, shown

        missing = submit(url, key, "0" * 32, str(DT))
        assert missing.returncode == 1
        assert "no dataset with id" in missing.stderr

        bad_key = submit(url, "wrong-key-0123456789", str(GT), str(DT))
        assert bad_key.returncode == 1 and "unknown API key" in bad_key.stderr

        # Operations: the metrics count the three runs; each transition is a JSON line.
        metrics = httpx.get(f"{url}/metrics", timeout=30)
        assert metrics.status_code == 200
        assert 'deteval_jobs_total{state="succeeded"} 3' in metrics.text.splitlines()
        assert (tmp_path / "serve.log").read_text().count('"event":"succeeded"') == 3

        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert proc.wait(timeout=60) == 0
        left = wait_for(
            lambda: all_gone(children), lambda left: not left, 30, "serve's children to exit"
        )
        assert not left
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    # Same data directory again: same key, and the jobs survived in the append-only file.
    proc, key_again = start_serve(data_dir, port, tmp_path / "serve.log")
    try:
        assert key_again == key
        children = psutil.Process(proc.pid).children(recursive=True)
        # A supervisor killed outright still leaves no orphans (parent-death signal).
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(
            lambda: all_gone(children),
            lambda left: not left,
            30,
            "children of a SIGKILLed serve to exit",
        )
    finally:
        for child in all_gone(psutil.Process().children(recursive=True)):
            if child.pid != proc.pid and "deteval" in " ".join(child.cmdline()):
                child.kill()


def worker_restart_delays(log: Path) -> list[float]:
    """The delays serve announced before each restart of its worker, in order."""
    found = re.findall(
        r"the worker exited with code 3; restarting it in ([0-9.]+) s", log.read_text()
    )
    return [float(delay) for delay in found]


def test_a_crash_looping_worker_leaves_intake_and_status_reads_up(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    proc, key = start_serve(tmp_path / "d", port, log, (str(HERE / "crashing_worker.py"),))
    try:
        api = next(
            c for c in psutil.Process(proc.pid).children() if " api " in " ".join(c.cmdline())
        )
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as http:
            created = http.post("/datasets", files={"file": ("gt.json", GT.read_bytes())})
            assert created.status_code == 201, created.text
            submitted = http.post(
                "/evaluations",
                data={"dataset_id": created.json()["id"]},
                files={"predictions": ("p.json", DT.read_bytes())},
            )
            assert submitted.status_code == 202, submitted.text
            # Back-off: 1, 2, 4, 8 s between the worker's restarts; serve runs on.
            delays = wait_for(
                lambda: worker_restart_delays(log),
                lambda found: len(found) >= 4 or proc.poll() is not None,
                120,
                "four restarts of the worker",
            )
            assert proc.poll() is None, log.read_text()[-2000:]
            assert delays[:4] == [1, 2, 4, 8], delays

            status = http.get(f"/evaluations/{submitted.json()['id']}")
            assert status.status_code == 200, status.text
            assert status.json()["status"] == "queued"
            health = http.get("/health").json()
            assert health["status"] == "degraded" and health["workers"] == 0, health
            assert health["store"] is True, health
        assert api.is_running()  # never stopped nor restarted
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
