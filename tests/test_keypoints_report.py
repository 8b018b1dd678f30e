"""A keypoints evaluation through the CLI, the report JSON, the HTML page and compare.

The numbers themselves are checked against pycocotools in the keypoints parity suite;
here, that every surface says it is a keypoints evaluation and shows its 10 stats, and
that pycocotools' own summary lines come out.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deteval.cli import main
from evaluator import compare_reports, evaluate_coco, read_report, render_html

K = 17


def _person(x: float, y: float, size: float, rng: np.random.Generator) -> list[float]:
    """17 keypoints inside a box, some unlabelled (0, 0, 0)."""
    points = []
    for _ in range(K):
        v = int(rng.choice([0, 1, 2], p=[0.2, 0.2, 0.6]))
        px, py = (rng.uniform(x, x + size), rng.uniform(y, y + size)) if v else (0.0, 0.0)
        points += [round(px, 1), round(py, 1), v]
    return points


def _case(seed: int = 3) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    images = [{"id": i} for i in range(1, 9)]
    anns, results = [], []
    for image in images:
        for _ in range(3):
            x, y, size = rng.uniform(0, 400), rng.uniform(0, 300), rng.uniform(20, 200)
            keypoints = _person(x, y, size, rng)
            labelled = sum(1 for v in keypoints[2::3] if v > 0)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image["id"],
                    "category_id": 1,
                    "bbox": [x, y, size, size],
                    "area": size * size * 0.6,
                    "iscrowd": 0,
                    "keypoints": keypoints,
                    "num_keypoints": labelled,
                }
            )
            guess = [v + (rng.normal(0, 4) if i % 3 != 2 else 0) for i, v in enumerate(keypoints)]
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": 1,
                    "keypoints": guess,
                    "score": round(float(rng.random()), 3),
                }
            )
    gt = {"images": images, "categories": [{"id": 1, "name": "person"}], "annotations": anns}
    return gt, results


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("keypoints")
    gt, results = _case()
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "results.json").write_text(json.dumps(results))
    return root / "gt.json", root / "results.json"


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _pycocotools_summary(gt: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        evaluation.summarize()
    return printed.getvalue().splitlines()


def test_evaluate_prints_pycocotools_keypoint_summary(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, out, _ = run(capsys, "evaluate", *files, "--iou-type", "keypoints")
    assert code == 0
    gt, results = _case()
    assert out.splitlines()[:10] == _pycocotools_summary(gt, results)
    assert "voc: not applicable" in out


def test_json_report_is_a_keypoints_report(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, out, _ = run(capsys, "evaluate", *files, "--iou-type", "keypoints", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["iou_type"] == "keypoints"
    assert list(report["metrics"]) == ["AP", "AP50", "AP75", "APm", "APl"] + [
        "AR",
        "AR50",
        "AR75",
        "ARm",
        "ARl",
    ]
    assert len(report["params"]["oks_sigmas"]) == K
    assert report["params"]["max_dets"] == [20]
    assert set(report["not_applicable"]) == {"voc", "confusion_matrix", "errors"}
    assert {"voc", "confusion_matrix", "errors"}.isdisjoint(report)
    assert list(report["per_class"][0])[2:8] == ["AP", "AP50", "AP75", "APm", "APl", "AR"]
    assert read_report(report).iou_type == "keypoints"


def test_check_takes_keypoint_floors_and_refuses_box_ones(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, out, _ = run(capsys, "check", *files, "--iou-type", "keypoints", "--min", "AR=0.01")
    assert code == 0 and out.startswith("ok   AR = ")
    code, _, err = run(capsys, "check", *files, "--iou-type", "keypoints", "--min", "AR100=0.1")
    assert code == 2
    assert "AR100: not a metric of a keypoints evaluation" in err
    code, _, err = run(capsys, "check", *files, "--min", "AR=0.1")  # boxes have no plain AR
    assert code == 2 and "not a metric of a bbox evaluation" in err


def test_keypoint_results_in_a_box_run_get_a_hint(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, _, err = run(capsys, "evaluate", *files)
    assert code == 2
    assert err.strip() == (
        "error: predictions[0].bbox: missing; these are keypoint results: evaluate them "
        "with --iou-type keypoints"
    )


def test_sigmas_of_another_skeleton_must_match_the_keypoints(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, _, err = run(
        capsys, "evaluate", *files, "--iou-type", "keypoints", "--oks-sigmas", "0.1", "0.2"
    )
    assert code == 2
    assert "ground_truth.annotations[0].keypoints: expected 6 numbers" in err


def test_html_page_shows_the_keypoint_stats_and_why_sections_are_absent() -> None:
    gt, results = _case()
    page = render_html(evaluate_coco(gt, results, iou_type="keypoints", extras=True).to_dict())
    assert 'id="metric-AR"' in page and 'id="metric-AR100"' not in page
    assert "Not applicable: the confusion matrix matches boxes" in page
    assert "Not applicable: the TIDE error types are defined on boxes" in page


def test_compare_refuses_a_keypoints_report_against_a_box_report() -> None:
    gt, results = _case()
    keypoints = evaluate_coco(gt, results, iou_type="keypoints").to_dict()
    boxes = evaluate_coco(gt, [{**r, "bbox": [0, 0, 10, 10]} for r in results]).to_dict()
    with pytest.raises(ValueError, match="A is a keypoints evaluation, B a bbox one"):
        compare_reports(keypoints, boxes)
    both = compare_reports(keypoints, keypoints)
    assert list(both["metrics"])[:6] == ["AP", "AP50", "AP75", "APm", "APl", "AR"]
    assert set(both["per_class"][0]) >= {"AP", "AP50", "AR"}


def test_a_category_naming_another_skeleton_asks_for_its_sigmas() -> None:
    from evaluator import InputError

    gt, results = _case()
    gt["categories"][0]["keypoints"] = [f"joint{i}" for i in range(14)]
    with pytest.raises(InputError) as raised:
        evaluate_coco(gt, results, iou_type="keypoints")
    assert raised.value.location == "ground_truth.categories[0].keypoints"
    assert "14 keypoints named, but 17 OKS sigmas given" in raised.value.problem
    gt["categories"][0]["keypoints"] = [f"joint{i}" for i in range(K)]  # as COCO lists them
    assert evaluate_coco(gt, results, iou_type="keypoints").stats.shape == (10,)
