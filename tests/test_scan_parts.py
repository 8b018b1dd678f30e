"""A results document read in parts on several threads: the same columns as read whole.

The parts are forced on small documents (any size is worth cutting, 2 to 6 threads), and
the documents carry strings holding ``},{`` so that some cuts fall inside a string.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from evaluator.input import _scan, scan_parts

TRAPS = [
    '"note": "},{"',
    '"note": "} , {\\"image_id\\": 1}"',
    '"segmentation": {"size": [2, 3], "counts": "},{"}',
    '"extra": [{"a": 1}, {"b": 2}]',
]


def document(rng: random.Random, n: int, keypoints: int = 0, mixed: bool = False) -> bytes:
    rows = []
    for i in range(n):
        fields = [
            f'"image_id": {rng.randrange(0, 1000)}',
            f'"category_id": {rng.randrange(0, 100)}',
            f'"score": {rng.random()!r}',
        ]
        if not keypoints or not mixed or i == n - 1:
            fields.append(f'"bbox": [{", ".join(repr(rng.random() * 99) for _ in range(4))}]')
        if keypoints:
            values = (repr(rng.choice([0.0, 1.0, 2.0, rng.random()])) for _ in range(3 * keypoints))
            fields.append(f'"keypoints": [{", ".join(values)}]')
        if rng.random() < 0.3:
            fields.append(rng.choice(TRAPS))
        rng.shuffle(fields)
        rows.append("{" + ", ".join(fields) + "}")
    return ("[" + rng.choice([",", ",\n ", " , "]).join(rows) + "]").encode()


@pytest.fixture
def in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_parts, "MIN_PART_BYTES", 1)


def same(got: tuple | None, want: tuple | None) -> None:
    if want is None:
        assert got is None
        return
    assert got is not None and got[0] == want[0] and got[-1] == want[-1]
    for a, b in zip(got[1:-1], want[1:-1], strict=True):
        assert bytes(memoryview(a)) == bytes(memoryview(b))


@pytest.mark.parametrize("threads", [2, 3, 6])
@pytest.mark.parametrize("seed", range(15))
def test_parts_read_what_the_whole_reads(
    seed: int, threads: int, in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DETEVAL_THREADS", str(threads))
    rng = random.Random(seed)
    data = document(rng, rng.randrange(1, 40))
    assert len(scan_parts._parts(data)) > 1 or len(data) < threads
    same(scan_parts.scan_predictions(data), _scan.scan_predictions(data))


@pytest.mark.parametrize("seed", range(15))
def test_a_damaged_document_in_parts_is_read_as_whole(
    seed: int, in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DETEVAL_THREADS", "4")
    rng = random.Random(500 + seed)
    data = bytearray(document(rng, 12))
    for _ in range(rng.randrange(1, 4)):
        data[rng.randrange(len(data))] = rng.choice(b'{}[],:"\\ 019x')
    same(scan_parts.scan_predictions(bytes(data)), _scan.scan_predictions(bytes(data)))


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_keypoint_results_in_parts(
    seed: int, mixed: bool, in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bbox on some results only (the last part's) is a mix the whole document refuses,
    though each part alone agrees with itself."""
    monkeypatch.setenv("DETEVAL_THREADS", "3")
    rng = random.Random(seed)
    data = document(rng, 20, keypoints=3, mixed=mixed)
    want = _scan.scan_predictions(data, 3)
    assert (want is None) == mixed
    same(scan_parts.scan_predictions(data, 3), want)


def test_cuts_are_where_a_result_may_begin() -> None:
    data = document(random.Random(3), 50)
    cuts = _scan.split_points(data, 5)
    assert cuts == sorted(cuts) and len(cuts) == 4
    assert all(data[c : c + 1] == b"{" for c in cuts)


def test_a_cut_inside_a_string_fails_its_part() -> None:
    row = b'{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1'
    data = b"[" + row + b', "n": "},{"},' + row + b"}]"
    inside = data.index(b'{"}')  # the '{' inside the string
    assert _scan.split_points(data, 2) == [inside]
    assert _scan.scan_predictions(data, 0, 0, inside) is None
    assert _scan.scan_predictions(data, 0, inside) is None
    whole = _scan.scan_predictions(data)
    assert whole is not None and whole[0] == 2
    same(scan_parts.scan_predictions(data), whole)
    good = data.index(b"," + row) + 1
    first, second = _scan.scan_predictions(data, 0, 0, good), _scan.scan_predictions(data, 0, good)
    assert first is not None and second is not None and first[0] == second[0] == 1


