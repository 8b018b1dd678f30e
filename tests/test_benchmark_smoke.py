"""Smoke test of benchmarks/: the synthetic generator and the timing harness, tiny sizes.

Both scripts run as a user runs them (a subprocess from the repository root), so the
test covers their command lines too. It never asserts on timings.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "benchmarks" / "make_synthetic_coco.py"
KEYPOINT_GENERATOR = ROOT / "benchmarks" / "make_synthetic_keypoints.py"
SEGM_GENERATOR = ROOT / "benchmarks" / "make_synthetic_segm.py"
HARNESS = ROOT / "benchmarks" / "bench_coco.py"


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list]:
    out = tmp_path_factory.mktemp("synthetic")
    run_script(GENERATOR, "--images", "60", "--dets-per-image", "25", "--classes", "12",
               "--crowd-fraction", "0.05", "--seed", "3", "--out", out)  # fmt: skip
    gt = json.loads((out / "gt.json").read_text())
    preds = json.loads((out / "preds.json").read_text())
    return gt, preds


@pytest.mark.parametrize(
    "generator", [GENERATOR, KEYPOINT_GENERATOR, SEGM_GENERATOR], ids=["bbox", "keypoints", "segm"]
)
def test_generator_is_deterministic(tmp_path: Path, generator: Path) -> None:
    for name in ("a", "b"):
        run_script(generator, "--images", "20", "--seed", "7", "--out", tmp_path / name)
    for file in ("gt.json", "preds.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_generator_ground_truth_is_well_formed(synthetic: tuple[dict, list]) -> None:
    gt, _ = synthetic
    assert len(gt["images"]) == 60
    image_ids = [img["id"] for img in gt["images"]]
    assert len(set(image_ids)) == 60 and min(image_ids) > 0
    cat_ids = {c["id"] for c in gt["categories"]}
    assert len(cat_ids) == 12 and all(c["name"] for c in gt["categories"])

    anns = gt["annotations"]
    ann_ids = [a["id"] for a in anns]
    assert len(set(ann_ids)) == len(anns) and min(ann_ids) > 0
    assert {a["image_id"] for a in anns} <= set(image_ids)
    assert {a["category_id"] for a in anns} <= cat_ids

    box = np.array([a["bbox"] for a in anns])  # (n, 4) xywh
    area = np.array([a["area"] for a in anns])
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    assert crowd.any() and not crowd.all()
    assert (box[:, 2:] >= 1.0).all()
    # Segment areas are smaller than their box: 0.6-0.9 of it, 0.3-0.6 for crowds
    # (the margin absorbs the rounding of area to 2 decimals).
    fill = area / (box[:, 2] * box[:, 3])
    assert ((fill > 0.59) & (fill < 0.91))[~crowd].all()
    assert ((fill > 0.29) & (fill < 0.61))[crowd].all()
    # Boxes lie inside their images.
    size = {img["id"]: (img["width"], img["height"]) for img in gt["images"]}
    wh = np.array([size[a["image_id"]] for a in anns], dtype=np.float64)
    assert (box[:, :2] >= 0).all()
    assert (box[:, :2] + box[:, 2:] <= wh + 0.01).all()


def test_generator_predictions_are_a_full_results_list(synthetic: tuple[dict, list]) -> None:
    gt, preds = synthetic
    per_image = Counter(p["image_id"] for p in preds)
    assert set(per_image) == {img["id"] for img in gt["images"]}
    assert set(per_image.values()) == {25}
    cat_ids = {c["id"] for c in gt["categories"]}
    assert {p["category_id"] for p in preds} <= cat_ids
    score = np.array([p["score"] for p in preds])
    box = np.array([p["bbox"] for p in preds])
    assert ((score > 0) & (score <= 1)).all()
    np.testing.assert_array_equal(score, np.round(score, 3))
    np.testing.assert_array_equal(box, np.round(box, 2))
    assert np.unique(score).shape[0] < score.shape[0]  # rounded scores tie


def test_keypoint_generator_writes_person_keypoints(tmp_path: Path) -> None:
    run_script(KEYPOINT_GENERATOR, "--images", "150", "--dets-per-image", "8",
               "--crowd-fraction", "0.05", "--seed", "3", "--out", tmp_path)  # fmt: skip
    gt = json.loads((tmp_path / "gt.json").read_text())
    preds = json.loads((tmp_path / "preds.json").read_text())
    (person,) = gt["categories"]
    assert person["id"] == 1 and len(person["keypoints"]) == 17

    anns = gt["annotations"]
    assert len({a["id"] for a in anns}) == len(anns)
    kp = np.array([a["keypoints"] for a in anns]).reshape(len(anns), 17, 3)
    box = np.array([a["bbox"] for a in anns])  # (n, 4) xywh
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    count = np.array([a["num_keypoints"] for a in anns])
    assert kp.dtype == np.int64  # integer coordinates, as COCO's
    assert set(np.unique(kp[:, :, 2])) == {0, 1, 2}
    np.testing.assert_array_equal(count, (kp[:, :, 2] > 0).sum(axis=1))
    assert (kp[kp[:, :, 2] == 0] == 0).all()  # unlabelled: 0, 0, 0
    assert crowd.any() and (count[crowd] == 0).all()
    assert 0.2 < np.mean(count == 0) < 0.7 and (count > 0).any()
    area = np.array([a["area"] for a in anns])
    assert ((area > 0) & (area < box[:, 2] * box[:, 3])).all()
    # Labelled keypoints lie in their box.
    labelled = kp[:, :, 2] > 0
    xy = kp[:, :, :2].astype(np.float64)  # (n, 17, 2)
    inside = (xy >= np.floor(box[:, None, :2])) & (xy <= box[:, None, :2] + box[:, None, 2:])
    assert inside.all(axis=2)[labelled].all()

    per_image = Counter(p["image_id"] for p in preds)
    assert set(per_image) == {img["id"] for img in gt["images"]}
    assert set(per_image.values()) == {8}
    assert all(set(p) == {"image_id", "category_id", "keypoints", "score"} for p in preds)
    result_kp = np.array([p["keypoints"] for p in preds]).reshape(len(preds), 17, 3)
    assert ((result_kp[:, :, 2] > 0) & (result_kp[:, :, 2] <= 1)).all()
    assert not np.array_equal(result_kp[:, :, :2], np.round(result_kp[:, :, :2]))


@pytest.mark.parametrize("result_bbox", [True, False], ids=["bbox", "no-bbox"])
def test_segm_generator_writes_polygons_and_rle(tmp_path: Path, result_bbox: bool) -> None:
    from evaluator.masks import RunLengths

    run_script(SEGM_GENERATOR, "--images", "40", "--dets-per-image", "12", "--crowd-fraction",
               "0.1", "--seed", "3", "--out", tmp_path,
               *(() if result_bbox else ("--no-bbox",)))  # fmt: skip
    gt = json.loads((tmp_path / "gt.json").read_text())
    preds = json.loads((tmp_path / "preds.json").read_text())
    size = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    anns = gt["annotations"]
    crowd = [a for a in anns if a["iscrowd"]]
    solo = [a for a in anns if not a["iscrowd"]]
    assert crowd and solo
    for ann in solo:  # COCO polygons: 1-3 per object, 8-40 vertices, 2 decimals
        assert 1 <= len(ann["segmentation"]) <= 3
        for polygon in ann["segmentation"]:
            assert len(polygon) % 2 == 0 and 16 <= len(polygon) <= 80
            np.testing.assert_array_equal(polygon, np.round(polygon, 2))
        xy = np.concatenate([np.reshape(p, (-1, 2)) for p in ann["segmentation"]])
        extent = [*xy.min(axis=0), *(xy.max(axis=0) - xy.min(axis=0))]
        np.testing.assert_allclose(ann["bbox"], extent, atol=0.006)
    for ann in crowd:  # COCO's crowd regions: RLE with uncompressed counts
        h, w = size[ann["image_id"]]
        assert ann["segmentation"]["size"] == [h, w]
        assert sum(ann["segmentation"]["counts"]) == h * w
    heights, widths = np.array([size[a["image_id"]] for a in anns]).T
    masks = RunLengths.from_coco([a["segmentation"] for a in anns], heights, widths)
    area = np.array([a["area"] for a in anns])
    is_crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    np.testing.assert_array_equal(area[is_crowd], masks.area()[is_crowd])
    # A polygon's area is close to its mask's pixels (not equal: rasterising rounds).
    ratio = masks.area()[~is_crowd] / area[~is_crowd]
    assert 0.9 < np.median(ratio) < 1.1

    per_image = Counter(p["image_id"] for p in preds)
    assert set(per_image) == set(size) and set(per_image.values()) == {12}
    keys = {"image_id", "category_id", "score", "segmentation"}
    keys |= {"bbox"} if result_bbox else set()
    assert all(set(p) == keys for p in preds)
    for pred in preds:  # compressed RLE at the image's size
        assert pred["segmentation"]["size"] == list(size[pred["image_id"]])
        assert isinstance(pred["segmentation"]["counts"], str)
    mask_area = RunLengths.from_coco([p["segmentation"] for p in preds]).area()
    assert (mask_area > 0).mean() > 0.9


def test_harness_tools_agree(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    proc = run_script(HARNESS, "--images", "40", "--dets-per-image", "30", "--repeat", "2",
                      "--sections", "--cache-dir", tmp_path / "cache",
                      "--json", report)  # fmt: skip
    assert "| tool |" in proc.stdout and "wall / fastest native" in proc.stdout
    assert "Cold start" in proc.stdout and "section: errors (TIDE)" in proc.stdout
    payload = json.loads(report.read_text())
    (only_set,) = payload["sets"]
    results = {r["tool"]: r for r in only_set["results"]}
    assert set(results) == {"pycocotools", "faster-coco-eval", "hotcoco",
                            "ultrafast-pycocotools", "vernier", "ours", "ours-cli"}  # fmt: skip
    for res in results.values():
        assert res["status"] == "ok", res
        assert len(res["stats"]) == 12 and res["peak_rss_mb"] > 0
        assert res["reference"] == "pycocotools"
        # pycocotools runs once (it is slow); every other tool once per round.
        assert len(res["all_seconds"]) == (1 if res["tool"] == "pycocotools" else 2)
    reference = np.array(results["pycocotools"]["stats"])
    assert 0.0 < reference[0] < 1.0  # a meaningful set: neither empty nor perfect
    # faster-coco-eval's C++ sums can differ from pycocotools in the last bit.
    np.testing.assert_allclose(results["faster-coco-eval"]["stats"], reference, rtol=0, atol=1e-12)
    for tool in ("hotcoco", "ultrafast-pycocotools", "vernier", "ours", "ours-cli"):
        assert results[tool]["identical"] is True, tool
        np.testing.assert_array_equal(results[tool]["stats"], reference)
    cold = payload["cold_start"]
    assert cold["status"] == "ok" and len(cold["all_seconds"]) == 2
    (steps,) = payload["sections"].values()
    assert len(steps["runs"]) == 2
    assert steps["median"]["total"] >= steps["median"]["section: errors (TIDE)"] > 0


def test_harness_keypoint_tools_agree(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    proc = run_script(HARNESS, "--iou-type", "keypoints", "--images", "60",
                      "--cache-dir", tmp_path / "cache", "--json", report)  # fmt: skip
    assert "iou type: keypoints" in proc.stdout and "Cold start" in proc.stdout
    payload = json.loads(report.read_text())
    assert payload["iou_type"] == "keypoints"
    (only_set,) = payload["sets"]
    assert "keypoints-v" in only_set["gt"]
    results = {r["tool"]: r for r in only_set["results"]}
    assert set(results) == {"pycocotools", "faster-coco-eval", "hotcoco",
                            "ultrafast-pycocotools", "vernier", "ours", "ours-cli"}  # fmt: skip
    reference = np.array(results["pycocotools"]["stats"])
    assert reference.shape == (10,) and 0.0 < reference[0] < 1.0
    for tool, res in results.items():
        assert res["status"] == "ok", res
        assert res["reference"] == "pycocotools" and res["identical"] is True, tool
        np.testing.assert_array_equal(res["stats"], reference)
    assert payload["cold_start"]["status"] == "ok"


@pytest.mark.parametrize("result_bbox", [True, False], ids=["bbox", "no-bbox"])
def test_harness_segm_tools_agree(tmp_path: Path, result_bbox: bool) -> None:
    report = tmp_path / "bench.json"
    proc = run_script(HARNESS, "--iou-type", "segm", "--images", "30", "--dets-per-image", "20",
                      *(() if result_bbox else ("--no-bbox",)), "--no-cold-start",
                      "--cache-dir", tmp_path / "cache", "--json", report)  # fmt: skip
    assert "iou type: segm" in proc.stdout
    payload = json.loads(report.read_text())
    (only_set,) = payload["sets"]
    assert "segm-v" in only_set["gt"] and only_set["gt"].endswith("-nobbox/gt.json") != result_bbox
    results = {r["tool"]: r for r in only_set["results"]}
    reference = np.array(results["pycocotools"]["stats"])
    assert reference.shape == (12,) and 0.0 < reference[0] < 1.0
    # faster-coco-eval's C++ sums can differ from pycocotools in the last bit.
    np.testing.assert_allclose(results["faster-coco-eval"]["stats"], reference, rtol=0, atol=1e-12)
    exact = ["hotcoco", "ultrafast-pycocotools", "ours", "ours-cli"]
    if result_bbox:
        exact.append("vernier")
    else:  # vernier refuses mask results without a bbox
        assert results["vernier"]["status"] == "not supported"
        assert "results without a bbox" in results["vernier"]["reason"]
        assert "| vernier 0.5.4 | 0 | not supported |" in proc.stdout
    for tool in exact:
        assert results[tool]["status"] == "ok", results[tool]
        assert results[tool]["identical"] is True, tool
        np.testing.assert_array_equal(results[tool]["stats"], reference)


def test_harness_refuses_no_bbox_outside_segm() -> None:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--no-bbox"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "--no-bbox: only segm results can go without a bbox" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "5k"], "unknown keypoints size ['5k']; choose from kp5k"),
        (["--classes", "3"], "--classes: the keypoints sets have one class"),
        (["--sections"], "--sections: the report steps are timed on bbox sets only"),
    ],
)
def test_harness_refuses_bbox_options_for_keypoints(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--iou-type", "keypoints", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr


def test_harness_skips_pycocotools_on_large_sets(tmp_path: Path) -> None:
    # The threshold lowered to a tiny set: pycocotools is skipped and the stats are
    # compared with the next reference.
    report = tmp_path / "bench.json"
    proc = run_script(HARNESS, "--images", "12", "--dets-per-image", "10",
                      "--pycocotools-max-images", "10", "--tools", "pycocotools,vernier,ours",
                      "--no-cold-start", "--cache-dir", tmp_path / "cache",
                      "--json", report)  # fmt: skip
    assert "not run above 10 images" in proc.stdout
    results = {r["tool"]: r for r in json.loads(report.read_text())["sets"][0]["results"]}
    assert results["pycocotools"]["status"] == "skipped"
    assert results["ours"]["reference"] == "vernier" and results["ours"]["identical"] is True


def test_section_growth_over_two_sets(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_sections import format_growth, measure_sections
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    sets = []
    for images in (10, 20):
        out = tmp_path / str(images)
        run_script(GENERATOR, "--images", images, "--dets-per-image", "10", "--out", out)
        sets.append((f"{images} images", out / "gt.json", out / "preds.json"))
    sections = measure_sections(sets, repeat=1, timeout=120)
    table = format_growth(sections)
    assert "| step (in-process) | 10 images s | 20 images s | growth |" in table
    # Every section has a growth ratio; whether it is flagged over the target depends on
    # the machine's timing, so both forms are accepted.
    growth = re.compile(r"\| \d+\.\d\dx( \(over 4\.5x\))? \|$")
    sections_rows = [line for line in table.splitlines() if line.startswith("| section")]
    assert len(sections_rows) == 5
    assert all(growth.search(line) for line in sections_rows), sections_rows


def test_harness_rejects_half_given_inputs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--gt", str(tmp_path / "gt.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "give both --gt and --preds" in proc.stderr
