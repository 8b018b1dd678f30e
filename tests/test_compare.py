"""Comparing two reports: deltas, most improved/regressed, refusals, and the CLI command."""

from __future__ import annotations

import argparse
import copy
import json
import warnings
from typing import Any

import pytest
from coco_cases import random_case

from evaluator import DataWarning, evaluate_coco
from evaluator.analyses.compare import compare_reports
from evaluator.cli.report_commands import add_commands
from evaluator.metrics.summary import STAT_NAMES


def _report(gt: dict[str, Any], dets: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return evaluate_coco(copy.deepcopy(gt), copy.deepcopy(dets), **options).to_dict()


@pytest.fixture(scope="module")
def case() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return random_case(3, n_images=10, fp_only_category=None)


def _class_with_gt_and_dets(report: dict[str, Any]) -> int:
    return next(r["category_id"] for r in report["per_class"] if r["AP"] and r["n_pred"])


def test_a_report_against_itself_changes_nothing(case) -> None:
    report = _report(*case, extras=True)
    comparison = compare_reports(report, copy.deepcopy(report))
    json.dumps(comparison, allow_nan=False)
    for name in STAT_NAMES:
        pair = comparison["metrics"][name]
        assert pair["a"] == pair["b"] == report["metrics"][name]
        assert pair["delta"] == 0.0
    assert comparison["metrics"]["VOC_mAP50"]["delta"] == 0.0
    assert comparison["most_improved"] == comparison["most_regressed"] == []
    defined = sum(r["AP"] is not None for r in report["per_class"])
    assert comparison["counts"]["unchanged"] == defined
    assert comparison["counts"]["undefined"] == len(report["per_class"]) - defined
    assert comparison["warnings"] == []


def test_dropping_a_class_shows_as_its_regression(case) -> None:
    gt, dets = case
    a = _report(gt, dets)
    victim = _class_with_gt_and_dets(a)
    b = _report(gt, [d for d in dets if d["category_id"] != victim])
    comparison = compare_reports(a, b)
    for name in STAT_NAMES:
        pair = comparison["metrics"][name]
        if a["metrics"][name] is not None:
            assert pair["delta"] == b["metrics"][name] - a["metrics"][name]
    row = next(r for r in comparison["per_class"] if r["category_id"] == victim)
    ap_a = next(r["AP"] for r in a["per_class"] if r["category_id"] == victim)
    assert row["AP"] == {"a": ap_a, "b": 0.0, "delta": -ap_a}
    assert comparison["most_regressed"][0]["category_id"] == victim
    assert comparison["counts"]["regressed"] == 1
    # Reversed, the same class is the most improved.
    reverse = compare_reports(b, a)
    assert reverse["most_improved"][0] == {
        "category_id": victim,
        "name": row["name"],
        "a": 0.0,
        "b": ap_a,
        "delta": ap_a,
    }


def test_lists_are_ordered_and_cut_to_top(case) -> None:
    gt, dets = case
    a = _report(gt, dets)
    # B keeps only the best-scored half of the detections: many classes lose AP.
    cut = sorted(d["score"] for d in dets)[len(dets) // 2]
    b = _report(gt, [d for d in dets if d["score"] >= cut])
    comparison = compare_reports(a, b, top=2)
    deltas = [r["AP"]["delta"] for r in comparison["per_class"] if r["AP"]["delta"]]
    regressed = sorted(d for d in deltas if d < 0)
    assert len(regressed) > 2
    assert [e["delta"] for e in comparison["most_regressed"]] == regressed[:2]
    assert comparison["counts"]["regressed"] == len(regressed)


def test_undefined_values_give_null_deltas_with_a_reason(case) -> None:
    gt, dets = case
    a = _report(gt, dets)
    b = _report(gt, dets, iou_thresholds=[0.5, 0.6])  # AP75 undefined in B
    comparison = compare_reports(a, b)
    assert comparison["metrics"]["AP75"]["delta"] is None
    assert comparison["metrics"]["AP75"]["undefined_reason"] == "undefined in B"
    assert comparison["metrics"]["VOC_mAP50"] == {
        "a": None,
        "b": None,
        "delta": None,
        "undefined_reason": "undefined in A and B",
    }
    assert any("different parameters (iou_thresholds)" in w for w in comparison["warnings"])


def test_different_category_sets_are_refused(case) -> None:
    gt, dets = case
    a = _report(gt, dets)
    other = copy.deepcopy(gt)
    other["categories"].append({"id": 12345, "name": "extra"})
    b = _report(other, dets)
    with pytest.raises(
        ValueError,
        match=r"different category sets: 0 categories only in A \[\], 1 only in B \[12345\]",
    ):
        compare_reports(a, b)


def test_different_ground_truth_counts_warn(case) -> None:
    gt, dets = case
    a = _report(gt, dets)
    fewer = copy.deepcopy(gt)
    fewer["annotations"] = fewer["annotations"][1:]
    comparison = compare_reports(a, _report(fewer, dets))
    assert any("same dataset" in w for w in comparison["warnings"])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({}, "report A: expected Mapping 'metrics'"),
        ({"metrics": {}, "per_class": "x"}, "report A: expected list 'per_class'"),
        ({"metrics": {}, "per_class": [{"name": "cat"}]}, r"per_class\[0\] has no integer"),
    ],
)
def test_malformed_reports_are_refused(case, broken: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_reports(broken, _report(*case))


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deteval")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_compare_command_prints_tables_and_json(case, tmp_path, capsys) -> None:
    gt, dets = case
    a = _report(gt, dets)
    victim = _class_with_gt_and_dets(a)
    b = _report(gt, [d for d in dets if d["category_id"] != victim])
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))

    assert _run_cli(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    text = capsys.readouterr().out
    assert "Most regressed classes (AP)" in text
    ap = compare_reports(a, b)["metrics"]["AP"]
    assert f"{ap['delta']:+.4f}" in text

    assert _run_cli(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == compare_reports(a, b)


def test_compare_command_reports_unreadable_files(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not a JSON file"):
        _run_cli(["compare", str(tmp_path / "bad.json"), str(tmp_path / "bad.json")])
    with pytest.raises(ValueError, match="missing.json: cannot read it"):
        _run_cli(["compare", str(tmp_path / "missing.json"), str(tmp_path / "bad.json")])