@pytest.mark.parametrize(("start", "stop"), [(-1, -1), (0, 0), (5, 3), (0, 10**6), (10**6, -1)])
def test_parts_outside_the_document_are_refused(start: int, stop: int) -> None:
    with pytest.raises(ValueError, match="outside the document"):
        _scan.scan_predictions(b"[]" * 10, 0, start, stop)


def test_columns_joined_from_parts_are_the_loaders(
    in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evaluator.input.coco_json import load_ground_truth, load_predictions

    monkeypatch.setenv("DETEVAL_THREADS", "3")
    rng = random.Random(7)
    data = document(rng, 30)
    gt = load_ground_truth(
        {
            "images": [{"id": i, "width": 100, "height": 100} for i in range(1000)],
            "categories": [{"id": c, "name": str(c)} for c in range(100)],
            "annotations": [],
        }
    )
    parted = load_predictions(data, gt)
    monkeypatch.setattr(scan_parts, "MIN_PART_BYTES", 1 << 40)
    whole = load_predictions(data, gt)
    for name in ("image_ids", "category_ids", "boxes", "scores"):
        np.testing.assert_array_equal(getattr(parted, name), getattr(whole, name))


def mask_document(rng: random.Random, n: int, mixed: bool = False) -> bytes:
    rows = []
    for i in range(n):
        counts = "".join(rng.choice("0123456789:;<=>?@ABCabc") for _ in range(rng.randrange(1, 9)))
        fields = [
            f'"image_id": {rng.randrange(0, 1000)}',
            f'"category_id": {rng.randrange(0, 100)}',
            f'"score": {rng.random()!r}',
            f'"segmentation": {{"size": [4, 5], "counts": "{counts}"}}',
        ]
        if not mixed or i == n - 1:
            fields.append(f'"bbox": [{", ".join(repr(rng.random() * 4) for _ in range(4))}]')
        if rng.random() < 0.3:
            fields.append(rng.choice(TRAPS[:2]))
        rng.shuffle(fields)
        rows.append("{" + ", ".join(fields) + "}")
    return ("[" + ", ".join(rows) + "]").encode()


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("threads", [2, 5])
@pytest.mark.parametrize("seed", range(10))
def test_mask_results_in_parts_join_to_the_whole(
    seed: int, threads: int, mixed: bool, in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every column, the strings one after the other and their starts moved along."""
    monkeypatch.setenv("DETEVAL_THREADS", str(threads))
    data = mask_document(random.Random(seed), 25, mixed)
    parts = scan_parts.scan_mask_results(data)
    want = _scan.scan_mask_results(data)
    if want is None:
        assert mixed and parts is None
        return
    assert parts is not None
    got = scan_parts.join_mask_parts(parts)
    assert got[0] == want[0] and got[5] == want[5]
    for i in (1, 2, 3, 4, 6, 7, 8):
        assert bytes(memoryview(got[i])) == bytes(memoryview(want[i])), i


def test_a_segm_evaluation_in_parts_equals_the_whole(
    in_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real mask results (cocoapi's fake segm results) read in parts, joined, evaluated."""
    import os
    from pathlib import Path

    from evaluator import evaluate_coco

    shared = Path(
        os.environ.get("DETEVAL_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")
    )
    pair = shared / "reference-data" / "cocoapi-val2014-fake100"
    gt, dt = (
        pair / "instances_val2014_100.json",
        pair / "instances_val2014_fakesegm100_results.json",
    )
    if not dt.is_file():
        pytest.skip(f"reference data not found: {dt} (put shared/ beside the repository)")
    data = dt.read_bytes()
    monkeypatch.setenv("DETEVAL_THREADS", "3")
    parts = scan_parts.scan_mask_results(data)
    assert parts is not None and len(parts) == 3
    parted = evaluate_coco(gt, data, iou_type="segm").to_dict()
    monkeypatch.setattr(scan_parts, "MIN_PART_BYTES", 1 << 40)
    assert evaluate_coco(gt, data, iou_type="segm").to_dict() == parted
