"""``deteval evaluate`` and ``deteval check``, run in-process through ``evaluator.cli.main``.

The 12 summary lines are compared with what pycocotools' ``COCOeval.summarize()`` itself
prints; ``--json`` stats with pycocotools' ``stats`` (live, and for the cocoapi set also
the recorded ``expected-pycocotools.json`` of the shared reference data).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case, run_pycocotools

from deteval.cli import main
from evaluator import DataWarning, evaluate_coco
from evaluator.cli.commands import ProgressBar

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
STAT_NAMES += ["AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
ROW_KEYS = ["category_id", "name", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"]
ROW_KEYS += ["n_gt", "n_pred"]


def _shared_dir() -> Path:
    env = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


COCOAPI = _shared_dir() / "reference-data" / "cocoapi-val2014-fake100"
COCOAPI_GT = COCOAPI / "instances_val2014_100.json"
COCOAPI_DT = COCOAPI / "instances_val2014_fakebbox100_results.json"
needs_cocoapi = pytest.mark.skipif(
    not COCOAPI_GT.exists(), reason=f"shared reference data not found at {COCOAPI}"
)


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """``deteval ARGV`` in-process: exit code, stdout, stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str) -> Any:
    """Parse JSON, refusing NaN and Infinity (which the json module accepts by default)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def pycocotools_printout(gt_path: Path, dt_path: Path, **params: Any) -> tuple[list[str], list]:
    """The lines pycocotools' ``summarize()`` prints, and its ``stats``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        results = json.loads(dt_path.read_text())
        if isinstance(results, dict):
            results = results["annotations"]
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        for name, value in params.items():
            setattr(evaluation.params, name, value)
        evaluation.evaluate()
        evaluation.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        evaluation.summarize()
    return printed.getvalue().splitlines(), evaluation.stats.tolist()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A random COCO case (crowd, ties, empty images, ...) written to two files."""
    gt, predictions = random_case(21, n_images=12, undeclared_class_rate=0.0)
    folder = tmp_path_factory.mktemp("small")
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "dt.json").write_text(json.dumps(predictions))
    return folder / "gt.json", folder / "dt.json"


@pytest.fixture(scope="module")
def small_reference(small: tuple[Path, Path]) -> tuple[list[str], list]:
    return pycocotools_printout(*small)


@pytest.fixture(scope="module")
def cocoapi_reference() -> tuple[list[str], list]:
    return pycocotools_printout(COCOAPI_GT, COCOAPI_DT)


# --- evaluate --------------------------------------------------------------------------------


def _library_report(gt: Path, dt: Path) -> dict[str, Any]:
    """What the library says about the same files, with VOC (for the CLI's extra lines)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(gt, dt, extras=True).to_dict()


def _table_rows(out: str) -> list[list[str]]:
    """Data rows of the per-class table (after the header and the dashes)."""
    lines = out.splitlines()
    start = lines.index("") + 1
    assert lines[start].split()[:4] == ["class", "id", "n_gt", "n_pred"]
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():  # the table ends at the first blank line
            break
        rows.append(line.split())
    return rows


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _check_text_output(out: str, gt: Path, dt: Path, printout: list[str]) -> None:
    lines = out.splitlines()
    assert lines[:12] == printout
    report = _library_report(gt, dt)
    voc = report["voc"]
    all_point, eleven_point = voc["all_point"]["mAP"], voc["11_point"]["mAP"]
    assert lines[12] == f" PASCAL VOC mAP @[ IoU=0.50 | all-point ] = {all_point:0.3f}"
    assert lines[13] == f" PASCAL VOC mAP @[ IoU=0.50 |  11-point ] = {eleven_point:0.3f}"
    assert lines[14].startswith(" best F1 at ")
    rows = _table_rows(out)
    assert len(rows) == len(report["per_class"])
    voc_ap = {row["category_id"]: row["AP"] for row in voc["all_point"]["per_class"]}
    for cells, row in zip(rows, report["per_class"]):
        assert " ".join(cells[:-11]) == (row["name"] or str(row["category_id"]))
        expected = [str(row["category_id"]), str(row["n_gt"]), str(row["n_pred"])]
        expected += [_cell(row[m]) for m in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")]
        expected.append(_cell(voc_ap.get(row["category_id"])))
        assert cells[-11:] == expected


def test_evaluate_prints_pycocotools_summary_and_tables(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], small_reference: Any
) -> None:
    code, out, _ = run(capsys, "evaluate", *small)
    assert code == 0
    _check_text_output(out, *small, small_reference[0])


@needs_cocoapi
def test_evaluate_cocoapi_set(capsys: pytest.CaptureFixture[str], cocoapi_reference: Any) -> None:
    code, out, err = run(capsys, "evaluate", COCOAPI_GT, COCOAPI_DT)
    assert code == 0
    _check_text_output(out, COCOAPI_GT, COCOAPI_DT, cocoapi_reference[0])
    assert err == ""


def _check_json_contract(doc: dict[str, Any]) -> None:
    assert list(doc)[:3] == ["stats", "metrics", "per_class"]
    assert len(doc["stats"]) == 12
    assert list(doc["metrics"]) == STAT_NAMES
    assert list(doc["metrics"].values()) == doc["stats"]
    for row in doc["per_class"]:
        assert set(ROW_KEYS) <= set(row)
        assert isinstance(row["category_id"], int) and isinstance(row["name"], str)
        assert isinstance(row["n_gt"], int) and isinstance(row["n_pred"], int)
        for metric in ROW_KEYS[2:9]:
            assert row[metric] is None or 0.0 <= row[metric] <= 1.0
        if row["n_gt"] == 0:
            assert row["AP"] is None  # -1 in pycocotools, null here


def test_evaluate_json_small(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], small_reference: Any
) -> None:
    code, out, _ = run(capsys, "evaluate", *small, "--json")
    assert code == 0
    assert out.endswith("}\n") and out.count("\n") == 1  # one document, one line
    doc = strict_json(out)
    _check_json_contract(doc)
    assert doc["stats"] == small_reference[1]


