"""A segm results file read in parts (:mod:`evaluator.input.mask_results`) loads as the
whole document does: the same columns however the parts fall, whatever the spacing
between results; text that looks like a cut inside a string has the file scanned again
as one part; a bad mask in a later part is located by its index in the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from segm_cases import random_segm_case

from evaluator import InputError
from evaluator.input import mask_results
from evaluator.input.columns import Predictions
from evaluator.input.loading import load_evaluation_inputs, load_ground_truth, load_predictions
from evaluator.input.result_scan import map_file
from evaluator.masks.compressed import CompressedMasks, MaskBatch
from evaluator.threads import threads


def _load(gt: Any, results: Any) -> Predictions:
    truth = load_ground_truth(gt, iou_type="segm")
    return load_predictions(results, truth, iou_type="segm")


def _same(ours: Predictions, expected: Predictions) -> None:
    for name in ("image_ids", "category_ids", "boxes", "scores", "areas"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(expected, name), err_msg=name)
    assert ours.masks is not None and expected.masks is not None
    np.testing.assert_array_equal(ours.masks.area(), expected.masks.area())
    np.testing.assert_array_equal(ours.masks.to_bbox(), expected.masks.to_bbox())
    assert _strings(ours.masks) == _strings(expected.masks)


def _strings(masks: MaskBatch) -> list[bytes]:
    """Each mask's compressed counts."""
    if isinstance(masks, CompressedMasks):
        blob, starts = bytes(masks.blob), masks.starts.tolist()
        return [blob[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    return [obj["counts"] for obj in masks.to_coco()]  # type: ignore[misc]


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of a few results each, the first ones (one per worker) a few times longer."""
    monkeypatch.setattr(mask_results, "PART_BYTES", 700)
    monkeypatch.setattr(mask_results, "FIRST_PART_BYTES", 2100)


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parts_load_as_the_whole_document(seed: int, indent: int | None, tmp_path: Path) -> None:
    gt, results = random_segm_case(seed)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results, indent=indent))
    _same(_load(gt, path), _load(gt, results))
    _same(_load(gt, path.read_bytes()), _load(gt, results))


@pytest.mark.usefixtures("small_parts")
def test_a_cut_inside_a_string_has_the_file_scanned_as_one_part(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gt, results = random_segm_case(0)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    for i, result in enumerate(results):
        result["note"] = "a}, {b" * (i % 7) + "},{" * 30
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    scans: list[int] = []
    scan_parts = mask_results._scan_parts

    def counted(data: Any, cuts: list[tuple[int, int]]) -> Any:
        scanned = scan_parts(data, cuts)
        scans.append(len(cuts) if scanned is not None else -len(cuts))
        return scanned

    monkeypatch.setattr(mask_results, "_scan_parts", counted)
    _same(_load(gt, path), _load(gt, results))
    assert scans[0] < -1 and scans[1:] == [1]  # parts refused, then the whole scanned


@pytest.mark.usefixtures("small_parts")
def test_a_bad_mask_in_a_later_part_is_located_in_the_file(tmp_path: Path) -> None:
    gt, results = random_segm_case(1)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    bad = len(results) - 2
    assert len(json.dumps(results[:bad])) > threads() * mask_results.FIRST_PART_BYTES
    results[bad]["segmentation"]["counts"] += "1"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    with pytest.raises(InputError) as error:
        _load(gt, path)
    assert error.value.location == f"predictions[{bad}].segmentation.counts"


@pytest.mark.usefixtures("small_parts")
def test_columns_grow_past_their_estimate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Room for one result per 10 kB of file: the gathered columns grow as parts come."""
    monkeypatch.setattr(mask_results, "_MIN_RESULT_BYTES", 10_000)
    gt, results = random_segm_case(2)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    _same(_load(gt, path), _load(gt, results))


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("form", ["path", "bytes"])
def test_inputs_loaded_together_as_one_after_the_other(form: str, tmp_path: Path) -> None:
    """The results scanned while the ground truth loads load as they do after it; a
    ground truth that fails is reported first."""
    gt, results = random_segm_case(3)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    src = path if form == "path" else path.read_bytes()
    truth, preds = load_evaluation_inputs(gt, src, iou_type="segm")
    _same(preds, _load(gt, results))
    assert truth.masks is not None
    np.testing.assert_array_equal(
        truth.masks.counts,
        load_ground_truth(gt, iou_type="segm").masks.counts,  # type: ignore[union-attr]
    )
    path.write_text(json.dumps(results)[:-30])  # malformed results
    bad_gt = {**gt, "images": [{"id": 1}]}
    with pytest.raises(InputError) as error:
        load_evaluation_inputs(bad_gt, path, iou_type="segm")
    assert error.value.location.startswith("ground_truth")


@pytest.mark.usefixtures("small_parts")
def test_parts_gather_the_same_strings_run_after_run(tmp_path: Path) -> None:
    """Many parts per worker, each block reused by later parts of other sizes: the
    strings come out in file order every time (the blocks are handed out as parts are
    gathered, never read after another part has taken them)."""
    _, results = random_segm_case(1)
    results = [r for r in results if isinstance(r["segmentation"], dict)]
    results = [r for r in results if isinstance(r["segmentation"]["counts"], str)]
    want = [r["segmentation"]["counts"].encode() for r in results]
    text = json.dumps(results, indent=2).encode()
    path = tmp_path / "results.json"
    path.write_bytes(text)
    for _ in range(30):
        for src in (text, path):
            data = src if isinstance(src, bytes) else map_file(src)
            assert data is not None
            scanned = mask_results.scan_mask_file(data)
            assert scanned is not None
            blob, starts = bytes(scanned.blob), scanned.starts.tolist()
            assert [blob[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)] == want
