"""The report JSON schema: one name per metric, one ``undefined_reason``, refused drift."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from coco_cases import random_case

from evaluator import evaluate_coco, read_report, report_json_schema
from evaluator.metrics.summary import KEYPOINT_STAT_NAMES, STAT_NAMES
from evaluator.metrics.voc import VOC_METRICS
from evaluator.report.schema import Metrics, ReportJSON

pytestmark = pytest.mark.filterwarnings("ignore::evaluator.errors.DataWarning")


@pytest.fixture(scope="module")
def full_report() -> dict[str, Any]:
    gt, predictions = random_case(seed=7)
    return evaluate_coco(gt, predictions, extras=True).to_dict()


def test_the_metric_names_are_the_stat_names() -> None:
    assert set(Metrics.__struct_fields__) == set(STAT_NAMES) | set(KEYPOINT_STAT_NAMES)
    assert set(VOC_METRICS.values()) == {"all_point", "11_point"}


def test_metrics_must_be_the_names_of_the_report_s_iou_type(full_report: dict[str, Any]) -> None:
    report = copy.deepcopy(full_report)
    report["metrics"]["AR"] = 0.5  # a keypoint name in a bbox report
    with pytest.raises(ValueError, match="metrics: expected the bbox stats"):
        read_report(report)
    del report["metrics"]["AR"], report["metrics"]["APs"]
    with pytest.raises(ValueError, match="metrics: expected the bbox stats"):
        read_report(report)


def test_a_full_report_is_typed_by_the_schema(full_report: dict[str, Any]) -> None:
    typed = read_report(full_report)
    assert full_report["metrics"]["AP"] == typed.metrics.AP
    assert typed.voc is not None and typed.voc.eleven_point is not None
    assert full_report["voc"]["11_point"]["mAP"] == typed.voc.eleven_point.mAP
    assert msgspec.to_builtins(typed) == msgspec.to_builtins(
        read_report(msgspec.json.encode(full_report))
    )


@pytest.mark.parametrize(
    ("path", "key", "where"),
    [
        (("voc", "all_point", "per_class", 0), "reason", "$.voc.all_point.per_class[0]"),
        (("voc", "all_point"), "mAP_reason", "$.voc.all_point"),
        (("errors", "per_class", 0), "missed_reason", "$.errors.per_class[0]"),
        (("metrics",), "VOC50", "$.metrics"),
    ],
)
def test_an_unknown_field_is_refused_with_its_location(
    full_report: dict[str, Any], path: tuple[Any, ...], key: str, where: str
) -> None:
    report = copy.deepcopy(full_report)
    node = report
    for step in path:
        node = node[step]
    node[key] = None
    expected = re.escape(f"unknown field `{key}` - at `{where}`")
    with pytest.raises(ValueError, match=expected):
        read_report(report)


def test_a_wrong_type_is_refused_with_its_location(full_report: dict[str, Any]) -> None:
    report = copy.deepcopy(full_report)
    report["per_class"][3]["n_gt"] = "many"
    with pytest.raises(
        ValueError, match=r"Expected `int`, got `str` - at `\$.per_class\[3\].n_gt`"
    ):
        read_report(report)


def test_sections_left_out_are_absent_not_null() -> None:
    gt, predictions = random_case(seed=8)
    report = evaluate_coco(gt, predictions).to_dict()
    typed = read_report(report)
    missing = [name for name in ("voc", "errors", "confusion_matrix") if name not in report]
    assert all(getattr(typed, name) is None for name in missing)


def test_the_json_schema_names_every_section(tmp_path: Path) -> None:
    schema = report_json_schema()
    root = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    assert set(root["properties"]) == set(ReportJSON.__struct_fields__)
    assert set(root["required"]) == {"stats", "metrics", "per_class", "params"}
    voc = schema["$defs"]["VOC"]["properties"]
    assert set(voc) == {"all_point", "11_point"}


@pytest.mark.parametrize("bounds", [(0.0, float("inf")), (0.0, float("nan")), (5.0, 1.0)])
def test_an_area_range_that_json_cannot_hold_is_refused(bounds: tuple[float, float]) -> None:
    # inf and NaN would be written as null, and the report could not be read back.
    gt, predictions = random_case(seed=9)
    with pytest.raises(ValueError, match="area_ranges: expected label -> \\(low, high\\), finite"):
        evaluate_coco(gt, predictions, area_ranges={"all": bounds})