@needs_cocoapi
def test_evaluate_json_cocoapi_set(capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((COCOAPI.parent / "expected-pycocotools.json").read_text())
    code, out, err = run(capsys, "evaluate", COCOAPI_GT, COCOAPI_DT, "--json")
    assert code == 0 and err == ""
    doc = strict_json(out)
    _check_json_contract(doc)
    assert doc["stats"] == expected["cocoapi-val2014-fake100"]["stats"]
    by_id = {row["category_id"]: row for row in doc["per_class"]}
    assert len(by_id) == 80  # every declared category, with or without GT
    assert sum(row["AP"] is None for row in doc["per_class"]) == 10  # 70 of 80 have GT


@pytest.mark.parametrize(
    ("flags", "params"),
    [
        (["--class-agnostic"], {"useCats": 0}),
        (["--iou-thresholds", "0.5", "0.75"], {"iouThrs": np.array([0.5, 0.75])}),
        (["--max-dets", "1", "5", "100"], {"maxDets": [1, 5, 100]}),
    ],
    ids=["class-agnostic", "iou-thresholds", "max-dets"],
)
def test_evaluate_options_match_pycocotools(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], flags: list[str], params: dict
) -> None:
    code, out, _ = run(capsys, "evaluate", *small, "--json", "--no-extras", *flags)
    assert code == 0
    lines, stats = pycocotools_printout(*small, **params)
    assert strict_json(out)["stats"] == stats
    code, out, _ = run(capsys, "evaluate", *small, "--no-extras", *flags)
    assert out.splitlines()[:12] == lines


def test_no_extras_leaves_out_voc(capsys: pytest.CaptureFixture[str], small: Any) -> None:
    code, out, _ = run(capsys, "evaluate", *small, "--json", "--no-extras")
    assert code == 0
    doc = strict_json(out)
    assert "voc" not in doc and "confusion_matrix" not in doc
    code, out, _ = run(capsys, "evaluate", *small, "--no-extras")
    assert "PASCAL VOC" not in out


def test_warnings_go_to_stderr_not_into_the_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gt, predictions = random_case(22, id_zero=True, undeclared_class_rate=0.0)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(predictions))
    code, out, err = run(capsys, "evaluate", tmp_path / "gt.json", tmp_path / "dt.json", "--json")
    assert code == 0
    assert strict_json(out)["stats"] == run_pycocotools(gt, predictions).stats.tolist()
    assert "warning: ground_truth.annotations: annotation id 0 found" in err


# --- check -------------------------------------------------------------------------------------


def _floor(value: float, delta: float) -> str:
    return repr(min(max(value + delta, 0.0), 1.0))


@pytest.mark.parametrize(
    ("floors", "expected_code", "expected_lines"),
    [
        ({"AP": -0.01, "AP50": -0.01}, 0, ["ok   AP", "ok   AP50"]),
        ({"AP": 0.0, "ARl": 0.0}, 0, ["ok   AP", "ok   ARl"]),  # equal to the floor passes
        ({"AP": -0.01, "AP75": +0.01}, 1, ["ok   AP", "FAIL AP75"]),
        ({"AR100": +0.01}, 1, ["FAIL AR100"]),
    ],
    ids=["all-met", "met-exactly", "one-below", "below"],
)
def test_check_floors(
    capsys: pytest.CaptureFixture[str],
    small: tuple[Path, Path],
    small_reference: Any,
    floors: dict[str, float],
    expected_code: int,
    expected_lines: list[str],
) -> None:
    stats = dict(zip(STAT_NAMES, small_reference[1]))
    args = [arg for n, d in floors.items() for arg in ("--min", f"{n}={_floor(stats[n], d)}")]
    code, out, _ = run(capsys, "check", *small, "--no-extras", *args)
    assert code == expected_code
    lines = out.splitlines()
    assert [line[: len(e)] for line, e in zip(lines, expected_lines)] == expected_lines
    for line, name in zip(lines, floors):
        assert f" = {stats[name]:.4f} (floor " in line


