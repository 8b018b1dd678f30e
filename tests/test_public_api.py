"""The public surface of ``evaluator``: one sorted ``__all__``, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import evaluator

# The library names DESIGN.md promises (contract).
CONTRACT = {"evaluate_coco", "box_iou", "generalized_box_iou"}
# Heavy or service-side packages the evaluator must not pull in.
FORBIDDEN = ("fastapi", "celery", "redis", "torch", "service", "workers")


def test_all_is_sorted_unique_and_importable() -> None:
    names = evaluator.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(evaluator, name) is not None
    namespace: dict[str, object] = {}
    exec("from evaluator import *", namespace)
    assert set(names) <= set(namespace)


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(evaluator).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(evaluator.__all__)


# The whole public surface, pinned: a name removed or renamed breaks users' imports, so it
# fails here first; a name added is a decision, recorded by adding it here.
PUBLIC = {
    "CocoParams",
    "CocoReport",
    "ConfusionMatrix",
    "DataWarning",
    "DetectionArrays",
    "GroundTruth",
    "GroundTruthArrays",
    "InputError",
    "Predictions",
    "ReportJSON",
    "VOCResult",
    "box_area",
    "box_convert",
    "box_iou",
    "compare_reports",
    "crowd_iou",
    "detection_confusion_matrix",
    "evaluate_coco",
    "evaluate_voc",
    "evaluate_voc_coco",
    "generalized_box_iou",
    "load_ground_truth",
    "load_predictions",
    "load_voc_text",
    "read_report",
    "render_html",
    "render_leaderboard_html",
    "report_json_schema",
}
NN_PUBLIC = {
    "Adam",
    "AdamW",
    "AdaptiveAvgPool2d",
    "Add",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchLoader",
    "BatchNorm1d",
    "BatchNorm2d",
    "Concat",
    "Conv2d",
    "CosineAnnealingLR",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "GIoULoss",
    "GlobalAvgPool2d",
    "GradientCheckError",
    "GroupNorm",
    "Identity",
    "InstanceNorm2d",
    "LRScheduler",
    "LSTM",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LinearLR",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "RNN",
    "ReLU",
    "Residual",
    "SGD",
    "Sequential",
    "SequentialLR",
    "Sigmoid",
    "Softmax",
    "StepLR",
    "Tanh",
    "Upsample",
    "WeightNorm",
    "calculate_gain",
    "check_layer_gradients",
    "check_loss_gradients",
    "clip_grad_norm_",
    "clip_grad_value_",
    "cosine_with_warmup",
    "count_parameters",
    "kaiming_normal_",
    "kaiming_uniform_",
    "l1_penalty",
    "l2_penalty",
    "log_softmax",
    "multilabel_predict",
    "numerical_gradient",
    "relative_error",
    "sigmoid",
    "softmax",
    "xavier_normal_",
    "xavier_uniform_",
}


# evaluator.masks: pycocotools.mask's functions (contract names) and the engine's batch.
MASKS_PUBLIC = {
    "RunLengths",
    "area",
    "decode",
    "encode",
    "from_polygons",
    "iou",
    "merge",
    "pairwise_iou",
    "to_bbox",
}


def test_the_public_surface_is_pinned() -> None:
    import evaluator.masks
    import evaluator.nn

    assert set(evaluator.__all__) == PUBLIC
    assert set(evaluator.nn.__all__) == NN_PUBLIC
    assert set(evaluator.masks.__all__) == MASKS_PUBLIC


def test_masks_all_is_sorted_and_documented() -> None:
    import evaluator.masks

    names = evaluator.masks.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    assert [n for n in names if not getattr(evaluator.masks, n).__doc__] == []


def test_contract_names_are_exported() -> None:
    assert set(evaluator.__all__) >= CONTRACT


def test_public_objects_have_docstrings() -> None:
    missing = [name for name in evaluator.__all__ if not getattr(evaluator, name).__doc__]
    assert missing == []


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout))


def test_import_evaluator_stays_light() -> None:
    modules = _modules_after_import("import evaluator")
    assert "evaluator" in modules  # the probe itself works
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert loaded == []


def test_import_evaluator_cli_stays_light() -> None:
    # The service commands are only looked up when the parser is built.
    modules = _modules_after_import("import evaluator.cli.commands")
    assert "evaluator.cli.commands" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert loaded == []
