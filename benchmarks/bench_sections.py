"""Time each step of ``deteval evaluate --json`` in-process, and how it grows with the data.

The steps are the functions :mod:`evaluator.coco` calls (loading, matching,
accumulation, and the report sections: operating points, F1 curves, VOC, confusion
matrix, TIDE errors), then what the command line does with the report (``to_dict``,
the schema check of ``read_report``, its JSON encoding). Each is timed by replacing its
name in :mod:`evaluator.coco` with a timing wrapper for the run; the package's code is
unchanged. Every run is a fresh process; rounds are interleaved over the sets and the
medians are reported, with the growth ratio from the first set to the last.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sections.py --sizes 5k,20k --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
from bench_inputs import DEFAULT_CACHE, SIZES, parse_sizes, synthetic_set
from make_synthetic_coco import SyntheticConfig

# Name in evaluator.coco -> step label. Listed in the order evaluate_coco calls them.
TIMED = {
    # The results file is read and scanned beside the ground truth's loading: one step.
    "load_evaluation_inputs": "load ground truth and predictions",
    "match_detections": "matching",
    "accumulate": "accumulation",
    "operating_points": "section: operating points",
    "f1_curves_section": "section: F1 curves",
    "evaluate_voc_interpolations": "section: VOC",
    "detection_confusion_matrix": "section: confusion matrix",
    "error_section": "section: errors (TIDE)",
}
REPORT = "report assembly"
OTHER = "evaluate_coco, rest"
CLI_STEPS = ("CLI: to_dict", "CLI: read_report", "CLI: JSON encoding")
TOTAL = "total"
GROWTH_TARGET = 4.5  # issue 12: each report section at most 4.5x from 500k to 2M detections


def _timed(
    func: Callable[..., Any], label: str, times: dict[str, float], beside: set[str]
) -> Callable[..., Any]:
    """``func`` adding its seconds to ``times[label]``; ``label`` joins ``beside`` when it
    runs off the main thread (the sections evaluate_coco runs beside the error breakdown)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            beside.add(label)
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            times[label] += time.perf_counter() - start

    return wrapper


def time_steps(gt_path: str, preds_path: str) -> dict[str, float]:
    """Seconds of every step of one ``deteval evaluate --json`` run, in this process."""
    import evaluator.coco as coco
    from evaluator.report.schema import read_report

    times: dict[str, float] = defaultdict(float)
    beside: set[str] = set()
    for name, label in TIMED.items():
        setattr(coco, name, _timed(getattr(coco, name), label, times, beside))
    report_class = coco.CocoReport
    coco.CocoReport = SimpleNamespace(  # type: ignore[misc, assignment]
        from_arrays=_timed(report_class.from_arrays, REPORT, times, beside)
    )
    start = time.perf_counter()
    report = coco.evaluate_coco(gt_path, preds_path, extras=True)  # the CLI's defaults
    total = time.perf_counter() - start
    # The steps on the main thread and the rest make up the total; those run beside them
    # overlap it.
    times[OTHER] = total - sum(v for label, v in times.items() if label not in beside)
    start = time.perf_counter()
    document = report.to_dict()
    times[CLI_STEPS[0]] = time.perf_counter() - start
    start = time.perf_counter()
    read_report(document)
    times[CLI_STEPS[1]] = time.perf_counter() - start
    start = time.perf_counter()
    msgspec.json.encode(document)  # as deteval evaluate --json writes it
    times[CLI_STEPS[2]] = time.perf_counter() - start
    times[TOTAL] = total + sum(times[step] for step in CLI_STEPS)
    return dict(times)


def run_child(gt_path: Path, preds_path: Path, timeout: float) -> dict[str, float]:
    """:func:`time_steps` in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    cmd += ["--gt", str(gt_path), "--preds", str(preds_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"section timing failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_sections(
    sets: list[tuple[str, Path, Path]], repeat: int, timeout: float
) -> dict[str, dict[str, Any]]:
    """Median seconds per step for each set: ``{set: {"median": {...}, "runs": [...]}}``."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in sets}
    for round_ in range(repeat):
        for name, gt_path, preds_path in sets:
            print(f"[{round_ + 1}/{repeat}] sections, {name} ...", end=" ", flush=True)
            times = run_child(gt_path, preds_path, timeout)
            print(f"{times[TOTAL]:.2f} s")
            runs[name].append(times)
    return {
        name: {
            "median": {step: statistics.median(r[step] for r in rs) for step in rs[0]},
            "runs": rs,
        }
        for name, rs in runs.items()
    }


def format_growth(sections: dict[str, dict[str, Any]]) -> str:
    """Markdown table: median seconds per step on each set, and the growth first -> last."""
    names = list(sections)
    first, last = sections[names[0]]["median"], sections[names[-1]]["median"]
    steps = [*TIMED.values(), REPORT, OTHER, *CLI_STEPS, TOTAL]
    head = " | ".join(f"{n} s" for n in names)
    lines = [
        f"| step (in-process) | {head} | growth |",
        "|---|" + "---:|" * (len(names) + 1),
    ]
    for step in steps:
        cells = " | ".join(f"{sections[n]['median'].get(step, 0.0):.3f}" for n in names)
        growth = "n/a"
        if len(names) > 1 and first.get(step, 0.0) > 0.0:
            ratio = last.get(step, 0.0) / first[step]
            flag = " (over 4.5x)" if step.startswith("section") and ratio > GROWTH_TARGET else ""
            growth = f"{ratio:.2f}x{flag}"
        lines.append(f"| {step} | {cells} | {growth} |")
    runs = len(sections[names[0]]["runs"])
    return f"Report steps, median of {runs} in-process runs:\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="5k,20k", help=f"named bbox sets ({', '.join(SIZES['bbox'])})"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gt", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--preds", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_steps(str(args.gt), str(args.preds))))
        return 0
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(f"--sizes: {exc}")
    sets = []
    for size in sizes:
        cfg = SyntheticConfig(images=SIZES["bbox"][size], seed=args.seed)
        sets.append((size, *synthetic_set(cfg, args.cache_dir, regenerate=False)))
    sections = measure_sections(sets, args.repeat, args.timeout)
    print()
    print(format_growth(sections))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(sections, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
