"""Smoke runs of the evaluator.nn examples, small enough for CI."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_synthetic_ground_truth_boxes_enclose_the_drawn_shapes():
    detector = load_example("nn_detector")
    images, coco = detector.make_dataset(20, seed=5)
    assert images.shape == (20, 1, 64, 64) and images.dtype == np.float32
    assert coco["annotations"], "every image gets at least one shape"
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        assert min(x, y) >= 0 and x + w <= 64 and y + h <= 64
        assert 0 < ann["area"] <= w * h  # the shape's pixels lie inside its box


def test_detector_quick_run_writes_coco_predictions(tmp_path, capsys):
    detector = load_example("nn_detector")
    scores = detector.main(["--quick", "--out", str(tmp_path)])
    predictions = json.loads((tmp_path / "val_predictions.json").read_text())
    assert all(set(p) == {"image_id", "category_id", "bbox", "score"} for p in predictions)
    assert set(scores) == {"model AP", "model AP50", "random baseline AP", "random baseline AP50"}
    assert "random baseline" in capsys.readouterr().out


def test_vanishing_gradient_example_shows_the_effect(tmp_path):
    example = load_example("nn_vanishing_gradients")
    ratios = example.main(["--steps", "3", "--out", str(tmp_path)])
    assert (tmp_path / "nn_vanishing_gradients.png").stat().st_size > 10_000
    # First-layer over last-layer gradient norm at step 1: vanishing for the deep
    # sigmoid net, of order one with ReLU + BatchNorm + residual connections.
    assert ratios["sigmoid"] < 1e-6
    assert 1e-2 < ratios["ReLU + BN + residual"] < 1e2
