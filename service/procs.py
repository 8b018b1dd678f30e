"""Child processes that stop with their parent: process groups and Linux' parent-death signal."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    # Runs in the child between fork and exec. On Linux, ask the kernel to SIGTERM the
    # child when its parent dies, so a supervisor killed with SIGKILL leaves no orphans.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new process group of its own, tied to this process' life.

    Its own group keeps a terminal's Ctrl-C away from it (the supervisor decides the
    order of shutdown) and lets :func:`stop_group` reach its own children too.
    """
    return subprocess.Popen(
        list(argv),
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        process_group=0,
        preexec_fn=_child_setup,
    )


def stop_group(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0
) -> int | None:
    """Signal a child's process group, wait up to ``timeout`` s, then SIGKILL the group.

    Returns the child's exit code (None if it could not be reaped).
    """
    for signum, wait in ((sig, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return proc.returncode
            time.sleep(0.05)
    proc.poll()
    return proc.returncode


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lower_priority(niceness: int) -> None:
    """Make this process yield the CPU to latency-sensitive ones (the API's event loops).

    Adds ``niceness`` to its nice value and, on Linux, moves it to ``SCHED_BATCH``: the
    scheduler then treats it as CPU-bound and does not let it preempt a task that wakes
    up, so a status poll arriving at the API is served before the next slice of scoring.
    """
    os.nice(niceness)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
