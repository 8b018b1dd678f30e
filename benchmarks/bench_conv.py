"""Conv2d forward + backward: evaluator.nn (NumPy) against torch on CPU, in one run.

The default shape is a ResNet stage-2 convolution: batch 32, 64 -> 64 channels, 3x3,
padding 1, 56x56, float32. Both sides get the same input, weights and upstream
gradient; the script checks they agree, then reports

* the median wall time of forward + backward over ``--repeat`` runs, timed alternately
  (ours, torch, ours, ...) so machine load affects both alike, and the ratio;
* the peak memory of one forward + backward, each framework in a fresh subprocess:
  Linux's resident-set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``) minus the resident size before the pass, with glibc told
  to unmap large freed blocks. For NumPy the ``tracemalloc`` peak is shown too.

Run::

    .venv/bin/python benchmarks/bench_conv.py [--repeat 7] [--batch 32] [--size 56]

torch is needed only here and in the tests; ``evaluator.nn`` never imports it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

import evaluator.nn as nn


def make_problem(batch: int, channels: int, size: int) -> tuple[np.ndarray, nn.Conv2d, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    conv = nn.Conv2d(channels, channels, 3, padding=1, dtype=np.float32, rng=1)
    dy = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    return x, conv, dy


def numpy_step(x: np.ndarray, conv: nn.Conv2d, dy: np.ndarray) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        conv.zero_grad()
        conv.forward(x)
        return conv.backward(dy)

    return run


def torch_step(x: np.ndarray, conv: nn.Conv2d, dy: np.ndarray) -> Callable[[], np.ndarray]:
    import torch

    layer = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            param.copy_(torch.from_numpy(conv.params[name]))
    tx = torch.from_numpy(x).requires_grad_()
    tdy = torch.from_numpy(dy)

    def run() -> np.ndarray:
        tx.grad = None
        layer.zero_grad()
        layer(tx).backward(tdy)
        assert tx.grad is not None
        return tx.grad.numpy()

    return run


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def measure_memory(framework: str, batch: int, channels: int, size: int) -> dict[str, float]:
    """Peak bytes above the resting resident size during one forward + backward."""
    x, conv, dy = make_problem(batch, channels, size)
    run = numpy_step(x, conv, dy) if framework == "numpy" else torch_step(x, conv, dy)
    run()  # warm-up: lazy allocations, thread pools, caches
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = _status_kib("VmRSS")
    result: dict[str, float] = {}
    if framework == "numpy":
        tracemalloc.start()
        run()
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        run()
    result["rss_peak"] = (_status_kib("VmHWM") - base) * 1024
    return result


def memory_in_subprocess(framework: str, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--memory-worker",
        framework,
        "--batch",
        str(args.batch),
        "--channels",
        str(args.channels),
        "--size",
        str(args.size),
    ]
    # A fixed mmap threshold makes glibc return every large freed block to the OS, so
    # the resident size follows live memory for both frameworks (the default dynamic
    # threshold keeps freed blocks of up to 32 MiB resident and hides reuse).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600, env=env)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--memory-worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        print(json.dumps(measure_memory(args.memory_worker, args.batch, args.channels, args.size)))
        return

    import torch

    x, conv, dy = make_problem(args.batch, args.channels, args.size)
    ours, theirs = numpy_step(x, conv, dy), torch_step(x, conv, dy)
    dx_ours, dx_theirs = ours(), theirs()
    scale = float(np.abs(dx_theirs).max())
    error = float(np.abs(dx_ours - dx_theirs).max()) / scale
    times: dict[str, list[float]] = {"evaluator.nn": [], "torch": []}
    for _ in range(args.repeat):
        for name, run in (("evaluator.nn", ours), ("torch", theirs)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    memory = {
        "evaluator.nn": memory_in_subprocess("numpy", args),
        "torch": memory_in_subprocess("torch", args),
    }

    print(
        f"Conv2d({args.channels}->{args.channels}, 3x3, padding 1) forward+backward, input "
        f"({args.batch}, {args.channels}, {args.size}, {args.size}) float32"
    )
    print(
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{args.repeat} runs each; max |dx difference| / max |dx| = {error:.1e}"
    )
    print(f"{'':14}{'median':>10}{'min':>10}{'peak memory':>14}")
    for name in times:
        peak = memory[name]["rss_peak"] / 2**20
        print(f"{name:14}{median[name]:>9.3f}s{min(times[name]):>9.3f}s{peak:>11.0f} MiB")
    if "tracemalloc_peak" in memory["evaluator.nn"]:
        traced = memory["evaluator.nn"]["tracemalloc_peak"] / 2**20
        print(f"(evaluator.nn NumPy allocations traced by tracemalloc: peak {traced:.0f} MiB)")
    print(f"ratio evaluator.nn / torch (median): {median['evaluator.nn'] / median['torch']:.2f}x")


if __name__ == "__main__":
    main()
