"""Time COCO bbox evaluation end to end, from the JSON files to the 12 summary stats.

Three tools are compared, each in its own fresh Python process so that its peak
resident memory is its own: pycocotools (``COCO``, ``loadRes``, ``COCOeval``),
faster-coco-eval (``COCO``, ``loadRes``, ``COCOeval_faster``) and this project's
``evaluator.evaluate_coco``. All use the default bbox parameters (10 IoU thresholds,
101 recall points, maxDets 1/10/100, COCO's area ranges).

Run from the repository root::

    .venv/bin/python benchmarks/bench_coco.py                 # val2017-sized synthetic set
    .venv/bin/python benchmarks/bench_coco.py --gt GT.json --preds PREDS.json

Without ``--gt``/``--preds`` the synthetic set of ``make_synthetic_coco.py`` is
generated once into ``benchmarks/out/`` (git-ignored) and reused afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from make_synthetic_coco import GENERATOR_VERSION, SyntheticConfig, describe, write_dataset

TOOLS = ("pycocotools", "faster-coco-eval", "ours")
REFERENCE = "pycocotools"
OURS = "ours"
DEFAULT_CACHE = Path(__file__).resolve().parent / "out"

Runner = Callable[[str, str], np.ndarray]


class ToolUnavailable(Exception):
    """The tool cannot run in this environment (reported as skipped, not failed)."""


# ---------------------------------------------------------------------------
# Child side: one tool, one process.
# ---------------------------------------------------------------------------


def _pycocotools_runner() -> Runner:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        gt = COCO(gt_path)
        dt = gt.loadRes(preds_path)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        return np.asarray(ev.stats, dtype=np.float64)

    return run


def _faster_coco_eval_runner() -> Runner:
    from faster_coco_eval import COCO, COCOeval_faster

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        gt = COCO(gt_path)
        dt = gt.loadRes(preds_path)
        ev = COCOeval_faster(gt, dt, iouType="bbox", print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        # Its stats append AR@0.5 and AR@0.75 after pycocotools' 12 values.
        return np.asarray(ev.stats, dtype=np.float64)[:12]

    return run


def _ours_runner() -> Runner:
    import evaluator

    evaluate_coco = getattr(evaluator, "evaluate_coco", None)
    if evaluate_coco is None:
        raise ToolUnavailable("evaluator.evaluate_coco does not exist yet")

    def run(gt_path: str, preds_path: str) -> np.ndarray:
        return np.asarray(evaluate_coco(gt_path, preds_path).stats, dtype=np.float64)

    return run


RUNNERS: dict[str, Callable[[], Runner]] = {
    "pycocotools": _pycocotools_runner,
    "faster-coco-eval": _faster_coco_eval_runner,
    "ours": _ours_runner,
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def child_main(tool: str, gt_path: str, preds_path: str) -> int:
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
        run = RUNNERS[tool]()
        result["import_seconds"] = time.perf_counter() - start
        start, cpu_start = time.perf_counter(), time.process_time()
        stats = run(gt_path, preds_path)
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - cpu_start
        result["stats"] = stats.tolist()
        result["status"] = "ok"
    except ToolUnavailable as exc:
        result.update(status="unavailable", reason=str(exc))
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

    status: str  # ok | unavailable | failed
    reason: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    import_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    stats: list[float] = field(default_factory=list)


@dataclass
class ToolResult:
    """Outcome of one tool over all repeats (best time, highest peak memory)."""

    tool: str
    status: str = "ok"  # ok | unavailable | failed
    reason: str = ""
    seconds: float | None = None  # best wall time of the repeats
    cpu_seconds: float | None = None  # user + system CPU time of that run, all threads
    all_seconds: list[float] = field(default_factory=list)
    import_seconds: float | None = None  # of the best run, not included in seconds
    peak_rss_mb: float = 0.0
    stats: list[float] = field(default_factory=list)
    max_abs_diff: float | None = None  # vs pycocotools' stats
    identical: bool | None = None  # bit-for-bit equal to pycocotools' stats


def run_child(tool: str, gt_path: Path, preds_path: Path, timeout: float) -> RunOutcome:
    """Run ``tool`` in a fresh interpreter and return what it reported."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool]
    cmd += ["--gt", str(gt_path), "--preds", str(preds_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return RunOutcome("failed", f"timed out after {timeout:.0f} s")
    stderr_tail = proc.stderr.strip()[-2000:]
    lines = proc.stdout.strip().splitlines()
    if not lines:
        return RunOutcome(
            "failed", f"exit code {proc.returncode}, no result; stderr:\n{stderr_tail}"
        )
    out = json.loads(lines[-1])
    if out["status"] != "ok":
        reason = (
            out["reason"] if out["status"] == "unavailable" else f"{out['reason']}\n{stderr_tail}"
        )
        return RunOutcome(out["status"], reason, peak_rss_mb=out["peak_rss_mb"])
    return RunOutcome(
        "ok",
        seconds=float(out["seconds"]),
        cpu_seconds=float(out["cpu_seconds"]),
        import_seconds=float(out["import_seconds"]),
        peak_rss_mb=float(out["peak_rss_mb"]),
        stats=[float(v) for v in out["stats"]],
    )


def compare_stats(results: dict[str, ToolResult]) -> None:
    """Fill ``max_abs_diff`` and ``identical`` against pycocotools' stats, if it ran."""
    ref = results.get(REFERENCE)
    if ref is None or ref.status != "ok":
        return
    expected = np.asarray(ref.stats, dtype=np.float64)
    for res in results.values():
        if res.status != "ok":
            continue
        got = np.asarray(res.stats, dtype=np.float64)
        if got.shape != expected.shape:
            res.identical = False
            res.reason = f"{got.shape[0]} stats instead of {expected.shape[0]}"
            continue
        res.max_abs_diff = float(np.max(np.abs(got - expected)))
        # A NaN at the same place in both counts as equal.
        res.identical = bool(np.array_equal(got, expected, equal_nan=True))


def benchmark(
    tools: list[str], gt_path: Path, preds_path: Path, repeat: int, timeout: float
) -> dict[str, ToolResult]:
    """Run every tool ``repeat`` times, interleaved, each run in a fresh process."""
    results = {tool: ToolResult(tool) for tool in tools}
    for round_ in range(repeat):
        for tool in tools:
            res = results[tool]
            if res.status != "ok":
                continue
            print(f"[{round_ + 1}/{repeat}] {tool} ...", end=" ", flush=True)
            out = run_child(tool, gt_path, preds_path, timeout)
            res.peak_rss_mb = max(res.peak_rss_mb, out.peak_rss_mb)
            if out.status != "ok":
                res.status, res.reason = out.status, out.reason
                print(out.status)
                continue
            print(f"{out.seconds:.2f} s ({out.cpu_seconds:.2f} s CPU), {out.peak_rss_mb:.0f} MB")
            res.all_seconds.append(out.seconds)
            if res.seconds is None or out.seconds < res.seconds:
                res.seconds, res.cpu_seconds = out.seconds, out.cpu_seconds
                res.import_seconds = out.import_seconds
            if res.stats and out.stats != res.stats:
                res.status, res.reason = "failed", "stats differ between repeated runs"
            res.stats = out.stats
    compare_stats(results)
    return results


def format_table(results: dict[str, ToolResult]) -> str:
    """The results as a fixed-width text table."""
    ours, ref = results.get(OURS), results.get(REFERENCE)
    ours_s = ours.seconds if ours is not None and ours.status == "ok" else None
    ref_s = ref.seconds if ref is not None and ref.status == "ok" else None
    header = (
        "tool",
        "seconds",
        "CPU s",
        "time/ours",
        "pycoco/time",
        "peak RSS MB",
        "max|diff|",
        "identical",
    )
    rows = [header]
    for res in results.values():
        if res.status != "ok" or res.seconds is None:
            rows.append((res.tool, res.status, "", "", "", "", "", ""))
            continue
        rows.append(
            (
                res.tool,
                f"{res.seconds:.2f}",
                f"{res.cpu_seconds:.2f}",
                f"{res.seconds / ours_s:.1f}x" if ours_s else "n/a",
                f"{ref_s / res.seconds:.1f}x" if ref_s else "n/a",
                f"{res.peak_rss_mb:.0f}",
                "n/a" if res.max_abs_diff is None else f"{res.max_abs_diff:.3g}",
                "n/a" if res.identical is None else ("yes" if res.identical else "no"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"{r.tool}: {r.status}: {r.reason}" for r in results.values() if r.reason]
    return "\n".join(lines + notes)


def machine_info() -> dict[str, object]:
    """CPU, Python and tool versions, for the record."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for dist in ("pycocotools", "faster-coco-eval", "detection-eval", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def resolve_inputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """The files to evaluate: given ones, or the synthetic set (generated if missing)."""
    if (args.gt is None) != (args.preds is None):
        raise SystemExit("error: give both --gt and --preds, or neither")
    if args.gt is not None:
        for path in (args.gt, args.preds):
            if not path.is_file():
                raise SystemExit(f"error: no such file: {path}")
        return args.gt, args.preds
    cfg = SyntheticConfig(
        images=args.images, classes=args.classes, dets_per_image=args.dets_per_image, seed=args.seed
    )
    name = f"synthetic-v{GENERATOR_VERSION}-i{cfg.images}-c{cfg.classes}"
    name += f"-d{cfg.dets_per_image}-s{cfg.seed}"
    out_dir = args.cache_dir / name
    gt_path, preds_path = out_dir / "gt.json", out_dir / "preds.json"
    if args.regenerate or not (gt_path.is_file() and preds_path.is_file()):
        start = time.perf_counter()
        write_dataset(cfg, out_dir)
        print(f"generated {out_dir} in {time.perf_counter() - start:.1f} s")
    else:
        print(f"reusing {out_dir}")
    return gt_path, preds_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gt", type=Path, help="COCO ground-truth JSON (with --preds)")
    parser.add_argument("--preds", type=Path, help="COCO results JSON (with --gt)")
    parser.add_argument("--images", type=int, default=5000, help="synthetic set size")
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--dets-per-image", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the synthetic set")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the best counts")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"--tools: unknown {unknown}; choose from {', '.join(TOOLS)}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    args.tools = tools
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child, str(args.gt), str(args.preds))
    gt_path, preds_path = resolve_inputs(args)
    print(describe(gt_path, preds_path))
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, Python {info['python']}")
    results = benchmark(args.tools, gt_path, preds_path, args.repeat, args.timeout)
    print()
    print(format_table(results))
    if args.json is not None:
        payload = {
            "gt": str(gt_path),
            "preds": str(preds_path),
            "repeat": args.repeat,
            "machine": info,
            "results": [asdict(r) for r in results.values()],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    failed = [r.tool for r in results.values() if r.status == "failed"]
    mismatched = [r.tool for r in results.values() if r.tool == OURS and r.identical is False]
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
