"""Time COCO evaluation end to end, from the JSON files to the summary stats.

Each tool runs in its own fresh Python process so that its peak resident memory is its
own: pycocotools, faster-coco-eval, hotcoco, ultrafast-pycocotools and vernier (the
native peers), this project's ``evaluator.evaluate_coco`` (library) and
``deteval evaluate --json`` (command line, default report sections). ``--iou-type``
picks what is evaluated: boxes (``bbox``: 12 stats; 10 IoU thresholds, 101 recall
points, maxDets 1/10/100, COCO's area ranges), masks (``segm``: the same 12 stats by
mask IoU) or person keypoints (``keypoints``: 10 stats; OKS with COCO's 17 sigmas,
maxDets 20, areas all/medium/large), every tool with its defaults for that type. A tool
that cannot evaluate the input is shown as "not supported". Rounds are interleaved, each
starting one tool further down the list, with a pause before each run (``--pause``), and
the medians are reported.

Run from the repository root::

    .venv/bin/python benchmarks/bench_coco.py                      # val2017-sized set
    .venv/bin/python benchmarks/bench_coco.py --sizes 5k,20k --repeat 3 --sections
    .venv/bin/python benchmarks/bench_coco.py --iou-type keypoints --sizes kp5k --repeat 3
    .venv/bin/python benchmarks/bench_coco.py --iou-type segm --sizes segm5k --repeat 3
    .venv/bin/python benchmarks/bench_coco.py --gt GT.json --preds PREDS.json

Without ``--gt``/``--preds`` the synthetic sets of ``make_synthetic_coco.py`` (boxes),
``make_synthetic_segm.py`` or ``make_synthetic_keypoints.py`` are generated once into
``benchmarks/out/`` (git-ignored) and reused afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_inputs import (
    CONFIGS,
    DEFAULT_CACHE,
    SIZES,
    SetConfig,
    describe_set,
    parse_sizes,
    synthetic_set,
)

NATIVE_PEERS = ("hotcoco", "ultrafast-pycocotools", "vernier")
OURS = "ours"
OURS_CLI = "ours-cli"
TOOLS = ("pycocotools", "faster-coco-eval", *NATIVE_PEERS, OURS, OURS_CLI)
# The stats are compared with the first of these that ran (pycocotools is skipped on the
# large set: it takes minutes there).
REFERENCES = ("pycocotools", "ultrafast-pycocotools", "vernier", "hotcoco", "faster-coco-eval")
SLOW = "pycocotools"  # run once per set, not once per round
LABELS = {
    "pycocotools": "pycocotools",
    "faster-coco-eval": "faster-coco-eval",
    "hotcoco": "hotcoco",
    "ultrafast-pycocotools": "ultrafast-pycocotools",
    "vernier": "vernier",
    OURS: "`evaluate_coco` (ours, library)",
    OURS_CLI: "`deteval evaluate --json` (ours, CLI)",
}
DISTRIBUTIONS = {
    "pycocotools": "pycocotools",
    "faster-coco-eval": "faster-coco-eval",
    "hotcoco": "hotcoco",
    "ultrafast-pycocotools": "ultrafast-pycocotools",
    "vernier": "vernier",
    OURS: "detection-eval",
    OURS_CLI: "detection-eval",
}
COLD_START_IMAGES = 10
# pycocotools' ``iouType`` -> how many summary stats its ``summarize`` gives.
STAT_COUNTS = {"bbox": 12, "segm": 12, "keypoints": 10}

Runner = Callable[[str, str], np.ndarray]


class ToolUnavailable(Exception):
    """The tool cannot run in this environment (reported as skipped, not failed)."""


class ToolUnsupported(Exception):
    """The tool cannot evaluate this input (reported as "not supported", not failed)."""


# ---------------------------------------------------------------------------
# Child side: one tool, one process.
# ---------------------------------------------------------------------------


def _import(module: str) -> None:
    """Import ``module``, or say that the tool is not installed."""
    try:
        __import__(module)
    except ImportError as exc:
        raise ToolUnavailable(f"not installed ({exc})") from None


def _cocoeval_runner(coco: Any, cocoeval: Any, load_res: str, iou_type: str) -> Runner:
    """A tool with pycocotools' API: ``COCO``, ``COCO.<load_res>``, ``COCOeval`` steps."""

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        gt = coco(gt_path)
        dt = getattr(gt, load_res)(preds_path)
        ev = cocoeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        return np.asarray(ev.stats, dtype=np.float64)

    return run


