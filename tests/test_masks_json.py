"""Segmentations given as JSON text (``RunLengths.from_json``, the ground-truth loader's
path for files) give the masks of the decoded objects (``from_coco``): the compiled
polygon reader takes every number as a JSON reader does, and what it does not read
plainly goes to the general reader, with its errors."""

from __future__ import annotations

import json
import random

import msgspec
import numpy as np
import pytest

from evaluator import InputError
from evaluator.input.loading import load_ground_truth
from evaluator.masks import RunLengths
from evaluator.masks._engine import rle


def _number(rng: random.Random) -> str:
    """A coordinate in one of the forms JSON files hold."""
    form = rng.randrange(7)
    if form == 0:
        return str(rng.randint(-20, 80))
    if form == 1:
        return json.dumps(round(rng.uniform(-20, 80), rng.randint(0, 4)))
    if form == 2:
        return json.dumps(rng.uniform(-20, 80))  # 17 significant digits
    if form == 3:
        return f"{rng.uniform(-20, 80):.3e}".replace("e+", rng.choice(["e+", "E", "e"]))
    if form == 4:
        return rng.choice(["-0", "-0.0", "0.000", "-0e3"])
    if form == 5:
        return rng.choice(["1e-7", "12345678.901234567", "0.1", "199999999.99999999"])
    return f"{rng.randint(0, 99)}.{rng.randint(0, 10**12):012d}"


def _numbers_text(values: list[str], rng: random.Random) -> str:
    return "[" + rng.choice([",", ", ", " ,\n "]).join(values) + "]"


def test_parse_polygons_reads_numbers_as_json_does() -> None:
    rng = random.Random(0)
    texts = [
        "[" + ",".join(_numbers_text([_number(rng) for _ in range(8)], rng) for _ in range(2)) + "]"
        for _ in range(2000)
    ]
    blob = "".join(texts).encode()
    starts = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
    parsed = rle.parse_polygons(blob, starts)
    assert parsed is not None
    ours = np.frombuffer(parsed[0], np.float64)
    theirs = np.array([float(v) for t in texts for p in json.loads(t) for v in p], dtype=np.float64)
    assert ours.tobytes() == theirs.tobytes()
    assert np.frombuffer(parsed[2], np.int64).tolist() == list(range(0, 2 * len(texts) + 1, 2))


@pytest.mark.parametrize("seed", range(5))
def test_from_json_equals_from_coco(seed: int) -> None:
    rng = random.Random(seed)
    h, w = 40, 60
    segmentations: list[object] = []
    for _ in range(60):
        kind = rng.randrange(4)
        if kind == 0:
            points = [[rng.uniform(-5, 65), rng.uniform(-5, 45)] for _ in range(rng.randint(3, 9))]
            segmentations.append([[c for p in points for c in p] for _ in range(rng.randint(1, 3))])
        elif kind == 1:
            segmentations.append([[rng.randint(0, 59), rng.randint(0, 39)] * 3])
        elif kind == 2:
            segmentations.append({"size": [h, w], "counts": [h * w]})
        else:
            segmentations.append({"size": [h, w], "counts": [5, 10, h * w - 15]})
    texts = [msgspec.Raw(json.dumps(s).encode()) for s in segmentations]
    sizes = np.full(len(texts), h, dtype=np.int64), np.full(len(texts), w, dtype=np.int64)
    ours = RunLengths.from_json(texts, *sizes)
    theirs = RunLengths.from_coco(segmentations, *sizes)
    assert ours.to_coco() == theirs.to_coco()


@pytest.mark.parametrize(
    "text",
    ["[[1, 2, 3, 4, 5]]", "[[]]", "[]", "[[1, 2, 3, 4, 5, 3e9]]", '[[1, 2], {"counts": 1}]'],
)
def test_from_json_errors_are_from_coco_errors(text: str) -> None:
    good = "[[1, 2, 8, 2, 8, 9]]"
    texts = [msgspec.Raw(good.encode()), msgspec.Raw(text.encode())]
    sizes = np.full(2, 10, dtype=np.int64), np.full(2, 10, dtype=np.int64)
    with pytest.raises(InputError) as ours:
        RunLengths.from_json(texts, *sizes, where="x")
    with pytest.raises(InputError) as theirs:
        RunLengths.from_coco([json.loads(good), json.loads(text)], *sizes, where="x")
    assert (ours.value.location, ours.value.problem) == (
        theirs.value.location,
        theirs.value.problem,
    )


@pytest.mark.parametrize("number", ["1e400", "123456789012345678901234567890"])
def test_a_number_msgspec_refuses_is_read_as_the_general_reader_reads_it(number: str) -> None:
    gt = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4,
             "iscrowd": 0, "segmentation": [[1, 2, 8, 2, 8, 9]]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4,
             "iscrowd": 0, "segmentation": "POLYGON"},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }  # fmt: skip
    text = json.dumps(gt).replace('"POLYGON"', f"[[1, 2, 3, 4, 5, {number}]]")
    with pytest.raises(InputError) as ours:
        load_ground_truth(text.encode(), iou_type="segm")
    with pytest.raises(InputError) as theirs:
        load_ground_truth(json.loads(text), iou_type="segm")
    assert (ours.value.location, ours.value.problem) == (
        theirs.value.location,
        theirs.value.problem,
    )
