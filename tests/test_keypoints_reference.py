"""Keypoint data from other projects (tests/reference-data/keypoints/) against pycocotools.

Each real pair is scored by ``evaluate_coco(..., iou_type="keypoints")``, from the files
and from the parsed JSON, and by pycocotools 2.0.11's ``COCOeval(..., "keypoints")``:
the 10 stats and the whole precision, recall and scores arrays are equal (0.0
difference). Where pycocotools cannot score a file (ground truth without ``area`` or
``iscrowd``), the test checks that it raises, that ours warns, and that ours equals
pycocotools on the file repaired as the warning says. The mmpose files hold ground
truth only; their results are generated here, seeded (see SOURCES.md there).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from cocoeval_reference import assert_same
from keypoint_cases import (
    CROWDPOSE_SIGMAS,
    VARIANTS,
    Doc,
    run_pycocotools_keypoints,
)

from evaluator import DataWarning, evaluate_coco

KEYPOINT_DIR = Path(__file__).parent / "reference-data" / "keypoints"
SOURCES = KEYPOINT_DIR / "SOURCES.md"

# mmpose's sigmas, from configs/_base_/datasets/<name>.py (see SOURCES.md).
MMPOSE_SIGMAS: dict[str, list[float]] = {
    "ochuman": [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062]
    + [0.107, 0.107, 0.087, 0.087, 0.089, 0.089],
    "animalpose": [0.025, 0.025, 0.026, 0.035, 0.035, 0.10, 0.10, 0.10, 0.107, 0.107, 0.107]
    + [0.107, 0.087, 0.087, 0.087, 0.087, 0.089, 0.089, 0.089, 0.089],
    "mhp": [0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062]
    + [0.072, 0.179, 0.179, 0.072, 0.062],
    "aic": [0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144]
    + [0.03909642, 0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081]
    + [0.01291456, 0.01236173],
}

# faster_coco_eval tests/test_keypoints.py: pycocotools' stats, asserted with assertListEqual.
FASTER_COCO_EVAL_PUBLISHED = [
    0.5048844884488449,
    0.7227722772277227,
    0.6336633663366337,
    0.46633663366336636,
    0.7504950495049505,
    0.5181818181818182,
    0.7272727272727273,
    0.6363636363636364,
    0.4666666666666666,
    0.75,
]


def load(relative: str) -> Any:
    return json.loads((KEYPOINT_DIR / relative).read_bytes())


def evaluate_ours(gt: Any, results: Any, **options: Any) -> tuple[Any, list[str]]:
    """``evaluate_coco`` for keypoints, and the messages of the data warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_coco(gt, results, iou_type="keypoints", **options)
    return report, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def pycocotools_raises_on(gt: Doc, results: list[Doc], **options: Any) -> KeyError:
    with pytest.raises(KeyError) as raised:
        run_pycocotools_keypoints(gt, results, **options)
    return raised.value


def repaired(gt: Doc) -> Doc:
    """The ground truth as ours reads it: ``area`` w*h and ``iscrowd`` 0 where missing."""
    gt = copy.deepcopy(gt)
    for annotation in gt["annotations"]:
        annotation.setdefault("area", annotation["bbox"][2] * annotation["bbox"][3])
        annotation.setdefault("iscrowd", 0)
    return gt


def real_pair(gt_name: str, dt_name: str, as_files: bool) -> tuple[Doc, list[Doc], tuple[Any, Any]]:
    """A stored pair parsed (for pycocotools) and as ours is given it: paths, or the same."""
    gt, results = load(gt_name), load(dt_name)
    source = (KEYPOINT_DIR / gt_name, KEYPOINT_DIR / dt_name) if as_files else (gt, results)
    return gt, results, source


AS_FILES = pytest.mark.parametrize("as_files", [True, False], ids=["files", "parsed"])