def _pycocotools_runner(iou_type: str) -> Runner:
    _import("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return _cocoeval_runner(COCO, COCOeval, "loadRes", iou_type)


def _faster_coco_eval_runner(iou_type: str) -> Runner:
    _import("faster_coco_eval")
    from faster_coco_eval import COCO, COCOeval_faster

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        gt = COCO(gt_path)
        dt = gt.loadRes(preds_path)
        ev = COCOeval_faster(gt, dt, iouType=iou_type, print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        # For boxes its stats append AR@0.5 and AR@0.75 after pycocotools' 12 values.
        return np.asarray(ev.stats, dtype=np.float64)[: STAT_COUNTS[iou_type]]

    return run


def _hotcoco_runner(iou_type: str) -> Runner:
    _import("hotcoco")
    from hotcoco import COCO, COCOeval

    return _cocoeval_runner(COCO, COCOeval, "load_res", iou_type)


def _ultrafast_runner(iou_type: str) -> Runner:
    _import("ultrafast_pycocotools")
    from ultrafast_pycocotools import COCO, COCOeval

    return _cocoeval_runner(COCO, COCOeval, "loadRes", iou_type)


def _vernier_runner(iou_type: str) -> Runner:
    _import("vernier")
    if iou_type == "keypoints":
        # Its native API wants a bbox on every result ("missing field `bbox`"), and
        # keypoint results carry none: its pycocotools drop-in on pycocotools' COCO then,
        # whose loadRes derives the boxes from the keypoints (as every other tool does).
        _import("pycocotools")
        from pycocotools.coco import COCO
        from vernier import COCOeval

        return _cocoeval_runner(COCO, COCOeval, "loadRes", iou_type)
    from vernier.instance import Bbox, CocoDataset, Evaluator, Segm

    kernel = Segm() if iou_type == "segm" else Bbox()

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        # Its native API (the one its README recommends); "strict" is pycocotools' numbers.
        # Its threads are opt-in (num_threads=None is sequential): all cores, as the others.
        gt = CocoDataset.from_json(Path(gt_path).read_bytes())
        try:
            summary = Evaluator(iou=kernel, parity_mode="strict").evaluate(
                gt, Path(preds_path).read_bytes(), num_threads=os.cpu_count()
            )
        except ValueError as exc:
            # Mask results without a bbox (a valid results file: loadRes derives the box
            # from the mask). Its pycocotools drop-in refuses them too, on pycocotools'
            # COCO ("detections[0].bbox: expected a 4-element sequence": the derived
            # box is an ndarray).
            if "missing field `bbox`" in str(exc):
                raise ToolUnsupported(f"results without a bbox ({exc})") from None
            raise
        return np.asarray(summary.stats, dtype=np.float64)

    return run


def _ours_runner(iou_type: str) -> Runner:
    import evaluator

    evaluate_coco = getattr(evaluator, "evaluate_coco", None)
    if evaluate_coco is None:
        raise ToolUnavailable("evaluator.evaluate_coco does not exist yet")

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        report = evaluate_coco(gt_path, preds_path, iou_type=iou_type)
        return np.asarray(report.stats, dtype=np.float64)

    return run


RUNNERS: dict[str, Callable[[str], Runner]] = {
    "pycocotools": _pycocotools_runner,
    "faster-coco-eval": _faster_coco_eval_runner,
    "hotcoco": _hotcoco_runner,
    "ultrafast-pycocotools": _ultrafast_runner,
    "vernier": _vernier_runner,
    OURS: _ours_runner,
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Linux's ``VmHWM`` when there is one: ``ru_maxrss`` also counts the memory of the
    process this one was started from (it survives ``exec``).
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_mb(maxrss: int) -> float:
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10


def child_main(tool: str, iou_type: str, gt_path: str, preds_path: str) -> int:
    """Run one tool once and write one JSON line on the original stdout.

    The tools' own prints go to /dev/null: file descriptor 1 is redirected, so
    output from C extensions is silenced too. Imports are not timed.
    """
    sys.stdout.flush()
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    result: dict[str, object] = {"tool": tool}
    try:
        start = time.perf_counter()
        run = RUNNERS[tool](iou_type)
        result["import_seconds"] = time.perf_counter() - start
        start, cpu_start = time.perf_counter(), time.process_time()
        stats = run(gt_path, preds_path)
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - cpu_start
        result["stats"] = stats.tolist()
        result["status"] = "ok"
    except ToolUnavailable as exc:
        result.update(status="unavailable", reason=str(exc))
    except ToolUnsupported as exc:
        result.update(status="not supported", reason=str(exc))
    except Exception as exc:  # reported to the parent, which prints it and fails
        result.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    sys.stdout.flush()
    result["peak_rss_mb"] = peak_rss_mb()
    os.write(result_fd, (json.dumps(result) + "\n").encode())
    return 0 if result["status"] != "failed" else 1


# ---------------------------------------------------------------------------
# Parent side: spawn, collect, compare, print.
# ---------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What one child process reported."""

    status: str  # ok | unavailable | not supported | failed
    reason: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    import_seconds: float | None = None
    process_seconds: float = 0.0  # the whole process, from its spawn to its exit
    peak_rss_mb: float = 0.0
    stats: list[float] = field(default_factory=list)


@dataclass
class ToolResult:
    """Outcome of one tool over all its runs on one set (medians)."""

    tool: str
    version: str | None = None
    status: str = "ok"  # ok | unavailable | not supported | failed | skipped
    reason: str = ""
    seconds: float | None = None  # median wall time of the runs
    cpu_seconds: float | None = None  # median user + system CPU time, all threads
    peak_rss_mb: float | None = None  # median peak resident memory
    import_seconds: float | None = None  # median, not included in seconds (library tools)
    process_seconds: float | None = None  # median, spawn to exit (start and imports included)
    all_seconds: list[float] = field(default_factory=list)
    all_cpu_seconds: list[float] = field(default_factory=list)
    all_peak_rss_mb: list[float] = field(default_factory=list)
    all_import_seconds: list[float] = field(default_factory=list)
    all_process_seconds: list[float] = field(default_factory=list)
    stats: list[float] = field(default_factory=list)
    reference: str | None = None  # the tool whose stats these are compared with
    max_abs_diff: float | None = None
    identical: bool | None = None  # bit-for-bit equal to the reference's stats

    def add(self, out: RunOutcome) -> None:
        """Record one successful run."""
        self.all_seconds.append(out.seconds)
        self.all_cpu_seconds.append(out.cpu_seconds)
        self.all_peak_rss_mb.append(out.peak_rss_mb)
        if out.import_seconds is not None:
            self.all_import_seconds.append(out.import_seconds)
        self.all_process_seconds.append(out.process_seconds)
        if self.stats and out.stats != self.stats:
            self.status, self.reason = "failed", "stats differ between repeated runs"
        self.stats = out.stats
        self.seconds = statistics.median(self.all_seconds)
        self.cpu_seconds = statistics.median(self.all_cpu_seconds)
        self.peak_rss_mb = statistics.median(self.all_peak_rss_mb)
        if self.all_import_seconds:
            self.import_seconds = statistics.median(self.all_import_seconds)
        self.process_seconds = statistics.median(self.all_process_seconds)


def run_child(
    tool: str, iou_type: str, gt_path: Path, preds_path: Path, timeout: float
) -> RunOutcome:
    """Run library ``tool`` in a fresh interpreter and return what it reported."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool, "--iou-type", iou_type]
    cmd += ["--gt", str(gt_path), "--preds", str(preds_path)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return RunOutcome("failed", f"timed out after {timeout:.0f} s")
    process_seconds = time.perf_counter() - start
    stderr_tail = proc.stderr.strip()[-2000:]
    lines = proc.stdout.strip().splitlines()
    if not lines:
        return RunOutcome(
            "failed", f"exit code {proc.returncode}, no result; stderr:\n{stderr_tail}"
        )
    out = json.loads(lines[-1])
    if out["status"] != "ok":
        reason = out["reason"]
        if out["status"] == "failed":
            reason += f"\n{stderr_tail}"
        return RunOutcome(out["status"], reason, peak_rss_mb=out["peak_rss_mb"])
    return RunOutcome(
        "ok",
        seconds=float(out["seconds"]),
        cpu_seconds=float(out["cpu_seconds"]),
        import_seconds=float(out["import_seconds"]),
        process_seconds=process_seconds,
        peak_rss_mb=float(out["peak_rss_mb"]),
        stats=[float(v) for v in out["stats"]],
    )


def run_cli(
    iou_type: str, gt_path: Path, preds_path: Path, timeout: float, as_json: bool = True
) -> RunOutcome:
    """Run ``deteval evaluate`` as a user does and measure the whole process.

    The wall time runs from the spawn to the exit, so it includes the interpreter's
    start and the imports (what a CI job pays); CPU time and peak memory are the
    process's own, from ``wait4`` (its peak memory cannot read lower than this process's
    own peak, which is why this process never loads a set). With ``as_json`` the stats
    are read from its output.
    """
    cmd = [sys.executable, "-m", "deteval", "evaluate", "--iou-type", iou_type]
    cmd += ["--json"] if as_json else []
    cmd += [str(gt_path), str(preds_path)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if timed_out.is_set():
        return RunOutcome("failed", f"timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        return RunOutcome("failed", f"exit code {proc.returncode}; stderr:\n{stderr[-2000:]}")
    stats = [float(v) for v in json.loads(stdout)["stats"]] if as_json else []
    return RunOutcome(
        "ok",
        seconds=seconds,
        process_seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=_rss_mb(usage.ru_maxrss),
        stats=stats,
    )


def compare_stats(results: dict[str, ToolResult]) -> None:
    """Fill ``max_abs_diff`` and ``identical`` against the first reference that ran."""
    ref = next((results[t] for t in REFERENCES if t in results and results[t].status == "ok"), None)
    if ref is None:
        return
    expected = np.asarray(ref.stats, dtype=np.float64)
    for res in results.values():
        if res.status != "ok":
            continue
        res.reference = ref.tool
        got = np.asarray(res.stats, dtype=np.float64)
        if got.shape != expected.shape:
            res.identical = False
            res.reason = f"{got.shape[0]} stats instead of {expected.shape[0]}"
            continue
        res.max_abs_diff = float(np.max(np.abs(got - expected)))
        # A NaN at the same place in both counts as equal.
        res.identical = bool(np.array_equal(got, expected, equal_nan=True))


def benchmark(
    tools: list[str],
    iou_type: str,
    gt_path: Path,
    preds_path: Path,
    repeat: int,
    timeout: float,
    skip: dict[str, str] | None = None,
    pause: float = 0.0,
) -> dict[str, ToolResult]:
    """Run every tool ``repeat`` times (pycocotools once), interleaved, in fresh processes.

    Each round starts one tool further down the list, so that no tool always runs right
    after the same one (a process that kept both cores busy leaves the next one slower
    on a shared machine: up to 20% here), and ``pause`` seconds of rest come before each
    run. ``skip`` maps tools not to run to the reason, which the table shows.
    """
    versions = tool_versions()
    results = {tool: ToolResult(tool, versions.get(DISTRIBUTIONS[tool])) for tool in tools}
    for tool, reason in (skip or {}).items():
        if tool in results:
            results[tool].status, results[tool].reason = "skipped", reason
    for round_ in range(repeat):
        shift = round_ % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            res = results[tool]
            if res.status != "ok" or (tool == SLOW and res.all_seconds):
                continue
            time.sleep(pause)
            print(f"[{round_ + 1}/{repeat}] {tool} ...", end=" ", flush=True)
            if tool == OURS_CLI:
                out = run_cli(iou_type, gt_path, preds_path, timeout)
            else:
                out = run_child(tool, iou_type, gt_path, preds_path, timeout)
            if out.status != "ok":
                res.status, res.reason = out.status, out.reason
                print(out.status)
                continue
            print(f"{out.seconds:.2f} s ({out.cpu_seconds:.2f} s CPU), {out.peak_rss_mb:.0f} MB")
            res.add(out)
    compare_stats(results)
    return results


def cold_start(
    iou_type: str, gt_path: Path, preds_path: Path, repeat: int, timeout: float
) -> ToolResult:
    """``deteval evaluate`` (text output) on a tiny set, ``repeat`` fresh processes."""
    res = ToolResult("cold start", tool_versions().get("detection-eval"))
    for round_ in range(repeat):
        print(f"[{round_ + 1}/{repeat}] cold start ...", end=" ", flush=True)
        out = run_cli(iou_type, gt_path, preds_path, timeout, as_json=False)
        if out.status != "ok":
            res.status, res.reason = out.status, out.reason
            print(out.status)
            return res
        print(f"{out.seconds:.3f} s, {out.peak_rss_mb:.0f} MB")
        res.add(out)
    return res


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}x" if value is not None and base else "n/a"


def fastest_native(results: dict[str, ToolResult]) -> tuple[ToolResult | None, ToolResult | None]:
    """The native peer with the lowest median wall time, and the one with the least memory."""
    ran = [results[t] for t in NATIVE_PEERS if t in results and results[t].status == "ok"]
    if not ran:
        return None, None
    fastest = min(ran, key=lambda r: r.seconds or 0.0)
    leanest = min(ran, key=lambda r: r.peak_rss_mb or 0.0)
    return fastest, leanest


def format_table(results: dict[str, ToolResult]) -> str:
    """The results as a markdown table, with ratios to the fastest / leanest native peer."""
    fastest, leanest = fastest_native(results)
    base_s = fastest.seconds if fastest else None
    base_mb = leanest.peak_rss_mb if leanest else None
    ref = next((r.reference for r in results.values() if r.reference), None)
    lines = [
        "| tool | runs | wall s | CPU s | wall / fastest native | process s | peak RSS MB "
        f"| RSS / leanest native | stats vs {ref or 'reference'} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in results.values():
        ours = res.tool in (OURS, OURS_CLI)
        name = LABELS[res.tool] + (f" {res.version}" if res.version and not ours else "")
        if res.status != "ok" or res.seconds is None:
            lines.append(f"| {name} | 0 | {res.status} | | | | | | |")
            continue
        if res.identical is None:
            same = "n/a"
        elif res.tool == res.reference:
            same = "(reference)"
        elif res.identical:
            same = "identical"
        else:
            same = f"differ (max {res.max_abs_diff:.3g})"
        lines.append(
            f"| {name} | {len(res.all_seconds)} | {res.seconds:.2f} | {res.cpu_seconds:.2f} "
            f"| {_ratio(res.seconds, base_s)} | {res.process_seconds or 0:.2f} "
            f"| {res.peak_rss_mb:,.0f} "
            f"| {_ratio(res.peak_rss_mb, base_mb)} | {same} |"
        )
    notes = [f"- {r.tool}: {r.status}: {r.reason}" for r in results.values() if r.reason]
    if fastest is not None and leanest is not None:
        notes.insert(0, f"- fastest native peer: {fastest.tool}; leanest: {leanest.tool}")
    lib, cli = results.get(OURS), results.get(OURS_CLI)
    if lib is not None and cli is not None and lib.seconds and cli.seconds:
        notes.append(
            f"- CLI / library wall: {cli.seconds / lib.seconds:.2f}x against the library's "
            f"run alone; {cli.seconds / (lib.process_seconds or lib.seconds):.2f}x against its "
            "whole process (both then include the interpreter's start and the imports)"
        )
    return "\n".join(lines + ([""] + notes if notes else []))


def tool_versions() -> dict[str, str | None]:
    """Installed version of every distribution the benchmark runs, None if absent."""
    versions: dict[str, str | None] = {}
    for dist in (*sorted(set(DISTRIBUTIONS.values())), "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def machine_info() -> dict[str, object]:
    """CPU, Python and tool versions, for the record."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": tool_versions(),
        "load_average": os.getloadavg(),
    }


def input_sets(args: argparse.Namespace) -> list[tuple[str, Path, Path, int | None]]:
    """``(name, gt, preds, images)`` of each set to run: given files, or synthetic sets."""
    if (args.gt is None) != (args.preds is None):
        raise SystemExit("error: give both --gt and --preds, or neither")
    if args.gt is not None:
        for path in (args.gt, args.preds):
            if not path.is_file():
                raise SystemExit(f"error: no such file: {path}")
        return [("given", args.gt, args.preds, None)]
    sets = []
    sizes = SIZES[args.iou_type]
    named = [(size, sizes[size]) for size in args.sizes] if args.sizes else [("", args.images)]
    for size, images in named:
        cfg = synthetic_config(args, images, dets_per_image=args.dets_per_image)
        gt_path, preds_path = synthetic_set(cfg, args.cache_dir, args.regenerate)
        name = size or f"{images} images"
        name += f" ({images * cfg.dets_per_image:,} detections)"
        sets.append((name, gt_path, preds_path, images))
    return sets


def synthetic_config(
    args: argparse.Namespace, images: int, dets_per_image: int | None
) -> SetConfig:
    """The generator's config for ``args.iou_type``; options not given keep its defaults."""
    options: dict[str, Any] = {"images": images, "seed": args.seed}
    if dets_per_image is not None:
        options["dets_per_image"] = dets_per_image
    if args.classes is not None:  # boxes and masks only (parse_args checks)
        options["classes"] = args.classes
    if args.no_bbox:  # masks only (parse_args checks)
        options["result_bbox"] = False
    return CONFIGS[args.iou_type](**options)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--iou-type", choices=sorted(STAT_COUNTS), default="bbox",
        help="what is evaluated: boxes, masks (segm), or person keypoints (by OKS)",
    )  # fmt: skip
    parser.add_argument("--gt", type=Path, help="COCO ground-truth JSON (with --preds)")
    parser.add_argument("--preds", type=Path, help="COCO results JSON (with --gt)")
    named_sizes = "; ".join(f"{t}: {', '.join(sizes)}" for t, sizes in SIZES.items())
    parser.add_argument(
        "--sizes", help=f"comma-separated named synthetic sets ({named_sizes}); "
        "overrides --images"
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=5000, help="synthetic set size")
    parser.add_argument("--classes", type=int, help="bbox and segm sets (default 80)")
    parser.add_argument(
        "--no-bbox", action="store_true",
        help="segm sets: results without a bbox (loadRes then takes their area from the mask)",
    )  # fmt: skip
    parser.add_argument(
        "--dets-per-image", type=int, help="default 100 (bbox), 20 (keypoints)"
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the synthetic set")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the medians count")
    parser.add_argument(
        "--pycocotools-max-images", type=int, default=5000,
        help="skip pycocotools on synthetic sets with more images (it takes minutes)",
    )  # fmt: skip
    parser.add_argument(
        "--pause",
        type=float,
        default=1.0,
        help="seconds of rest before each run, so that one run's load does not slow the next",
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start runs")
    parser.add_argument(
        "--sections", action="store_true",
        help="also time each report section in-process (bench_sections.py) on every set",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"--tools: unknown {unknown}; choose from {', '.join(TOOLS)}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.sizes is not None:
        try:
            args.sizes = parse_sizes(args.sizes, args.iou_type)
        except ValueError as exc:
            parser.error(f"--sizes: {exc}")
    if args.iou_type == "keypoints" and args.classes is not None:
        parser.error("--classes: the keypoints sets have one class, person")
    if args.iou_type != "segm" and args.no_bbox:
        parser.error("--no-bbox: only segm results can go without a bbox")
    if args.iou_type != "bbox" and args.sections:
        parser.error("--sections: the report steps are timed on bbox sets only")
    args.tools = tools
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child, args.iou_type, str(args.gt), str(args.preds))
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, Python {info['python']}")
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"iou type: {args.iou_type}")
    set_payloads: list[dict[str, object]] = []
    payload: dict[str, object] = {
        "iou_type": args.iou_type, "repeat": args.repeat, "machine": info, "sets": set_payloads
    }  # fmt: skip
    tables, failed = [], False
    sets = input_sets(args)
    for name, gt_path, preds_path, images in sets:
        print(f"\n== {name}")
        print(describe_set(gt_path, preds_path, CONFIGS[args.iou_type].generator))
        skip = {}
        if images is not None and images > args.pycocotools_max_images:
            skip[SLOW] = f"not run above {args.pycocotools_max_images} images (too slow)"
        results = benchmark(
            args.tools,
            args.iou_type,
            gt_path,
            preds_path,
            args.repeat,
            args.timeout,
            skip,
            args.pause,
        )
        tables.append(f"### {name}, {args.iou_type}\n\n{format_table(results)}")
        set_payloads.append(
            {"name": name, "gt": str(gt_path), "preds": str(preds_path),
             "results": [asdict(r) for r in results.values()]}
        )  # fmt: skip
        failed |= any(r.status == "failed" for r in results.values())
        failed |= any(r.identical is False for t, r in results.items() if t in (OURS, OURS_CLI))
    if not args.no_cold_start:
        cfg = synthetic_config(args, COLD_START_IMAGES, dets_per_image=None)
        tiny_gt, tiny_preds = synthetic_set(cfg, args.cache_dir, args.regenerate)
        print(f"\n== cold start: deteval evaluate on {COLD_START_IMAGES} images")
        cold = cold_start(args.iou_type, tiny_gt, tiny_preds, args.repeat, args.timeout)
        failed |= cold.status == "failed"
        payload["cold_start"] = asdict(cold)
        if cold.seconds is not None:
            tables.append(
                f"Cold start, `deteval evaluate` on {COLD_START_IMAGES} images (fresh process, "
                f"median of {len(cold.all_seconds)}): {cold.seconds:.3f} s wall, "
                f"{cold.cpu_seconds:.3f} s CPU, {cold.peak_rss_mb:.0f} MB"
            )
        else:
            tables.append(f"Cold start: {cold.status}: {cold.reason}")
    if args.sections:
        from bench_sections import format_growth, measure_sections

        named = [(name, gt, preds) for name, gt, preds, _ in sets]
        sections = measure_sections(named, args.repeat, args.timeout)
        payload["sections"] = sections
        tables.append(format_growth(sections))
    print()
    print("\n\n".join(tables))
    harness_mb = peak_rss_mb()
    print(f"\n(peak memory of this harness process: {harness_mb:.0f} MB)")
    payload["harness_peak_rss_mb"] = harness_mb
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