def test_check_voc_floors(capsys: pytest.CaptureFixture[str], small: tuple[Path, Path]) -> None:
    voc = _library_report(*small)["voc"]
    all_point, eleven = voc["all_point"]["mAP"], voc["11_point"]["mAP"]
    # --no-extras is overridden: the VOC floors need the VOC section.
    floors = ["--min", f"VOC_mAP50={all_point!r}", "--min", f"VOC_mAP50_11pt={eleven!r}"]
    code, out, _ = run(capsys, "check", *small, "--no-extras", *floors)
    assert (code, [line.split()[:2] for line in out.splitlines()]) == (
        0,
        [["ok", "VOC_mAP50"], ["ok", "VOC_mAP50_11pt"]],
    )
    code, out, _ = run(
        capsys, "check", *small, "--min", f"VOC_mAP50={min(all_point + 0.01, 1.0)!r}"
    )
    assert (code, out.split()[:2]) == (1, ["FAIL", "VOC_mAP50"])


def test_check_accepts_the_earlier_voc50_name(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path]
) -> None:
    voc = _library_report(*small)["voc"]["all_point"]["mAP"]
    code, out, _ = run(capsys, "check", *small, "--min", f"VOC50={voc!r}")
    assert (code, out.split()[:2]) == (0, ["ok", "VOC_mAP50"])


def test_check_undefined_metric_fails(capsys: pytest.CaptureFixture[str], small: Any) -> None:
    # Without 0.75 among the IoU thresholds AP75 is undefined: a floor on it cannot pass.
    code, out, _ = run(
        capsys, "check", *small, "--no-extras", "--iou-thresholds", "0.5", "--min", "AP75=0"
    )
    assert code == 1
    assert out.strip() == "FAIL AP75 = undefined (floor 0.0000)"


# --- bad usage and bad input: exit 2, reason on stderr, nothing on stdout -------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min", "AP"], "expected NAME=VALUE"),
        (["--min", "mAP=0.3"], "expected NAME=VALUE with NAME one of AP, AP50"),
        (["--min", "AP=high"], "'AP=high': 'high' is not a number"),
        (["--min", "AP=30"], "'AP=30': the floor must lie in [0, 1]"),
        ([], "give at least one floor"),
        (["--min", "AP=0.1", "--score-threshold", "nan"], "expected a finite number, got 'nan'"),
        (["--min", "AP=0.1", "--iou-thresholds", "1.5"], "iou_thresholds: must lie in [0, 1]"),
        (["--min", "AP=0.1", "--max-dets", "0"], "max_dets: expected positive integers"),
    ],
    ids=[
        "no-value",
        "unknown-metric",
        "not-a-number",
        "percent",
        "no-floor",
        "nan-score",
        "iou-range",
        "max-dets",
    ],
)
def test_check_bad_usage(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], extra: list[str], message: str
) -> None:
    code, out, err = run(capsys, "check", *small, "--no-extras", *extra)
    assert code == 2
    assert out == ""
    assert message in err


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_bad_input_file(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], tmp_path: Path, command: str
) -> None:
    predictions = json.loads(small[1].read_text())
    predictions[3] = copy.deepcopy(predictions[3])
    predictions[3]["bbox"] = predictions[3]["bbox"][:3]
    bad = _write(tmp_path, "bad.json", predictions)
    floors = ["--min", "AP=0.1"] if command == "check" else []
    code, out, err = run(capsys, command, small[0], bad, *floors)
    assert code == 2
    assert out == ""
    assert err == "error: predictions[3].bbox: expected 4 numbers [x, y, width, height], got 3\n"


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("gt", "error: ground_truth: file not found: "),
        ("dt", "error: predictions: file not found: "),
    ],
)
def test_missing_file(
    capsys: pytest.CaptureFixture[str],
    small: tuple[Path, Path],
    tmp_path: Path,
    which: str,
    message: str,
) -> None:
    missing = tmp_path / "missing.json"
    args = (missing, small[1]) if which == "gt" else (small[0], missing)
    code, out, err = run(capsys, "evaluate", *args, "--json")
    assert (code, out) == (2, "")
    assert err == f"{message}{missing}\n"