@AS_FILES
def test_faster_coco_eval_pair_equals_pycocotools_and_its_published_stats(as_files: bool) -> None:
    # 128 results on one image (maxDets 20 cuts them), each with a bbox; a crowd GT.
    folder = "MiXaiLL76-faster_coco_eval"
    gt, results, source = real_pair(
        f"{folder}/gt_dataset.json", f"{folder}/dt_dataset.json", as_files
    )
    report, warned = evaluate_ours(*source)
    assert warned == []
    assert_same(report, run_pycocotools_keypoints(gt, results))
    assert report.stats.tolist() == FASTER_COCO_EVAL_PUBLISHED


@AS_FILES
@pytest.mark.parametrize("name", ["coco", "wholebody"])
def test_xtcocoapi_coco_and_wholebody_pairs_equal_pycocotools(name: str, as_files: bool) -> None:
    # val2017 person GT (some with num_keypoints 0); results without bbox, with extra
    # fields (WholeBody's face, hand and foot keypoints sit beside the 17 body ones).
    prefix = f"jin-s13-xtcocoapi/example_{name}"
    gt, results, source = real_pair(f"{prefix}_val.json", f"{prefix}_preds.json", as_files)
    report, warned = evaluate_ours(*source)
    assert warned == []
    assert_same(report, run_pycocotools_keypoints(gt, results))
    assert 0 < report.stats[0] < 1


@AS_FILES
def test_xtcocoapi_crowdpose_pair_equals_pycocotools_once_area_is_filled(as_files: bool) -> None:
    # CrowdPose ground truth has no `area`: pycocotools' computeOks fails on it; ours
    # warns and uses the box's w*h, which is what pycocotools gives on that repair.
    prefix = "jin-s13-xtcocoapi/example_crowdpose"
    gt, results, source = real_pair(f"{prefix}_val.json", f"{prefix}_preds.json", as_files)
    sigmas = CROWDPOSE_SIGMAS
    assert pycocotools_raises_on(gt, results, oks_sigmas=sigmas).args == ("area",)
    report, warned = evaluate_ours(*source, oks_sigmas=sigmas)
    assert len(warned) == 1 and "no 'area'; width*height is used" in warned[0]
    assert_same(report, run_pycocotools_keypoints(repaired(gt), results, oks_sigmas=sigmas))
    assert 0 < report.stats[0] < 1


# The pairs pycocotools scores as they are (ground truth, results).
SCOREABLE_PAIRS: dict[str, tuple[str, str]] = {
    "faster_coco_eval": (
        "MiXaiLL76-faster_coco_eval/gt_dataset.json",
        "MiXaiLL76-faster_coco_eval/dt_dataset.json",
    ),
    "xtcocoapi-coco": (
        "jin-s13-xtcocoapi/example_coco_val.json",
        "jin-s13-xtcocoapi/example_coco_preds.json",
    ),
    "xtcocoapi-wholebody": (
        "jin-s13-xtcocoapi/example_wholebody_val.json",
        "jin-s13-xtcocoapi/example_wholebody_preds.json",
    ),
}


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "default"])
@pytest.mark.parametrize("pair", list(SCOREABLE_PAIRS))
def test_real_pairs_equal_pycocotools_under_other_parameters(pair: str, variant: str) -> None:
    gt, results, source = real_pair(*SCOREABLE_PAIRS[pair], as_files=True)
    report, _ = evaluate_ours(*source, **VARIANTS[variant])
    assert_same(report, run_pycocotools_keypoints(gt, results, **VARIANTS[variant]))


