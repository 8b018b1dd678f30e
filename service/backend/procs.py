"""Child processes that stop with their parent: process groups and Linux' parent-death signal.

A child started here (:func:`spawn`) is tied to its parent before it runs anything; a
process started by a library (a work-pool process, a uvicorn worker) ties itself with
:func:`die_with_parent`. Either way, a parent killed outright (SIGKILL, the OOM killer)
leaves no orphan behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1
#: How often the fallback watch of :func:`die_with_parent` looks at the parent (seconds).
PARENT_POLL_SECONDS = 1.0
#: How long a process whose parent died may take to stop on its signal before the watch
#: ends it with ``os._exit`` (seconds).
PARENT_GONE_GRACE_SECONDS = 10.0


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere.

    The kernel sends it when the *thread* that started this process ends, so the parent
    must start children from a thread that lives as long as it does (its main thread).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_PDEATHSIG, sig)) == 0


def _child_setup() -> None:
    # Runs in the child between fork and exec: SIGTERM when the parent dies, so a
    # supervisor killed with SIGKILL leaves no orphans.
    _set_parent_death_signal(signal.SIGTERM)


def _watch_parent(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), sig)
    time.sleep(PARENT_GONE_GRACE_SECONDS)
    os._exit(1)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Make this process stop with its parent, however the parent ends.

    On Linux the kernel sends ``sig`` (PR_SET_PDEATHSIG). A daemon thread is the fallback
    everywhere: once the parent is gone (this process was reparented), it sends ``sig``
    to this process, and ends it ``PARENT_GONE_GRACE_SECONDS`` later if it still runs.

    Parameters
    ----------
    sig : int
        The signal to stop with: SIGTERM lets a server finish its requests and shut down.
    """
    # A process started by multiprocessing knows its parent even if it is already gone.
    spawner = multiprocessing.parent_process()
    parent = os.getppid() if spawner is None or spawner.pid is None else spawner.pid
    _set_parent_death_signal(sig)
    if os.getppid() != parent:  # the parent died before the kernel watched it
        os.kill(os.getpid(), sig)
    threading.Thread(
        target=_watch_parent, args=(parent, sig), name="parent-watch", daemon=True
    ).start()


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
