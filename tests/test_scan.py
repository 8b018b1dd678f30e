"""The compiled results scanner: the same columns as the typed decoder, or None.

Its contract: whatever it returns equals what msgspec's strict decoder (the loader's
general path) reads from the same bytes, bit for bit; whatever it is unsure of it leaves
to that path by returning None.
"""

from __future__ import annotations

import json
import random

import msgspec
import numpy as np
import pytest

from evaluator.input import _scan


class Plain(msgspec.Struct):
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    score: float


STRICT = msgspec.json.Decoder(list[Plain])


def columns(data: bytes) -> tuple[np.ndarray, ...] | None:
    scanned = _scan.scan_predictions(data)
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


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("boxed", [True, False])
def test_keypoint_results_equal_the_typed_decoder(seed: int, boxed: bool) -> None:
    rng = random.Random(seed)
    k = rng.choice([1, 5, 17])
    rows = []
    for _ in range(rng.randrange(0, 40)):
        points = ", ".join(random_number(rng, rare=False) for _ in range(3 * k))
        fields = [
            f'"image_id": {rng.randrange(0, 9)}',
            f'"category_id": {rng.randrange(1, 4)}',
            f'"keypoints": [{points}]',
            f'"score": {random_number(rng, rare=False)}',
        ]
        if boxed:
            fields.append(f'"bbox": [{", ".join(random_number(rng, False) for _ in range(4))}]')
        rng.shuffle(fields)
        rows.append("{" + ", ".join(fields) + "}")
    data = ("[" + ", ".join(rows) + "]").encode()
    scanned = _scan.scan_predictions(data, k)
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
    assert _scan.scan_predictions(results.encode(), 1) is None


def test_box_results_skip_keypoints_fields() -> None:
    data = (
        b'[{"image_id": 1, "category_id": 1, "keypoints": [1], "bbox": [0, 0, 1, 1], "score": 1}]'
    )
    scanned = _scan.scan_predictions(data)
    assert scanned is not None and scanned[0] == 1 and bytes(memoryview(scanned[5])) == b""