def generated_results(gt: Doc, seed: int) -> list[Doc]:
    """Results for a ground-truth-only file: per GT, 0 to 2 copies of its pose moved by
    seeded Gaussian noise (std 1, 5 or 20 px; unlabelled keypoints drawn inside its box),
    plus one random pose per image; scores at 2 decimals (ties); no bbox."""
    rng = random.Random(seed)
    results = []
    for annotation in gt["annotations"]:
        x, y, w, h = annotation["bbox"]
        points = [
            (px, py) if v > 0 else (x + rng.uniform(0, w), y + rng.uniform(0, h))
            for px, py, v in zip(*(annotation["keypoints"][i::3] for i in range(3)), strict=True)
        ]
        for _ in range(rng.choice((0, 1, 1, 2))):
            spread = rng.choice((1.0, 5.0, 20.0))
            keypoints = []
            for px, py in points:
                keypoints += [px + rng.gauss(0, spread), py + rng.gauss(0, spread), rng.random()]
            results.append(
                {
                    "image_id": annotation["image_id"],
                    "category_id": annotation["category_id"],
                    "keypoints": keypoints,
                    "score": round(rng.random(), 2),
                }
            )
    n_keypoints = len(gt["annotations"][0]["keypoints"]) // 3
    for image in gt["images"]:
        keypoints = []
        for _ in range(n_keypoints):
            keypoints += [rng.uniform(0, 600), rng.uniform(0, 600), rng.random()]
        category = gt["categories"][0]["id"]
        results.append(
            {"image_id": image["id"], "category_id": category, "keypoints": keypoints, "score": 0.5}
        )
    return results


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", ["ochuman", "animalpose", "mhp"])
def test_mmpose_ground_truth_with_generated_results_equals_pycocotools(
    name: str, seed: int
) -> None:
    gt = load(f"open-mmlab-mmpose/test_{name}.json")
    results = generated_results(gt, seed)
    sigmas = MMPOSE_SIGMAS[name]
    report, warned = evaluate_ours(gt, results, oks_sigmas=sigmas)
    assert warned == []
    assert_same(report, run_pycocotools_keypoints(gt, results, oks_sigmas=sigmas))


@pytest.mark.parametrize("seed", range(5))
def test_mmpose_aic_equals_pycocotools_once_area_and_iscrowd_are_filled(seed: int) -> None:
    # AI Challenger ground truth has neither `area` nor `iscrowd`: pycocotools fails.
    gt = load("open-mmlab-mmpose/test_aic.json")
    results = generated_results(gt, seed)
    sigmas = MMPOSE_SIGMAS["aic"]
    assert pycocotools_raises_on(gt, results, oks_sigmas=sigmas).args[0] in ("area", "iscrowd")
    report, warned = evaluate_ours(gt, results, oks_sigmas=sigmas)
    assert len(warned) == 2
    assert any("no 'area'; width*height is used" in m for m in warned)
    assert any("no 'iscrowd'" in m for m in warned)
    assert_same(report, run_pycocotools_keypoints(repaired(gt), results, oks_sigmas=sigmas))


def test_every_stored_file_is_used() -> None:
    stored = {p.relative_to(KEYPOINT_DIR).as_posix() for p in KEYPOINT_DIR.rglob("*.json")}
    used = {
        "MiXaiLL76-faster_coco_eval/gt_dataset.json",
        "MiXaiLL76-faster_coco_eval/dt_dataset.json",
        "jin-s13-xtcocoapi/example_coco_val.json",
        "jin-s13-xtcocoapi/example_coco_preds.json",
        "jin-s13-xtcocoapi/example_wholebody_val.json",
        "jin-s13-xtcocoapi/example_wholebody_preds.json",
        "jin-s13-xtcocoapi/example_crowdpose_val.json",
        "jin-s13-xtcocoapi/example_crowdpose_preds.json",
        *(f"open-mmlab-mmpose/test_{name}.json" for name in MMPOSE_SIGMAS),
    }
    assert stored == used


def test_every_stored_file_has_the_sha256_its_sources_give() -> None:
    # SOURCES.md rows: | `file` | ... | sha256 |; file names are unique across folders.
    listed = dict(
        re.findall(r"^\| `([^`/]+\.json)` \|.*\| ([0-9a-f]{64}) \|$", SOURCES.read_text(), re.M)
    )
    stored = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in KEYPOINT_DIR.rglob("*.json")
    }
    assert listed == stored
