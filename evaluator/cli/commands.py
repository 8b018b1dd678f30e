"""The library's ``deteval`` commands: ``evaluate`` and ``check`` (and ``compare``, from
:mod:`evaluator.cli.report_commands`), and how a command's errors become exit codes.

``deteval.cli`` adds these to the ``deteval`` command beside the service's and the
workers'; ``python -m evaluator`` runs them alone.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import msgspec

from evaluator.cli.report_commands import add_commands, write_html
from evaluator.coco import evaluate_coco
from evaluator.errors import DataWarning, InputError
from evaluator.metrics.params import IOU_TYPES
from evaluator.metrics.summary import stat_specs
from evaluator.metrics.voc import VOC_METRICS
from evaluator.report.coco_report import CocoReport
from evaluator.report.schema import read_report
from evaluator.report.tables import metric_value, report_lines

EXIT_OK, EXIT_BELOW_FLOOR, EXIT_BAD_INPUT = 0, 1, 2
# By evaluation type: its stats, and for boxes the VOC mean APs.
METRIC_NAMES = {
    iou_type: (
        *(spec.name for spec in stat_specs(iou_type)),
        *(VOC_METRICS if iou_type == "bbox" else ()),
    )
    for iou_type in IOU_TYPES
}
ALL_METRIC_NAMES = tuple(dict.fromkeys(n for names in METRIC_NAMES.values() for n in names))
# Earlier names still accepted by --min, so existing CI gates keep working.
RENAMED_METRICS = {"VOC50": "VOC_mAP50"}


class ProgressBar:
    """A one-line bar on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = stream.isatty()

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        filled = int(round(self.width * min(max(fraction, 0.0), 1.0)))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r evaluating [{bar}] {fraction:4.0%}")
        if fraction >= 1.0:
            self.stream.write("\r" + " " * (self.width + 24) + "\r")
        self.stream.flush()


def _add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", type=Path, help="COCO ground-truth JSON")
    parser.add_argument("predictions", type=Path, help="COCO results JSON (list, or {annotations})")
    parser.add_argument(
        "--iou-type",
        choices=IOU_TYPES,
        default="bbox",
        help="what results are scored by: boxes or masks (IoU), or keypoints (OKS)",
    )
    parser.add_argument(
        "--oks-sigmas",
        type=_finite_float,
        nargs="+",
        metavar="S",
        help="per-keypoint OKS sigmas (default: COCO's 17 person keypoints)",
    )
    parser.add_argument("--iou-thresholds", type=float, nargs="+", metavar="T")
    parser.add_argument("--max-dets", type=int, nargs="+", metavar="N")
    parser.add_argument("--class-agnostic", action="store_true", help="pycocotools' useCats=0")
    parser.add_argument(
        "--mode",
        choices=["pycocotools", "corrected"],
        default="pycocotools",
        help="corrected: fix pycocotools' id-0, duplicate-id, ignore and stats[0] quirks",
    )
    parser.add_argument(
        "--score-threshold", type=_finite_float, help="also report P/R/F1 at this score"
    )
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the VOC, confusion matrix and error (TIDE) sections: the stats sooner",
    )


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _parse_floor(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    name = RENAMED_METRICS.get(name, name)
    if not sep or name not in ALL_METRIC_NAMES:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(ALL_METRIC_NAMES)}, got {text!r}"
        )
    try:
        floor = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from None
    # Every metric lies in [0, 1]; AP=30 (a percentage) could never pass.
    if not 0.0 <= floor <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: the floor must lie in [0, 1]")
    return name, floor


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``, ``check`` and ``compare`` to a ``deteval`` parser's subcommands."""
    evaluate = sub.add_parser("evaluate", help="print the COCO summary and a per-class table")
    _add_evaluation_options(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print only the report JSON")
    evaluate.add_argument("--html", type=Path, metavar="OUT", help="also write the HTML report")
    evaluate.set_defaults(func=_evaluate)
    check = sub.add_parser("check", help="exit 1 when a metric is below its floor (for CI)")
    _add_evaluation_options(check)
    check.add_argument(
        "--min",
        dest="floors",
        type=_parse_floor,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=(
            "a floor, e.g. AP=0.30 (names: "
            + "; ".join(f"{t}: {', '.join(names)}" for t, names in METRIC_NAMES.items())
            + ")"
        ),
    )
    check.set_defaults(func=_check)
    add_commands(sub)


def new_parser(prog: str = "deteval") -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """An empty ``deteval`` parser and its subcommands, for :func:`register` and others."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Object-detection evaluation identical to pycocotools."
    )
    return parser, parser.add_subparsers(dest="command", required=True)


def _run_evaluation(args: argparse.Namespace) -> CocoReport:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        report = evaluate_coco(
            args.ground_truth,
            args.predictions,
            iou_thresholds=args.iou_thresholds,
            max_dets=args.max_dets,
            use_cats=not args.class_agnostic,
            mode=args.mode,
            iou_type=args.iou_type,
            oks_sigmas=args.oks_sigmas,
            score_threshold=args.score_threshold,
            extras=not args.no_extras,
            progress=ProgressBar(sys.stderr),
        )
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return report


def _evaluate(args: argparse.Namespace) -> int:
    document = _run_evaluation(args).to_dict()
    typed = read_report(document)
    if args.html:
        write_html(typed, args.html)
    if args.json:
        # Serialise fully before writing, so a failure cannot leave half a document.
        # msgspec: the document json.dumps would give (compact), ten times faster.
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return EXIT_OK
    print("\n".join(report_lines(typed)))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    if not args.floors:
        print("error: give at least one floor, e.g. --min AP=0.30", file=sys.stderr)
        return EXIT_BAD_INPUT
    foreign = [name for name, _ in args.floors if name not in METRIC_NAMES[args.iou_type]]
    if foreign:
        print(
            f"error: --min {foreign[0]}: not a metric of a {args.iou_type} evaluation "
            f"(its metrics: {', '.join(METRIC_NAMES[args.iou_type])})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    # The report's other sections (TIDE, confusion matrix, VOC) are computed only when a
    # floor reads one of them: a CI gate on AP pays for AP alone.
    args.no_extras = not any(name in VOC_METRICS for name, _ in args.floors)
    typed = read_report(_run_evaluation(args).to_dict())
    failed = False
    for name, floor in args.floors:
        value = metric_value(typed, name)
        ok = value is not None and value >= floor
        failed |= not ok
        shown = "undefined" if value is None else f"{value:.4f}"
        print(f"{'ok  ' if ok else 'FAIL'} {name} = {shown} (floor {floor:.4f})")
    return EXIT_BELOW_FLOOR if failed else EXIT_OK


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command and return its exit code.

    0: done (and every floor met); 1: ``check`` found a metric below its floor;
    2: bad usage or bad input, with the reason on stderr.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0), or a usage error argparse has printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:  # invalid options, e.g. iou thresholds outside [0, 1]
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. `deteval evaluate ... | head`
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:  # e.g. --html into a folder that does not exist
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluator``: the library's commands alone (see :func:`run`)."""
    parser, sub = new_parser("python -m evaluator")
    register(sub)
    return run(parser, argv)
