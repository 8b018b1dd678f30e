"""The service's subcommands of ``deteval``: serve, api, worker, submit.

``evaluator.cli.commands`` calls :func:`register` when this package is installed, so the
evaluator itself never imports service code. Every ``deteval`` run imports this module,
so it imports only the standard library at the top; each command imports what it
needs (pydantic, uvicorn, celery, httpx) when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Seconds an idle keep-alive connection stays open. Above the 5 s after which httpx (and
#: most clients) stop reusing one, so the server never closes a connection a client is
#: about to reuse (a request lost in the race surfaces as a transport error).
KEEP_ALIVE_SECONDS = 75
#: Added to the nice value of ``deteval serve``'s scoring processes: on one machine,
#: scoring is throughput work and must not delay the API's answers.
SERVE_WORKER_NICENESS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve``, ``api`` and ``submit`` to a ``deteval`` parser."""
    serve = subparsers.add_parser(
        "serve",
        help="run API, workers and (if no DETEVAL_REDIS_URL) a private Redis",
        description="Run the whole service on this machine. Prints the URL and an API key; "
        "Ctrl-C stops everything.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="scoring processes (default: CPUs - 1)",
    )
    serve.add_argument(
        "--api-workers",
        type=int,
        default=2,
        help="API processes (default: 2; each answers polls while the other is busy)",
    )
    serve.add_argument("--data-dir", type=Path, help="default: $DETEVAL_DATA_DIR or ./data")
    serve.add_argument("--access-log", action="store_true", help="log a line per request")
    serve.set_defaults(func=_serve)

    api = subparsers.add_parser("api", help="run only the HTTP API (settings from DETEVAL_*)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes; each gets CPUs / workers pool processes "
        "unless DETEVAL_POOL_PROCESSES is set",
    )
    api.add_argument("--no-access-log", action="store_true", help="do not log a line per request")
    api.set_defaults(func=_api)

    submit = subparsers.add_parser(
        "submit", help="upload predictions to a running service and wait for the report"
    )
    submit.add_argument(
        "ground_truth",
        metavar="GT_OR_DATASET_ID",
        help="a COCO ground-truth file, or the id of an uploaded dataset",
    )
    submit.add_argument("predictions", metavar="PRED", type=Path, help="COCO results file")
    submit.add_argument("--url", default=os.environ.get("DETEVAL_URL", "http://127.0.0.1:8000"))
    submit.add_argument(
        "--key",
        default=os.environ.get("DETEVAL_API_KEY"),
        help="API key (default: $DETEVAL_API_KEY)",
    )
    submit.add_argument("--name", help="the run's name (the model), e.g. yolov8n-epoch30")
    submit.add_argument(
        "--tag", action="append", default=[], dest="tags", help="a tag (repeat for more)"
    )
    submit.add_argument(
        "--metadata",
        type=_json_object,
        help='a small JSON object about the run, e.g. \'{"commit": "4f2a9c1", "epoch": 30}\'',
    )
    submit.add_argument(
        "--iou-type",
        choices=("bbox", "segm", "keypoints"),
        default="bbox",
        help="what the results are scored by: boxes, masks or keypoints",
    )
    submit.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    submit.add_argument("--json", action="store_true", help="print the report JSON only")
    submit.set_defaults(func=_submit)


def _json_object(text: str) -> dict[str, Any]:
    """``--metadata``: a JSON object, or an argparse error saying what is wrong."""
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object ({...})")
    return value


def _serve(args: argparse.Namespace) -> int:
    from service.backend.config import Settings
    from service.ops.supervisor import Supervisor

    if args.data_dir is not None:
        os.environ["DETEVAL_DATA_DIR"] = str(args.data_dir)
    settings = Settings()
    supervisor = Supervisor(
        settings,
        args.host,
        args.port,
        args.workers,
        api_workers=args.api_workers,
        access_log=args.access_log,
        worker_niceness=SERVE_WORKER_NICENESS,
    )
    return supervisor.run()


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from service.api.nodelay import NoDelayH11Protocol

    if args.workers > 1 and "DETEVAL_POOL_PROCESSES" not in os.environ:
        # The API processes share the CPUs: split them rather than oversubscribe.
        os.environ["DETEVAL_POOL_PROCESSES"] = str(max(1, (os.cpu_count() or 2) // args.workers))
    uvicorn.run(
        "service.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=not args.no_access_log,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        http=NoDelayH11Protocol,
    )
    return 0


def _progress_bar(status: dict[str, Any]) -> None:
    width = 30
    done = int(round(status["progress"] * width))
    bar = "#" * done + "-" * (width - done)
    sys.stderr.write(f"\r[{bar}] {status['progress']:4.0%} {status['status']:<9}")
    sys.stderr.flush()


def _status_lines() -> Callable[[dict[str, Any]], None]:
    """Progress for a log (stderr is not a terminal): a line when the status changes,
    with the error being retried, if any."""
    seen: set[tuple[str, str | None]] = set()

    def show(status: dict[str, Any]) -> None:
        detail = (status.get("error") or {}).get("detail")
        if (status["status"], detail) not in seen:
            seen.add((status["status"], detail))
            line = f"evaluation {status['id']}: {status['status']}"
            print(line if detail is None else f"{line} ({detail})", file=sys.stderr, flush=True)

    return show


def _print_report(report: dict[str, Any]) -> None:
    for name, value in report["metrics"].items():
        shown = "   n/a" if value is None else f"{value:6.3f}"
        print(f"{name:>6} {shown}")


def _submit(args: argparse.Namespace) -> int:
    from service.backend.storage import is_valid_id
    from service.client import ApiError, Client

    if not args.key:
        print("deteval submit: no API key; pass --key or set DETEVAL_API_KEY", file=sys.stderr)
        return 2
    gt_path = Path(args.ground_truth)
    if gt_path.is_file():
        dataset_id, inline = None, gt_path
    elif is_valid_id(args.ground_truth):
        dataset_id, inline = args.ground_truth, None
    else:
        print(
            f"deteval submit: {args.ground_truth!r} is neither a file nor a dataset id",
            file=sys.stderr,
        )
        return 2
    try:
        with Client(args.url, args.key) as client:
            job = client.submit(
                args.predictions,
                dataset_id=dataset_id,
                ground_truth=inline,
                name=args.name,
                tags=args.tags,
                metadata=args.metadata,
                iou_type=args.iou_type,
            )
            on_terminal = sys.stderr.isatty()
            show = None if args.json else _progress_bar if on_terminal else _status_lines()
            final = client.wait(job["id"], timeout=args.timeout, on_status=show)
            if show is _progress_bar:
                sys.stderr.write("\n")
            if final["status"] != "succeeded":
                error = final.get("error") or {}
                print(
                    f"deteval submit: evaluation {job['id']} failed: "
                    f"{error.get('detail', 'no reason given')}",
                    file=sys.stderr,
                )
                return 1
            report = client.report(job["id"])
    except (ApiError, OSError, TimeoutError) as exc:
        print(f"deteval submit: {exc}", file=sys.stderr)
        return 1
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(report).decode() + "\n")
    else:
        print(f"evaluation {job['id']}" + (f" ({args.name})" if args.name else ""))
        _print_report(report)
    return 0
