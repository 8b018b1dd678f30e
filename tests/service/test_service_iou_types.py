"""Masks and keypoints through the real service: ``iou_type`` on an evaluation.

A dataset with polygons and keypoints is registered once; segm and keypoints results are
scored by real workers, and the stored report must be the library's report of the same
files. A dataset without masks is refused for a segm evaluation where the first mask is
missing; an unknown type is a located 422.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from service_stack import KEYS, Stack

from evaluator import evaluate_coco, masks

HEIGHT, WIDTH, K = 48, 64, 17
BOXES = [(1, [4, 4, 20, 16]), (1, [30, 10, 24, 30]), (2, [10, 8, 40, 30])]


def _keypoints(box: list[int], rng: np.random.Generator, jitter: float = 0.0) -> list[float]:
    x, y, w, h = box
    points = []
    for _ in range(K):
        px, py = rng.uniform(x, x + w), rng.uniform(y, y + h)
        points += [round(px + rng.normal(0, jitter), 2), round(py + rng.normal(0, jitter), 2), 2]
    return points


def _polygon(box: list[int]) -> list[float]:
    x, y, w, h = box  # a diamond inside the box
    return [x + w / 2, y, x + w, y + h / 2, x + w / 2, y + h, x, y + h / 2]


def _dataset() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Ground truth with masks and keypoints, and segm and keypoint results on it."""
    rng = np.random.default_rng(0)
    images = [{"id": i, "height": HEIGHT, "width": WIDTH} for i in (1, 2)]
    anns, segm, keypoints = [], [], []
    for n, (image, box) in enumerate(BOXES, start=1):
        truth = _keypoints(box, rng)
        anns.append(
            {
                "id": n,
                "image_id": image,
                "category_id": 1,
                "bbox": box,
                "area": box[2] * box[3] / 2,
                "iscrowd": 0,
                "segmentation": [_polygon(box)],
                "keypoints": truth,
                "num_keypoints": K,
            }
        )
        shifted = [box[0] + 2, box[1] + 1, box[2], box[3]]
        rle = masks.from_polygons([_polygon(shifted)], HEIGHT, WIDTH)[0]
        mask = {"size": rle["size"], "counts": rle["counts"].decode()}
        score = round(0.9 - 0.2 * n, 2)
        segm.append({"image_id": image, "category_id": 1, "segmentation": mask, "score": score})
        guess = [v + (rng.normal(0, 2) if i % 3 != 2 else 0) for i, v in enumerate(truth)]
        keypoints.append({"image_id": image, "category_id": 1, "keypoints": guess, "score": score})
    gt = {"images": images, "categories": [{"id": 1, "name": "person"}], "annotations": anns}
    return gt, segm, keypoints


def _register(http: httpx.Client, gt: dict[str, Any]) -> str:
    response = http.post(
        "/datasets", content=json.dumps(gt), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def _submit(
    http: httpx.Client, dataset_id: str, results: list[dict[str, Any]], iou_type: str
) -> httpx.Response:
    return http.post(
        "/evaluations",
        data={"dataset_id": dataset_id, "iou_type": iou_type},
        files={"predictions": ("results.json", json.dumps(results).encode())},
    )


def test_segm_and_keypoints_evaluations_report_what_the_library_reports(stack: Stack) -> None:
    gt, segm, keypoints = _dataset()
    with stack.http() as http:
        dataset_id = _register(http, gt)
        for iou_type, results in (("segm", segm), ("keypoints", keypoints)):
            submitted = _submit(http, dataset_id, results, iou_type)
            assert submitted.status_code == 202, submitted.text
            assert submitted.json()["iou_type"] == iou_type
            final = stack.wait_finished(http, submitted.json()["id"])
            assert final["status"] == "succeeded" and final["iou_type"] == iou_type, final
            report = http.get(f"/evaluations/{final['id']}/report").json()
            library = evaluate_coco(gt, results, iou_type=iou_type)  # type: ignore[arg-type]
            assert report["iou_type"] == iou_type
            assert report["stats"] == [None if v == -1 else v for v in library.stats.tolist()]
            assert 0 < report["metrics"]["AP50"] <= 1
            page = http.get(f"/evaluations/{final['id']}/report.html")
            assert page.status_code == 200
            recall = "AR" if iou_type == "keypoints" else "AR100"
            assert f'id="metric-{recall}"' in page.text


def test_a_dataset_without_masks_is_refused_for_segm_where_the_first_is_missing(
    stack: Stack,
) -> None:
    gt, segm, _ = _dataset()
    for annotation in gt["annotations"]:
        del annotation["segmentation"]
    with stack.http() as http:
        dataset_id = _register(http, gt)  # boxes only: a fine bbox dataset
        refused = _submit(http, dataset_id, segm, "segm")
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["location"] == "ground_truth.annotations[0].segmentation"
        assert "missing" in problem["detail"]
        unknown = _submit(http, dataset_id, segm, "masks")
        assert unknown.status_code == 422
        assert unknown.json()["location"] == "iou_type"
        assert "expected one of bbox, segm, keypoints" in unknown.json()["detail"]


def test_deteval_submit_takes_the_iou_type(stack: Stack, tmp_path: Path) -> None:
    gt, _, keypoints = _dataset()
    gt_path, results_path = tmp_path / "gt.json", tmp_path / "kp.json"
    gt_path.write_text(json.dumps(gt))
    results_path.write_text(json.dumps(keypoints))
    argv = [sys.executable, "-m", "deteval", "submit", str(gt_path), str(results_path)]
    argv += ["--url", stack.url, "--key", KEYS["alice"], "--iou-type", "keypoints", "--json"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["iou_type"] == "keypoints"
    assert list(report["metrics"]) == ["AP", "AP50", "AP75", "APm", "APl"] + [
        "AR",
        "AR50",
        "AR75",
        "ARm",
        "ARl",
    ]
    assert not re.search(r"Traceback", run.stderr)
