"""A segm evaluation through the CLI and the report: pycocotools' own summary lines, the
report JSON's type and sections (VOC not applicable), on cocoapi's fake-segm set."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from deteval.cli import main
from evaluator import read_report, render_html


def _shared_dir() -> Path:
    env = os.environ.get("DETEVAL_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


COCOAPI = _shared_dir() / "reference-data" / "cocoapi-val2014-fake100"
GT = COCOAPI / "instances_val2014_100.json"
SEGM = COCOAPI / "instances_val2014_fakesegm100_results.json"
pytestmark = pytest.mark.skipif(
    not GT.exists(), reason=f"shared reference data not found at {COCOAPI}"
)


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _pycocotools_summary() -> list[str]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(GT))
        evaluation = COCOeval(coco, coco.loadRes(str(SEGM)), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        evaluation.summarize()
    return printed.getvalue().splitlines()


def test_evaluate_prints_pycocotools_segm_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", GT, SEGM, "--iou-type", "segm")
    assert code == 0
    assert out.splitlines()[:12] == _pycocotools_summary()
    assert "voc: not applicable (VOC AP is a box metric; this is a segm evaluation)" in out
    assert "Error breakdown (TIDE, IoU 0.5)" in out  # by mask IoU


def test_json_report_is_a_segm_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", GT, SEGM, "--iou-type", "segm", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["iou_type"] == "segm" and len(report["metrics"]) == 12
    assert set(report["not_applicable"]) == {"voc"}
    assert {"confusion_matrix", "errors"} <= set(report)
    assert read_report(report).iou_type == "segm"
    page = render_html(report)
    assert 'id="metric-AR100"' in page and 'id="confusion-table"' in page


def test_check_gates_on_segm_ap(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", GT, SEGM, "--iou-type", "segm", "--min", "AP=0.3")
    assert code == 0 and out.startswith("ok   AP = 0.3195")
    code, _, err = run(capsys, "check", GT, SEGM, "--iou-type", "segm", "--min", "VOC_mAP50=0.3")
    assert code == 2 and "VOC_mAP50: not a metric of a segm evaluation" in err


def test_segm_results_in_a_box_run_get_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", GT, SEGM)
    assert code == 2
    assert "bbox: missing; these are segmentation results: evaluate them with --iou-type segm" in (
        err
    )