def test_malformed_ground_truth(
    capsys: pytest.CaptureFixture[str], small: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "gt.json"
    bad.write_text('{"images": [\n  {"id": 1},\n]}')
    code, out, err = run(capsys, "evaluate", bad, small[1])
    assert (code, out) == (2, "")
    assert err == "error: ground_truth: malformed JSON at line 3 column 1: Expecting value\n"


_NAMED_GT = b'{"images": [{"id": 1}], "categories": [{"id": 1, "name": %s}]}'
_ONE_RESULT = b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'
_DEEP = b"[" * 100_000 + b"]" * 100_000

# (id, ground truth bytes, predictions bytes, the whole of stderr) for issue 10, points 4-6
HOSTILE_FILES = [
    (
        "name-too-long",
        _NAMED_GT % (b'"' + b"x" * 50_000 + b'"'),
        _ONE_RESULT,
        "error: ground_truth.categories[0].name: 50000 characters, at most 1000\n",
    ),
    (
        "name-lone-surrogate",
        _NAMED_GT % b'"a\\ud800"',
        _ONE_RESULT,
        "error: ground_truth.categories[0].name: contains a lone surrogate (\\ud800) at "
        "character 1, which is not Unicode text and cannot be written out\n",
    ),
    (
        "gt-deep",
        _DEEP,
        _ONE_RESULT,
        "error: ground_truth: arrays or objects nested too deeply to parse "
        "(a COCO file needs fewer than 10 levels)\n",
    ),
    (
        "predictions-deep",
        _NAMED_GT % b'"cat"',
        _DEEP,
        "error: predictions: arrays or objects nested too deeply to parse "
        "(a COCO file needs fewer than 10 levels)\n",
    ),
]


@pytest.mark.parametrize(
    ("gt", "predictions", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE_FILES],
)
def test_hostile_files_exit_2_with_a_located_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gt: bytes, predictions: bytes, message: str
) -> None:
    (tmp_path / "gt.json").write_bytes(gt)
    (tmp_path / "dt.json").write_bytes(predictions)
    code, out, err = run(capsys, "evaluate", tmp_path / "gt.json", tmp_path / "dt.json")
    assert (code, out) == (2, "")
    assert err == message


def test_compare_refuses_a_deeply_nested_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(_DEEP)
    code, out, err = run(capsys, "compare", deep, deep)
    assert (code, out) == (2, "")
    assert err == f"error: {deep}: arrays or objects nested too deeply to parse\n"


@pytest.mark.parametrize(
    ("argv", "code", "stream", "text"),
    [
        (["--help"], 0, "out", "usage: deteval"),
        (["evaluate", "--help"], 0, "out", "--json"),
        ([], 2, "err", "usage: deteval"),
        (["frobnicate"], 2, "err", "invalid choice: 'frobnicate'"),
        (["evaluate", "only-one.json"], 2, "err", "the following arguments are required"),
    ],
    ids=["help", "evaluate-help", "no-command", "unknown-command", "missing-argument"],
)
def test_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, stream: str, text: str
) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code
    assert text in (out if stream == "out" else err)


# --- progress bar --------------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_bar_only_on_a_terminal() -> None:
    quiet = _Stream(tty=False)
    ProgressBar(quiet)(0.5)
    assert quiet.getvalue() == ""
    loud = _Stream(tty=True)
    bar = ProgressBar(loud, width=10)
    bar(0.5)
    assert loud.getvalue() == "\r evaluating [#####-----]  50%"
    bar(1.0)
    assert loud.getvalue().endswith("\r")  # the line is wiped when done


@pytest.mark.parametrize("extras", [False, True])
def test_progress_is_told_at_every_step_up_to_one(extras: bool) -> None:
    # Each step's report is also when the service's worker hears of a deletion, so a
    # long evaluation is told more than once.
    gt, predictions = random_case(seed=3)
    told: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        evaluate_coco(gt, predictions, extras=extras, progress=told.append)
    assert told == sorted(told) and told[-1] == 1.0
    assert len(told) >= (6 if extras else 5), told


# --- the installed console script -----------------------------------------------------------


def test_installed_console_script(small: tuple[Path, Path], small_reference: Any) -> None:
    script = Path(sys.executable).with_name("deteval")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    done = subprocess.run(
        [str(script), "evaluate", *map(str, small), "--json", "--no-extras"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["stats"] == small_reference[1]
    done = subprocess.run(
        [str(script), "check", *map(str, small), "--no-extras", "--min", "AP=1.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL AP = ")


def test_check_computes_the_other_sections_only_for_a_voc_floor(
    capsys: pytest.CaptureFixture[str], small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import evaluator.cli.commands as commands

    asked: list[bool] = []
    evaluate = commands.evaluate_coco

    def recording(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["extras"])
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(commands, "evaluate_coco", recording)
    assert run(capsys, "check", *small, "--min", "AP=0.0")[0] == 0
    assert run(capsys, "check", *small, "--min", "AP=0.0", "--min", "VOC_mAP50=0.0")[0] == 0
    assert asked == [False, True]
