"""The compiled results scanner: the same columns as the typed decoder, or None.

Its contract: whatever it returns equals what msgspec's strict decoder (the loader's
general path) reads from the same bytes, bit for bit; whatever it is unsure of it leaves
to that path by returning None.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from evaluator.input import _scan, keypoints, result_scan


class Plain(msgspec.Struct):
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    score: float


STRICT = msgspec.json.Decoder(list[Plain])


def whole_scan(data: bytes, k: int = 0) -> tuple[Any, ...] | None:
    """The results read in one part: ``(n, image_id, category_id, bbox, score, keypoints,
    boxed)``, each column cut to the n results; None when not of the plain shape."""
    got = result_scan.scan_columns(data, k, 1)
    if got is None:
        return None
    n, boxed, (image, category, box, score, points) = got
    return n, image[:n], category[:n], box[:n], score[:n], points[:n], int(boxed or n == 0)


def columns(data: bytes) -> tuple[np.ndarray, ...] | None:
    scanned = whole_scan(data)
    if scanned is None:
        return None
    n, image, category, box, score, _, _ = scanned
    return (
        np.frombuffer(image, np.int64),
        np.frombuffer(category, np.int64),
        np.frombuffer(box, np.float64).reshape(n, 4),
        np.frombuffer(score, np.float64),
    )


def decoded(data: bytes) -> tuple[np.ndarray, ...]:
    items = STRICT.decode(data)
    return (
        np.array([i.image_id for i in items], np.int64),
        np.array([i.category_id for i in items], np.int64),
        np.array([i.bbox for i in items], np.float64).reshape(len(items), 4),
        np.array([i.score for i in items], np.float64),
    )


def assert_same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit, -0.0 included


def random_number(rng: random.Random, rare: bool) -> str:
    """A JSON number in one of the forms files carry; ``rare`` adds the forms the scanner
    leaves to the decoder (long integers, denormals, huge exponents)."""
    kind = rng.randrange(8) if rare else rng.choice([0, 1, 2, 3, 7])
    if kind == 0:
        return str(rng.randrange(-(10**6), 10**6))
    if kind == 1:
        return repr(rng.uniform(-1e4, 1e4))
    if kind == 2:
        return f"{rng.uniform(0, 1000):.{rng.randrange(0, 17)}f}"
    if kind == 3:
        return f"{rng.uniform(-1, 1):.{rng.randrange(1, 20)}e}"
    if kind == 4:
        return rng.choice(["0", "-0", "0.0", "-0.0", "1e22", "1e23", "1e-22", "1e-23", "5e-324"])
    if kind == 5:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 25)))
        return digits.lstrip("0") or "0"
    if kind == 6:
        return f"{rng.randrange(1, 10**9)}E{rng.choice(['', '+', '-'])}{rng.randrange(0, 320)}"
    return f"0.{''.join(rng.choice('0123456789') for _ in range(rng.randrange(1, 30)))}"


def plain_document(rng: random.Random, n: int, rare: bool = False) -> bytes:
    rows = []
    for _ in range(n):
        fields = [
            f'"image_id": {rng.randrange(-5, 10**12)}',
            f'"category_id": {rng.randrange(0, 100)}',
            f'"bbox": [{", ".join(random_number(rng, rare) for _ in range(4))}]',
            f'"score": {random_number(rng, rare)}',
        ]
        if rng.random() < 0.3:
            extra = rng.choice(
                [
                    '"id": 7',
                    '"area": 1.5',
                    '"segmentation": {"size": [2, 3], "counts": "a\\"b"}',
                    '"iscrowd": false',
                    '"note": null',
                    '"keypoints": [[1, [2, {}]], []]',
                ]
            )
            fields.insert(rng.randrange(len(fields) + 1), extra)
        rng.shuffle(fields)
        rows.append("{" + ", ".join(fields) + "}")
    return ("[" + ",\n ".join(rows) + "]").encode()


@pytest.mark.parametrize("seed", range(40))
def test_plain_documents_read_as_the_decoder_reads_them(seed: int) -> None:
    rng = random.Random(seed)
    common = seed < 30  # the others add the forms left to the decoder
    data = plain_document(rng, rng.randrange(0, 60), rare=not common)
    try:
        want = decoded(data)
    except msgspec.ValidationError:  # e.g. a number out of float range
        assert columns(data) is None
        return
    got = columns(data)
    if common:
        assert got is not None  # what COCO tools write is read by the scanner
    if got is not None:  # else the general path reads it
        assert_same(got, want)


def test_the_common_shape_is_read_by_the_scanner() -> None:
    data = json.dumps(
        [{"image_id": 1, "category_id": 2, "bbox": [1.5, 2, 3.25, 4e1], "score": 0.9}] * 3
    ).encode()
    got = columns(data)
    assert got is not None
    assert_same(got, decoded(data))
    assert columns(b" [ ] ") is not None and columns(b"[]")[0].shape == (0,)  # type: ignore[index]


@pytest.mark.parametrize(
    "image_id",
    [0, -0, 7, 10**18 - 1, -(10**18) + 1, 10**18, 2**63 - 1, -(2**63), 1234567890123456789],
)
def test_integer_ids_up_to_the_int64_limits(image_id: int) -> None:
    # Up to 18 digits the scanner adds the digits itself; longer ones go through strtoll.
    data = json.dumps(
        [{"image_id": image_id, "category_id": -3, "bbox": [0, 0, 1, 1], "score": -0.0}]
    ).encode()
    got = columns(data)
    assert got is not None
    assert_same(got, decoded(data))


@pytest.mark.parametrize(
    "data",
    [
        b'{"annotations": []}',  # the other top-level form: the general path
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]}]',  # no score
        b'[{"image_id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]',
        b'[{"image_id": "1", "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]',
        b'[{"image_id": 1.0, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3], "score": 1}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4, 5], "score": 1}]',
        b'[{"image\\u005fid": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": NaN}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 01}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": +1}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1e400}]',
        b'[{"image_id": 99999999999999999999, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 12345678901234567}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1, "n": "\xc3\xa9"}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1, "n": "a\tb"}]',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}] x',
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1},]',
        b"\xef\xbb\xbf[]",
        b"[{}]",
        b"[" + b"[" * 100 + b"]" * 100 + b"]",
        b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1, "x": '
        + b"[" * 100
        + b"]" * 100
        + b"}]",
        b"",
        b"[",
    ],
)
def test_anything_else_is_left_to_the_general_path(data: bytes) -> None:
    assert columns(data) is None


@pytest.mark.parametrize("seed", range(25))
def test_a_damaged_document_is_read_right_or_not_at_all(seed: int) -> None:
    rng = random.Random(1000 + seed)
    data = bytearray(plain_document(rng, 4))
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            del data[at]
        elif action == 1:
            data.insert(at, rng.choice(b'{}[],:"\\ -+.eE019xnt\x00\x80'))
        else:
            data[at] = rng.choice(b'{}[],:"\\ -+.eE019xnt')
    got = columns(bytes(data))
    if got is None:
        return
    assert_same(got, decoded(bytes(data)))  # what it read, the decoder reads the same


class KeypointResult(msgspec.Struct):
    image_id: int
    category_id: int
    keypoints: list[float]
    score: float
    bbox: tuple[float, float, float, float] | None = None


def keypoint_document(rng: random.Random, k: int, boxed: bool, n: int, extra: str = "") -> bytes:
    """``n`` keypoint results with ``k`` keypoints each, a bbox on all or none, and an
    ``extra`` field on some."""
    rows = []
    for _ in range(n):
        points = ", ".join(random_number(rng, rare=False) for _ in range(3 * k))
        fields = [
            f'"image_id": {rng.randrange(0, 9)}',
            f'"category_id": {rng.randrange(1, 4)}',
            f'"keypoints": [{points}]',
            f'"score": {random_number(rng, rare=False)}',
        ]
        if boxed:
            fields.append(f'"bbox": [{", ".join(random_number(rng, False) for _ in range(4))}]')
        if extra and rng.random() < 0.3:
            fields.append(extra)
        rng.shuffle(fields)
        rows.append("{" + ", ".join(fields) + "}")
    return ("[" + ", ".join(rows) + "]").encode()


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("boxed", [True, False])
def test_keypoint_results_equal_the_typed_decoder(seed: int, boxed: bool) -> None:
    rng = random.Random(seed)
    k = rng.choice([1, 5, 17])
    data = keypoint_document(rng, k, boxed, rng.randrange(0, 40))
    scanned = whole_scan(data, k)
    assert scanned is not None
    n, image, category, box, score, keypoints, has_boxes = scanned
    items = msgspec.json.Decoder(list[KeypointResult]).decode(data)
    assert n == len(items) and has_boxes == (boxed or not items)
    want_points = np.array([i.keypoints for i in items], np.float64).reshape(n, k, 3)
    assert np.frombuffer(keypoints, np.float64).tobytes() == want_points.tobytes()
    assert (
        np.frombuffer(score, np.float64).tobytes() == np.array([i.score for i in items]).tobytes()
    )
    assert np.frombuffer(image, np.int64).tolist() == [i.image_id for i in items]
    assert np.frombuffer(category, np.int64).tolist() == [i.category_id for i in items]
    if boxed:
        assert np.frombuffer(box, np.float64).reshape(n, 4).tolist() == [
            list(i.bbox or ()) for i in items
        ]


@pytest.mark.parametrize(
    "results",
    [
        '[{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1], "score": 1, '
        '"bbox": [0, 0, 1, 1]}, {"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1], '
        '"score": 1}]',  # a bbox on the first result only
        '[{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1, 4], "score": 1}]',  # 4 numbers
        '[{"image_id": 1, "category_id": 1, "keypoints": [1, 2], "score": 1}]',  # 2 numbers
        '[{"image_id": 1, "category_id": 1, "score": 1}]',  # no keypoints
        '[{"image_id": 1, "category_id": 1, "keypoints": [1, NaN, 1], "score": 1}]',
        '[{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1], "keypoints": [1, 2, 1], '
        '"score": 1}]',  # repeated
    ],
)
def test_keypoint_results_off_the_plain_shape_go_to_the_loader(results: str) -> None:
    assert whole_scan(results.encode(), 1) is None


def test_box_results_skip_keypoints_fields() -> None:
    data = (
        b'[{"image_id": 1, "category_id": 1, "keypoints": [1], "bbox": [0, 0, 1, 1], "score": 1}]'
    )
    scanned = whole_scan(data)
    assert scanned is not None and scanned[0] == 1 and bytes(memoryview(scanned[5])) == b""


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_keypoint_results_read_in_parts_equal_one_scan(seed: int, parts: int) -> None:
    # Some results carry a field whose text holds "}," (a cut there falls inside a result)
    # or an object (its '{' counts as a result when the rows are reserved).
    rng = random.Random(seed)
    k, boxed = rng.choice([1, 17]), seed % 2 == 0
    extra = rng.choice(['"note": "},{"', '"meta": {"a": [1, {}]}', '"id": 3'])
    data = keypoint_document(rng, k, boxed, rng.randrange(0, 30), extra)
    whole = whole_scan(data, k)
    assert whole is not None
    n, image, category, box, score, points, has_boxes = whole
    got = result_scan.scan_columns(data, k, parts)
    assert got is not None
    count, got_boxed, columns = got
    assert count == n and got_boxed == (has_boxes == 1 and n > 0)
    spanned = keypoints._spanned(columns[4][:n])[0].tobytes()  # the box loadRes derives
    for column, want in zip(columns, (image, category, box, score, points), strict=True):
        expected = spanned if column.ndim == 2 and not boxed else bytes(memoryview(want))
        assert column[:n].tobytes() == expected


def test_keypoint_results_off_the_plain_shape_in_any_part_go_to_the_loader() -> None:
    row = '{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1], "score": 1%s}'
    rows = [row % ""] * 50
    for odd in (', "bbox": [0, 0, 1, 1]', ', "score": 2', ', "x": NaN'):
        data = ("[" + ", ".join(rows[:40] + [row % odd] + rows[41:]) + "]").encode()
        assert all(result_scan.scan_columns(data, 1, parts) is None for parts in (1, 2, 4))
    wrapped = ('{"annotations": [' + ", ".join(rows) + "]}").encode()  # the other form
    assert all(result_scan.scan_columns(wrapped, 1, parts) is None for parts in (1, 2, 4))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("parts", [2, 3, 8])
def test_box_results_read_in_parts_equal_one_scan(seed: int, parts: int) -> None:
    # Box results go through the same parts as keypoint results, with K = 0.
    rng = random.Random(seed)
    data = plain_document(rng, rng.randrange(1, 80))
    whole = result_scan.scan_columns(data, 0, 1)
    got = result_scan.scan_columns(data, 0, parts)
    assert whole is not None and got is not None
    assert got[:2] == whole[:2]
    for column, want in zip(got[2], whole[2], strict=True):
        assert column[: got[0]].tobytes() == want[: whole[0]].tobytes()
    assert_same(columns(data), decoded(data))  # and one scan reads as the decoder


def test_a_box_results_file_is_read_mapped_as_its_bytes(tmp_path: Path) -> None:
    data = plain_document(random.Random(7), 300)
    path = tmp_path / "results.json"
    path.write_bytes(data)
    mapped, read = result_scan.scan_file(path, 0), result_scan.scan_plain(data, 0)
    assert mapped is not None and read is not None
    assert mapped.keypoints is None and mapped.areas is None
    for field in ("image_ids", "category_ids", "boxes", "scores"):
        assert getattr(mapped, field).tobytes() == getattr(read, field).tobytes()
    want = whole_scan(data)
    assert want is not None
    assert read.boxes.tobytes() == bytes(memoryview(want[3]))


def test_a_keypoint_results_file_is_read_mapped(tmp_path: Path) -> None:
    data = keypoint_document(random.Random(5), 17, False, 200)
    path = tmp_path / "results.json"
    path.write_bytes(data)
    mapped, read = result_scan.scan_file(path, 17), result_scan.scan_plain(data, 17)
    assert mapped is not None and read is not None
    for field in ("image_ids", "category_ids", "boxes", "scores", "keypoints", "areas"):
        assert getattr(mapped, field).tobytes() == getattr(read, field).tobytes()
    (tmp_path / "empty.json").write_bytes(b"")
    assert result_scan.scan_file(tmp_path / "empty.json", 17) is None
    assert result_scan.scan_file(tmp_path / "missing.json", 17) is None


@pytest.mark.parametrize("seed", range(10))
def test_number_rows_equal_the_typed_decoder(seed: int) -> None:
    # The ground truth's keypoints: each annotation's array, or null.
    rng = random.Random(seed)
    n = rng.choice([1, 3, 51])
    rows = [
        "null"
        if rng.random() < 0.2
        else f"[{', '.join(random_number(rng, False) for _ in range(n))}]"
        for _ in range(rng.randrange(0, 30))
    ]
    data = ("[" + ", ".join(rows) + "]").encode()
    values, present = np.empty((len(rows), n)), np.empty(len(rows), np.uint8)
    assert _scan.scan_number_rows(data, n, values, present)
    want = msgspec.json.Decoder(list[list[float] | None]).decode(data)
    assert present.tolist() == [row is not None for row in want]
    assert values.tobytes() == np.array([row or [0.0] * n for row in want]).reshape(-1, n).tobytes()


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"[[1, 2]]", 1),  # too few numbers
        (b"[[1, 2, 3, 4]]", 1),  # too many
        (b'[[1, "2", 3]]', 1),
        (b"[[1, 2, 3]] x", 1),
        (b"[[1, 2, 3], 7]", 2),
        (b"[[1, 2, 3]]", 2),  # fewer rows than expected
        (b"[[1, 2, 3], null]", 1),  # more
    ],
)
def test_number_rows_of_another_shape_are_refused(data: bytes, rows: int) -> None:
    values, present = np.empty((rows, 3)), np.empty(rows, np.uint8)
    assert not _scan.scan_number_rows(data, 3, values, present)


@pytest.mark.parametrize(
    "number",
    ["0", "-0", "0.0", "-0.0", "-0e0", "7", "1234567", "12345678", "-1234567.12345678",
     "0.12345678", "0.123456789", "9999999.99999999", "0.00000001", "401.93", "1e2", "1.5E-3",
     "01", "1.", ".5", "-", "1.2.3", "00.5"],
)  # fmt: skip
def test_short_decimals_read_as_the_decoder_reads_them(number: str) -> None:
    # The scanner's shortcut for up to 7 digits and 8 decimals, and the tokens just past
    # it, with room after them (the bbox) and without (the score ends the document).
    data = f'[{{"image_id": 1, "category_id": 2, "score": {number}, "bbox": [1, 2, 3, 4]}}, '
    data += f'{{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, {number}], "score": {number}}}]'
    try:
        want = decoded(data.encode())
    except msgspec.DecodeError:
        assert columns(data.encode()) is None
        return
    got = columns(data.encode())
    assert got is not None
    assert_same(got, want)
