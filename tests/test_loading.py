"""Input validation: a table of bad inputs, each with its exact location and message.

Every bad document is fed through each way a user can hand it over: the parsed object
(dict or list; the slow, walking path), JSON bytes and a file path (the fast msgspec path,
which falls back to the walker to explain a failure). Each must raise ``InputError``
with the same location and a message that says what is wrong. Then the warnings for
valid-but-suspicious input, and the equivalent forms of predictions.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_cases import random_case, run_pycocotools
from json_edits import DELETE, edited

from evaluator import (
    DataWarning,
    InputError,
    evaluate_coco,
    load_ground_truth,
    load_predictions,
)
from evaluator.input.limits import MAX_CATEGORIES, MAX_NAME_CHARS

GT: dict[str, Any] = {
    "images": [{"id": 1}, {"id": 2}, {"id": 3}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [10, 10, 20, 30],
            "area": 600,
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 2,
            "category_id": 2,
            "bbox": [5, 5, 40, 40],
            "area": 1600,
            "iscrowd": 0,
        },
        {
            "id": 3,
            "image_id": 3,
            "category_id": 1,
            "bbox": [0, 0, 200, 150],
            "area": 30000,
            "iscrowd": 0,
        },
    ],
}
PREDICTIONS: list[dict[str, Any]] = [
    {"image_id": 1, "category_id": 1, "bbox": [11, 10, 20, 30], "score": 0.9},
    {"image_id": 2, "category_id": 2, "bbox": [5, 6, 40, 40], "score": 0.8},
    {"image_id": 3, "category_id": 2, "bbox": [0, 0, 100, 100], "score": 0.3},
]

NAN, INF = float("nan"), float("inf")


def gt_with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    return edited(GT, path, value)


def preds_with(path: tuple[Any, ...], value: Any) -> list[dict[str, Any]]:
    return edited(PREDICTIONS, path, value)


@dataclass(frozen=True)
class Bad:
    """One bad input and what the loader must say about it.

    ``doc`` is a parsed document (fed as an object, as JSON bytes and as a file);
    ``raw`` is bytes that only exist as bytes (fed as bytes and as a file).
    """

    id: str
    target: str  # "gt" or "predictions"
    location: str
    fragment: str
    doc: Any = None
    raw: bytes | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def forms(self) -> tuple[str, ...]:
        return ("bytes", "file") if self.raw is not None else ("object", "bytes", "file")


_ANN = "ground_truth.annotations[1]"

BAD_INPUTS: tuple[Bad, ...] = (
    # --- ground truth: document level
    Bad(
        "gt-malformed-json",
        "gt",
        "ground_truth",
        "malformed JSON at line 3 column 1: Expecting value",
        raw=b'{"images": [\n  {"id": 1},\n]}',
    ),
    Bad(
        "gt-truncated-json",
        "gt",
        "ground_truth",
        "malformed JSON at line 1 column 32",
        raw=b'{"images": [], "categories": []',
    ),
    Bad("gt-empty-file", "gt", "ground_truth", "malformed JSON at line 1 column 1", raw=b""),
    Bad(
        "gt-not-utf8",
        "gt",
        "ground_truth",
        "not UTF-8 text (invalid start byte at byte 12)",
        raw=b'{"images": [\xff]}',
    ),
    Bad(
        "gt-not-utf8-in-string",
        "gt",
        "ground_truth",
        "not UTF-8 text",
        raw=b'{"images": [], "categories": [{"id": 1, "name": "caf\xe9"}]}',
    ),
    Bad(
        "gt-top-level-string", "gt", "ground_truth", "expected an object, got a string", raw=b'"x"'
    ),
    Bad(
        "gt-top-level-list",
        "gt",
        "ground_truth",
        "expected an object, got an array",
        doc=[GT],
    ),
    Bad("gt-missing-images", "gt", "ground_truth.images", "missing", gt_with(("images",), DELETE)),
    Bad(
        "gt-missing-categories",
        "gt",
        "ground_truth.categories",
        "missing",
        gt_with(("categories",), DELETE),
    ),
    Bad(
        "gt-images-not-a-list",
        "gt",
        "ground_truth.images",
        "expected an array, got an object",
        gt_with(("images",), {"id": 1}),
    ),
    # --- ground truth: field types
    Bad(
        "gt-string-image-id-among-integers",
        "gt",
        "ground_truth.images[1].id",
        "expected an integer, got a string ('2')",
        gt_with(("images", 1, "id"), "2"),
    ),
    Bad(
        "gt-non-integral-image-id",
        "gt",
        "ground_truth.images[1].id",
        "expected an integer or a string, got a number (2.5)",
        gt_with(("images", 1, "id"), 2.5),
    ),
    Bad(
        "gt-boolean-image-id",
        "gt",
        f"{_ANN}.image_id",
        "expected an integer or a string, got a boolean (True)",
        gt_with(("annotations", 1, "image_id"), True),
    ),
    Bad(
        "gt-float-category-id",
        "gt",
        f"{_ANN}.category_id",
        "expected an integer, got a number (2.5)",
        gt_with(("annotations", 1, "category_id"), 2.5),
    ),
    Bad(
        "gt-string-category-id",
        "gt",
        f"{_ANN}.category_id",
        "expected an integer, got a string ('2')",
        gt_with(("annotations", 1, "category_id"), "2"),
    ),
    Bad(
        "gt-annotation-not-an-object",
        "gt",
        _ANN,
        "expected an object, got an array",
        gt_with(("annotations", 1), [1, 2]),
    ),
    Bad(
        "gt-missing-bbox",
        "gt",
        f"{_ANN}.bbox",
        "missing",
        gt_with(("annotations", 1, "bbox"), DELETE),
    ),
    Bad(
        "gt-bbox-3-numbers",
        "gt",
        f"{_ANN}.bbox",
        "expected 4 numbers [x, y, width, height], got 3",
        gt_with(("annotations", 1, "bbox"), [5, 5, 40]),
    ),
    Bad(
        "gt-bbox-not-a-list",
        "gt",
        f"{_ANN}.bbox",
        "expected 4 numbers [x, y, width, height], got a string",
        gt_with(("annotations", 1, "bbox"), "5,5,40,40"),
    ),
    Bad(
        "gt-bbox-with-a-string",
        "gt",
        f"{_ANN}.bbox[1]",
        "expected a number, got a string ('5')",
        gt_with(("annotations", 1, "bbox"), [5, "5", 40, 40]),
    ),
    Bad(
        "gt-bbox-with-a-boolean",
        "gt",
        f"{_ANN}.bbox[2]",
        "expected a number, got a boolean (True)",
        gt_with(("annotations", 1, "bbox"), [5, 5, True, 40]),
    ),
    # --- ground truth: values
    Bad(
        "gt-bbox-nan",
        "gt",
        f"{_ANN}.bbox",
        "must be finite numbers, got [5.0, nan, 40.0, 40.0]",
        gt_with(("annotations", 1, "bbox"), [5, NAN, 40, 40]),
    ),
    Bad(
        "gt-bbox-infinity",
        "gt",
        f"{_ANN}.bbox",
        "must be finite numbers, got [5.0, 5.0, inf, 40.0]",
        gt_with(("annotations", 1, "bbox"), [5, 5, INF, 40]),
    ),
    Bad(
        "gt-negative-width",
        "gt",
        f"{_ANN}.bbox",
        "width and height must be >= 0, got [5.0, 5.0, -40.0, 40.0]",
        gt_with(("annotations", 1, "bbox"), [5, 5, -40, 40]),
    ),
    Bad(
        "gt-negative-area",
        "gt",
        f"{_ANN}.area",
        "must be a finite number >= 0",
        gt_with(("annotations", 1, "area"), -1),
    ),
    Bad(
        "gt-nan-area",
        "gt",
        f"{_ANN}.area",
        "must be a finite number >= 0",
        gt_with(("annotations", 1, "area"), NAN),
    ),
    Bad(
        "gt-iscrowd-2",
        "gt",
        f"{_ANN}.iscrowd",
        "expected 0, 1, true or false, got 2",
        gt_with(("annotations", 1, "iscrowd"), 2),
    ),
    # --- ground truth: strings that reach the report and its page (issue 10, points 4 and 5)
    Bad(
        "gt-name-too-long",
        "gt",
        "ground_truth.categories[1].name",
        f"{MAX_NAME_CHARS + 1} characters, at most {MAX_NAME_CHARS}",
        gt_with(("categories", 1, "name"), "d" * (MAX_NAME_CHARS + 1)),
    ),
    Bad(
        "gt-too-many-categories",
        "gt",
        "ground_truth.categories",
        f"{MAX_CATEGORIES + 1} categories, at most {MAX_CATEGORIES}",
        gt_with(("categories",), [{"id": k, "name": ""} for k in range(MAX_CATEGORIES + 1)]),
    ),
    Bad(
        "gt-name-lone-high-surrogate",
        "gt",
        "ground_truth.categories[1].name",
        "a lone surrogate (\\ud800) at character 1",
        gt_with(("categories", 1, "name"), "a\ud800"),
    ),
    Bad(
        "gt-name-lone-surrogate-escape",
        "gt",
        "ground_truth.categories[0].name",
        "a lone surrogate (\\udc00) at character 0",
        raw=b'{"images": [{"id": 1}], "categories": [{"id": 1, "name": "\\udc00\\ud83d"}]}',
    ),
    # --- ground truth: nesting too deep for any parser's stack (issue 10, point 6)
    Bad(
        "gt-deep-arrays",
        "gt",
        "ground_truth",
        "nested too deeply",
        raw=b"[" * 100_000 + b"]" * 100_000,
    ),
    Bad(
        "gt-deep-objects",
        "gt",
        "ground_truth",
        "nested too deeply",
        raw=b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    ),
    Bad(
        "gt-deep-in-an-unread-field",
        "gt",
        "ground_truth",
        "nested too deeply",
        raw=b'{"images": [], "categories": [], "info": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ),
    # --- ground truth: numbers no parser reads (the slow path's int() stops at 4300 digits)
    Bad(
        "gt-image-id-5000-digits",
        "gt",
        "ground_truth.images[0].id",
        "must fit in 64 bits, got an integer of 5000 digits",
        raw=b'{"images": [{"id": ' + b"7" * 5000 + b'}], "categories": []}',
    ),
    Bad(
        "gt-area-400-digits",
        "gt",
        f"{_ANN}.area",
        "out of range for a 64-bit float",
        gt_with(("annotations", 1, "area"), 10**400),
    ),
    Bad(
        "gt-long-string-id-shown-short",
        "gt",
        "ground_truth.images[1].id",
        "expected an integer, got a string ('xxxxxxxxxxxx",
        gt_with(("images", 1, "id"), "x" * 100_000),
    ),
    # --- predictions: document level
    Bad(
        "pred-malformed-json",
        "predictions",
        "predictions",
        "malformed JSON at line 2 column 1: Expecting ',' delimiter",
        raw=b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}\n{}]',
    ),
    Bad(
        "pred-top-level-string",
        "predictions",
        "predictions",
        "expected an array, got a string",
        raw=b'"results"',
    ),
    Bad(
        "pred-dict-without-annotations",
        "predictions",
        "predictions",
        "expected a list of results, or an object with an 'annotations' list",
        {"results": PREDICTIONS},
    ),
    Bad(
        "pred-not-an-object",
        "predictions",
        "predictions[1]",
        "expected an object, got a number",
        preds_with((1,), 7),
    ),
    # --- predictions: field types
    Bad(
        "pred-string-image-id",
        "predictions",
        "predictions[1].image_id",
        "unknown image id '2' (not in the ground truth's images; the ground truth's image ids "
        "are integers; 1 results in all)",
        preds_with((1, "image_id"), "2"),
    ),
    Bad(
        "pred-float-category-id",
        "predictions",
        "predictions[1].category_id",
        "expected an integer, got a number (2.5)",
        preds_with((1, "category_id"), 2.5),
    ),
    Bad(
        "pred-bbox-3-numbers",
        "predictions",
        "predictions[1].bbox",
        "expected 4 numbers [x, y, width, height], got 3",
        preds_with((1, "bbox"), [5, 6, 40]),
    ),
    Bad(
        "pred-bbox-5-numbers",
        "predictions",
        "predictions[1].bbox",
        "expected 4 numbers [x, y, width, height], got 5",
        preds_with((1, "bbox"), [5, 6, 40, 40, 1]),
    ),
    Bad(
        "pred-bbox-not-a-list",
        "predictions",
        "predictions[1].bbox",
        "expected 4 numbers [x, y, width, height], got a number",
        preds_with((1, "bbox"), 40),
    ),
    Bad(
        "pred-bbox-with-a-string",
        "predictions",
        "predictions[1].bbox[3]",
        "expected a number, got a string ('40')",
        preds_with((1, "bbox"), [5, 6, 40, "40"]),
    ),
    Bad(
        "pred-score-a-string",
        "predictions",
        "predictions[1].score",
        "expected a number, got a string ('0.8')",
        preds_with((1, "score"), "0.8"),
    ),
    Bad(
        "pred-missing-score",
        "predictions",
        "predictions[1].score",
        "missing",
        preds_with((1, "score"), DELETE),
    ),
    # --- predictions: values
    Bad(
        "pred-bbox-nan",
        "predictions",
        "predictions[1].bbox",
        "must be finite numbers, got [5.0, 6.0, nan, 40.0]",
        preds_with((1, "bbox"), [5, 6, NAN, 40]),
    ),
    Bad(
        "pred-bbox-minus-infinity",
        "predictions",
        "predictions[1].bbox",
        "must be finite numbers, got [-inf, 6.0, 40.0, 40.0]",
        preds_with((1, "bbox"), [-INF, 6, 40, 40]),
    ),
    Bad(
        "pred-score-nan",
        "predictions",
        "predictions[1].score",
        "must be a finite number",
        preds_with((1, "score"), NAN),
    ),
    Bad(
        "pred-score-infinity",
        "predictions",
        "predictions[2].score",
        "must be a finite number",
        preds_with((2, "score"), INF),
    ),
    Bad(
        "pred-negative-height",
        "predictions",
        "predictions[1].bbox",
        "width and height must be >= 0, got [5.0, 6.0, 40.0, -1.0]",
        preds_with((1, "bbox"), [5, 6, 40, -1]),
    ),
    Bad(
        "pred-unknown-image",
        "predictions",
        "predictions[1].image_id",
        "unknown image id 77 (not in the ground truth's images; 1 results in all)",
        preds_with((1, "image_id"), 77),
    ),
    Bad(
        "pred-unknown-category-error",
        "predictions",
        "predictions[2].category_id",
        "unknown category id 9 (not in the ground truth's categories; 1 results in all)",
        preds_with((2, "category_id"), 9),
        options={"unknown_categories": "error"},
    ),
    # --- predictions: nesting and numbers no parser reads (issue 10, point 6)
    Bad(
        "pred-deep-arrays",
        "predictions",
        "predictions",
        "nested too deeply",
        raw=b"[" * 100_000 + b"]" * 100_000,
    ),
    Bad(
        "pred-deep-in-an-unread-field",
        "predictions",
        "predictions",
        "nested too deeply",
        raw=b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5, "x": '
        + b'{"a": ' * 100_000
        + b"1"
        + b"}" * 100_000
        + b"}]",
    ),
    Bad(
        "pred-dict-deep-annotations",
        "predictions",
        "predictions",
        "nested too deeply",
        raw=b'{"annotations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ),
    Bad(
        "pred-score-5000-digits",
        "predictions",
        "predictions[0].score",
        "out of range for a 64-bit float, got an integer of 5000 digits",
        raw=b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": '
        + b"9" * 5000
        + b"}]",
    ),
    Bad(
        "pred-bbox-400-digits",
        "predictions",
        "predictions[1].bbox[3]",
        "out of range for a 64-bit float",
        preds_with((1, "bbox"), [5, 6, 40, 10**400]),
    ),
    # --- predictions as {"annotations": [...]}
    Bad(
        "pred-dict-bbox-3-numbers",
        "predictions",
        "predictions.annotations[1].bbox",
        "expected 4 numbers [x, y, width, height], got 3",
        {"annotations": preds_with((1, "bbox"), [5, 6, 40])},
    ),
    Bad(
        "pred-dict-score-nan",
        "predictions",
        "predictions.annotations[1].score",
        "must be a finite number",
        {"annotations": preds_with((1, "score"), NAN)},
    ),
    Bad(
        "pred-dict-unknown-image",
        "predictions",
        "predictions.annotations[1].image_id",
        "unknown image id 77",
        {"annotations": preds_with((1, "image_id"), 77)},
    ),
)


def _as_form(bad: Bad, form: str, tmp_path: Path) -> Any:
    data = bad.raw if bad.raw is not None else json.dumps(bad.doc, allow_nan=True).encode()
    if form == "object":
        return copy.deepcopy(bad.doc)
    if form == "bytes":
        return data
    path = tmp_path / f"{bad.id}.json"
    path.write_bytes(data)
    return str(path)


def _load(target: str, src: Any, **options: Any) -> Any:
    """Load ``src`` as ground truth, or as predictions against :data:`GT`."""
    if target == "gt":
        return load_ground_truth(src)
    return load_predictions(src, load_ground_truth(GT), **options)


def _table() -> list[Any]:
    params = []
    for bad in BAD_INPUTS:
        for form in bad.forms:
            params.append(pytest.param(bad, form, id=f"{bad.id}-{form}"))
    return params


def test_the_table_is_big_enough() -> None:
    assert len(BAD_INPUTS) >= 25
    assert len({bad.id for bad in BAD_INPUTS}) == len(BAD_INPUTS)


def test_the_base_documents_are_valid() -> None:
    # Otherwise a case could fail for a reason other than its own edit.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        evaluate_coco(GT, PREDICTIONS)
        evaluate_coco(json.dumps(GT).encode(), json.dumps(PREDICTIONS).encode())


@pytest.mark.parametrize(("bad", "form"), _table())
def test_bad_input_names_location_and_problem(bad: Bad, form: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _load(bad.target, _as_form(bad, form, tmp_path), **bad.options)
    assert info.value.location == bad.location
    assert bad.fragment in info.value.problem
    assert str(info.value) == f"{bad.location}: {info.value.problem}"
    assert len(info.value.problem) <= 200  # a value is shown shortened, never echoed whole


@pytest.mark.parametrize(
    "bad",
    [pytest.param(b, id=b.id) for b in BAD_INPUTS if b.doc is not None],
)
def test_object_and_bytes_give_the_same_message(bad: Bad) -> None:
    errors = []
    for src in (copy.deepcopy(bad.doc), json.dumps(bad.doc, allow_nan=True).encode()):
        with pytest.raises(InputError) as info:
            _load(bad.target, src, **bad.options)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize(
    ("target", "doc", "shown"),
    [
        ("gt", gt_with(("annotations", 1, "area"), -1), "got -1.0"),
        ("gt", gt_with(("annotations", 1, "area"), NAN), "got nan"),
        ("predictions", preds_with((1, "score"), NAN), "got nan"),
    ],
    ids=["negative-area", "nan-area", "nan-score"],
)
def test_bad_values_are_shown_as_plain_numbers(target: str, doc: Any, shown: str) -> None:
    with pytest.raises(InputError) as info:
        _load(target, doc)
    assert "np.float64" not in info.value.problem
    assert info.value.problem.endswith(shown)


@pytest.mark.parametrize("form", ["object", "bytes"])
def test_ids_beyond_int64_are_input_errors(form: str) -> None:
    doc = gt_with(("annotations", 1, "id"), 2**63)
    with pytest.raises(InputError) as info:
        load_ground_truth(doc if form == "object" else json.dumps(doc).encode())
    assert info.value.location == f"{_ANN}.id"


# --- predictions as an ndarray [image_id, x, y, w, h, score, category_id] ----------------------


@pytest.mark.parametrize(
    ("array", "location", "fragment"),
    [
        (np.zeros((3, 6)), "predictions", "expected an array of shape (n, 7)"),
        (np.zeros(7), "predictions", "got (7,)"),
        (np.zeros((2, 7, 1)), "predictions", "got (2, 7, 1)"),
        (
            np.array([[1.5, 0, 0, 1, 1, 0.5, 1]]),
            "predictions",
            "columns 0 (image_id) and 6 (category_id) must be integers",
        ),
        (np.array([[1, 0, 0, 1, 1, NAN, 1]]), "predictions[0].score", "must be a finite number"),
        (
            np.array([[1, 0, 0, 1, 1, 0.5, 1], [2, 0, 0, -1, 1, 0.5, 1]]),
            "predictions[1].bbox",
            "width and height must be >= 0",
        ),
        (np.array([[9, 0, 0, 1, 1, 0.5, 1]]), "predictions[0].image_id", "unknown image id 9"),
    ],
    ids=["6-columns", "1-d", "3-d", "float-ids", "nan-score", "negative-width", "unknown-image"],
)
def test_bad_ndarray_predictions(array: np.ndarray, location: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        load_predictions(array, load_ground_truth(GT))
    assert info.value.location == location
    assert fragment in info.value.problem


# --- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["gt", "predictions"])
def test_missing_file(target: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError) as info:
        _load(target, missing)
    root = "ground_truth" if target == "gt" else "predictions"
    assert info.value.location == root
    assert info.value.problem == f"file not found: {missing}"


@pytest.mark.parametrize("missing", [("gt", "predictions"), ("gt",), ("predictions",)])
def test_evaluate_coco_reports_the_ground_truth_first(
    missing: tuple[str, ...], tmp_path: Path
) -> None:
    # The results file is read on a second thread while the ground truth loads; errors
    # still come in the order of the two loads.
    paths = {"gt": tmp_path / "gt.json", "predictions": tmp_path / "dets.json"}
    paths["gt"].write_text(json.dumps(GT))
    paths["predictions"].write_text(json.dumps(PREDICTIONS))
    for target in missing:
        paths[target].unlink()
    with pytest.raises(InputError) as info:
        evaluate_coco(paths["gt"], paths["predictions"])
    assert info.value.location == ("ground_truth" if "gt" in missing else "predictions")
    assert info.value.problem.startswith("file not found: ")


@pytest.mark.parametrize("target", ["gt", "predictions"])
def test_directory_instead_of_file(target: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _load(target, tmp_path)
    root = "ground_truth" if target == "gt" else "predictions"
    assert info.value.location == root
    assert info.value.problem == f"is a directory, not a JSON file: {tmp_path}"


# --- warnings for valid but suspicious input ---------------------------------------------------


def _data_warnings(gt: Any, predictions: Any, **options: Any) -> tuple[list[str], Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_coco(gt, predictions, **options)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == len(caught), [str(w.message) for w in caught]
    return messages, report


def _one_matching(messages: list[str], fragment: str) -> str:
    hits = [m for m in messages if fragment in m]
    assert len(hits) == 1, messages
    return hits[0]


def test_clean_input_warns_nothing() -> None:
    messages, _ = _data_warnings(GT, PREDICTIONS)
    assert messages == []
    assert load_ground_truth(GT).warnings == ()
    assert load_predictions(PREDICTIONS, load_ground_truth(GT)).warnings == ()


WARNING_CASES = [
    pytest.param(
        gt_with(("annotations", 0, "id"), 0),
        PREDICTIONS,
        "ground_truth.annotations: annotation id 0 found (index 0)",
        id="annotation-id-0",
    ),
    pytest.param(
        gt_with(("annotations", 2, "id"), 2),
        PREDICTIONS,
        "ground_truth.annotations: duplicate annotation ids (2)",
        id="duplicate-annotation-ids",
    ),
    pytest.param(
        gt_with(("images", 2, "id"), 2),
        PREDICTIONS[:2],
        "ground_truth.images: duplicate image ids (2)",
        id="duplicate-image-ids",
    ),
    pytest.param(
        gt_with(("annotations", 1, "ignore"), 1),
        PREDICTIONS,
        "ground_truth.annotations: the 'ignore' field is present",
        id="ignore-field",
    ),
    pytest.param(
        gt_with(("annotations", 1, "area"), DELETE),
        PREDICTIONS,
        "ground_truth.annotations: 1 annotations have no 'area'; width*height is used",
        id="missing-area",
    ),
    pytest.param(
        gt_with(("annotations", 1, "iscrowd"), DELETE),
        PREDICTIONS,
        "ground_truth.annotations: 1 annotations have no 'iscrowd' "
        "(first: ground_truth.annotations[1]); read as 0 (pycocotools would fail)",
        id="missing-iscrowd",
    ),
    pytest.param(
        gt_with(("annotations", 2, "image_id"), 99),
        PREDICTIONS,
        "ground_truth.annotations: 1 annotations refer to images not in 'images' "
        "(first: ground_truth.annotations[2].image_id = 99)",
        id="annotation-on-undeclared-image",
    ),
    pytest.param(
        gt_with(("annotations", 2, "image_id"), "3"),
        PREDICTIONS,
        "ground_truth.annotations: 1 annotations refer to images not in 'images' "
        "(first: ground_truth.annotations[2].image_id = '3')",
        id="annotation-string-image-id-among-integers",
    ),
    pytest.param(
        gt_with(("annotations", 2, "category_id"), 5),
        PREDICTIONS,
        "ground_truth.annotations: 1 annotations have categories not in 'categories' "
        "(first: ground_truth.annotations[2].category_id = 5)",
        id="annotation-in-undeclared-category",
    ),
    pytest.param(
        GT,
        preds_with((0, "category_id"), 9),
        "predictions: 1 results have categories not in the ground truth "
        "(first: predictions[0].category_id = 9); they are dropped",
        id="unknown-category-dropped",
    ),
    pytest.param(GT, [], "predictions: no results; every AP is 0", id="empty-predictions"),
]


@pytest.mark.parametrize(("gt", "predictions", "message"), WARNING_CASES)
def test_data_warnings(gt: Any, predictions: Any, message: str) -> None:
    messages, report = _data_warnings(gt, predictions)
    _one_matching(messages, message)
    assert message in "\n".join(report.warnings)
    loaded = load_ground_truth(gt)
    assert message in "\n".join(loaded.warnings + load_predictions(predictions, loaded).warnings)


@pytest.mark.parametrize(("gt", "predictions", "message"), WARNING_CASES)
def test_bytes_and_object_give_the_same_warnings(gt: Any, predictions: Any, message: str) -> None:
    # The fast decoder and the walker must agree on what is odd, not only on what is wrong.
    from_object = load_ground_truth(copy.deepcopy(gt))
    from_bytes = load_ground_truth(json.dumps(gt).encode())
    assert from_object.warnings == from_bytes.warnings
    preds_object = load_predictions(copy.deepcopy(predictions), from_object)
    preds_bytes = load_predictions(json.dumps(predictions).encode(), from_bytes)
    assert preds_object.warnings == preds_bytes.warnings


def test_missing_iscrowd_reads_as_0_in_both_paths() -> None:
    gt = edited(GT, ("annotations", 0, "iscrowd"), DELETE)
    gt["annotations"][2]["iscrowd"] = 1
    for src in (gt, json.dumps(gt).encode()):
        np.testing.assert_array_equal(load_ground_truth(src).iscrowd, [False, False, True])


def test_missing_area_is_width_times_height() -> None:
    loaded = load_ground_truth(gt_with(("annotations", 1, "area"), DELETE))
    np.testing.assert_array_equal(loaded.areas, [600.0, 1600.0, 30000.0])


def test_empty_prediction_list_scores_zero() -> None:
    messages, report = _data_warnings(GT, [])
    # GT holds a small, a medium and a large box, so every one of the 12 stats is defined.
    np.testing.assert_array_equal(report.stats, np.zeros(12))
    np.testing.assert_array_equal(report.n_pred, [0, 0])


def test_unknown_categories_are_dropped_like_pycocotools() -> None:
    extra = {"image_id": 1, "category_id": 9, "bbox": [10, 10, 20, 30], "score": 0.99}
    _, with_extra = _data_warnings(GT, PREDICTIONS + [extra])
    _, without = _data_warnings(GT, PREDICTIONS)
    np.testing.assert_array_equal(with_extra.stats, without.stats, strict=True)
    np.testing.assert_array_equal(with_extra.precision, without.precision, strict=True)


# --- equivalent forms of the same predictions ----------------------------------------------------


def _to_array(predictions: list[dict[str, Any]]) -> np.ndarray:
    return np.array(
        [[p["image_id"], *p["bbox"], p["score"], p["category_id"]] for p in predictions],
        dtype=np.float64,
    ).reshape(-1, 7)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_predictions_form_gives_pycocotools_stats(seed: int, tmp_path: Path) -> None:
    gt, predictions = random_case(seed)
    expected = run_pycocotools(gt, predictions).stats
    as_dict = {"info": {"tool": "x"}, "annotations": predictions}
    dict_file, list_file = tmp_path / "dets.json", tmp_path / "dets-list.json"
    dict_file.write_text(json.dumps(as_dict))
    list_file.write_text(json.dumps(predictions))
    forms = {
        "list": predictions,
        "dict": as_dict,
        "list-bytes": json.dumps(predictions).encode(),
        "dict-bytes": json.dumps(as_dict).encode(),
        "dict-file": dict_file,
        "list-file": list_file,
        "ndarray": _to_array(predictions),
    }
    for name, form in forms.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            report = evaluate_coco(copy.deepcopy(gt), form)
        np.testing.assert_array_equal(report.stats, expected, strict=True, err_msg=name)
