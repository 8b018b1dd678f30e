"""Masks kept compressed (:class:`CompressedMasks`) and the scanner that reads them.

Measured once (area, box) and compared on the fly, they must give pycocotools.mask's
numbers exactly; the scanner's columns must equal what the general loader reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from evaluator import InputError
from evaluator.input import _scan
from evaluator.masks import RunLengths
from evaluator.masks.compressed import CompressedMasks, Groups, group_iou_into, pair_iou_into


def _random_masks(rng: np.random.Generator, n: int, h: int, w: int) -> list[dict]:
    masks = []
    for _ in range(n):
        bitmap = np.zeros((h, w), dtype=np.uint8, order="F")
        kind = rng.integers(0, 4)
        if kind == 1:  # a blob
            x, y = rng.integers(0, w), rng.integers(0, h)
            bitmap[y : y + rng.integers(1, h), x : x + rng.integers(1, w)] = 1
        elif kind == 2:  # noise
            bitmap[:] = rng.random((h, w)) < 0.3
        elif kind == 3:  # full
            bitmap[:] = 1
        masks.append(mask_utils.encode(bitmap))
    return masks


def _blob(masks: list[dict]) -> tuple[bytes, np.ndarray]:
    strings = [m["counts"] for m in masks]
    starts = np.r_[0, np.cumsum([len(s) for s in strings])].astype(np.int64)
    return b"".join(strings), starts


@pytest.mark.parametrize("seed", range(6))
def test_measured_and_compared_as_pycocotools(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 64)  # many chunks, on threads
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    dts, gts = _random_masks(rng, 40, h, w), _random_masks(rng, 15, h, w)
    blob, starts = _blob(dts)
    compressed = CompressedMasks.from_strings(blob, starts, [h] * 40, [w] * 40)
    np.testing.assert_array_equal(compressed.area(), mask_utils.area(dts), strict=True)
    np.testing.assert_array_equal(compressed.to_bbox(), mask_utils.toBbox(dts), strict=True)
    gt = RunLengths.from_coco(gts)
    crowd = (rng.random(15) < 0.3).astype(np.uint8)
    pair_dt, pair_gt = (a.ravel().astype(np.int64) for a in np.meshgrid(range(40), range(15)))
    order = np.argsort(pair_dt, kind="stable")  # a detection's pairs together, as the engine
    pair_dt, pair_gt = pair_dt[order], pair_gt[order]
    want = mask_utils.iou(dts, gts, crowd.tolist())[pair_dt, pair_gt]
    for dt in (compressed, RunLengths.from_coco(dts)):  # the pairs cut in ranges, on threads
        out = np.empty(pair_dt.shape[0])
        pair_iou_into(dt, dt.to_bbox(), gt, gt.to_bbox(), crowd, pair_dt, pair_gt, out)
        np.testing.assert_array_equal(out, want)
    taken = compressed.take([3, 0, 3])
    assert taken.blob == dts[3]["counts"] + dts[0]["counts"] + dts[3]["counts"]
    np.testing.assert_array_equal(taken.area(), compressed.area()[[3, 0, 3]])


@pytest.mark.parametrize("seed", range(4))
def test_groups_compared_as_pycocotools(seed: int) -> None:
    """group_iou_into: groups of detections and ground truths (rows in any order, some
    empty on either side), masks as strings (measured or not) or runs, IoUs
    detection-major per group."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    dts, gts = _random_masks(rng, 40, h, w), _random_masks(rng, 15, h, w)
    blob, starts = _blob(dts)
    compressed = CompressedMasks.from_strings(blob, starts, [h] * 40, [w] * 40)
    compressed_sizes = np.full(40, h, dtype=np.int64), np.full(40, w, dtype=np.int64)
    gt = RunLengths.from_coco(gts)
    crowd = (rng.random(15) < 0.3).astype(np.uint8)
    want = mask_utils.iou(dts, gts, crowd.tolist())  # (40, 15)
    det_rows, gt_rows = rng.permutation(40).astype(np.int64), rng.permutation(15).astype(np.int64)
    det_start = np.r_[0, np.sort(rng.integers(0, 41, 5)), 40].astype(np.int64)  # 6 groups
    gt_cut = np.r_[0, np.sort(rng.integers(0, 16, 5)), 15].astype(np.int64)
    gt_lo, gt_hi = gt_cut[:-1].copy(), gt_cut[1:].copy()
    size = np.diff(det_start) * (gt_hi - gt_lo)
    block_start = np.r_[0, np.cumsum(size)[:-1]].astype(np.int64)
    groups = Groups(det_rows, gt_rows, det_start, gt_lo, gt_hi, block_start)
    unmeasured = CompressedMasks.of_checked(compressed.blob, compressed.starts, *compressed_sizes)
    for dt in (compressed, RunLengths.from_coco(dts), unmeasured):
        out = np.full(int(size.sum()), np.nan)
        dt_measures = None if dt is unmeasured else (dt.to_bbox(), dt.area())
        gt_measures = gt.to_bbox(), gt.area()
        group_iou_into(dt, dt_measures, gt, gt_measures, crowd, groups, out, 0, 3)
        group_iou_into(dt, dt_measures, gt, gt_measures, crowd, groups, out, 3, 6)
        for k in range(6):
            d = det_rows[det_start[k] : det_start[k + 1]]
            g = gt_rows[gt_lo[k] : gt_hi[k]]
            block = out[block_start[k] : block_start[k] + size[k]]
            np.testing.assert_array_equal(block, want[np.ix_(d, g)].ravel())


def test_the_first_bad_string_is_named_whatever_the_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("evaluator.threads._WORK_PER_CHUNK", 16)
    masks = _random_masks(np.random.default_rng(0), 30, 8, 8)
    strings = [m["counts"] for m in masks]
    strings[17], strings[25] = b"~~", strings[25][:-1]
    starts = np.r_[0, np.cumsum([len(s) for s in strings])].astype(np.int64)
    with pytest.raises(InputError) as raised:
        CompressedMasks.from_strings(b"".join(strings), starts, [8] * 30, [8] * 30, where="dt")
    assert raised.value.location == "dt[17].counts"


def _results(masks: list[dict], boxed: bool) -> list[dict]:
    results = []
    for i, m in enumerate(masks):
        result = {"image_id": i % 3, "category_id": 1 + i % 2, "score": round(0.1 * i, 3)}
        result["segmentation"] = {"size": m["size"], "counts": m["counts"].decode()}
        if boxed:
            result["bbox"] = [float(v) for v in mask_utils.toBbox(m)]
        results.append(result)
    return results


def _scan_whole(results: list[dict]) -> tuple:
    """The scanner's columns of a whole results document."""
    text = json.dumps(results).encode()
    return _scan.scan_mask_part(text, 0, -1, bytearray(len(text)))


@pytest.mark.parametrize("boxed", [True, False])
def test_scanned_mask_results_are_the_general_loader_s(boxed: bool) -> None:
    masks = _random_masks(np.random.default_rng(5), 25, 17, 13)
    results = _results(masks, boxed)
    layout = random.Random(1)
    for result in results:  # any key order
        items = list(result.items())
        layout.shuffle(items)
        result.clear()
        result.update(items)
    text = json.dumps(results).encode()
    strings = bytearray(len(text))
    status, n, image, category, box, score, has_boxes, size, length, starts, totals = (
        _scan.scan_mask_part(text, 0, -1, strings)
    )
    assert status == 2 and n == 25 and bool(has_boxes) == boxed
    assert np.frombuffer(totals, np.int64).tolist() == [17 * 13] * n  # each string's sum
    assert np.frombuffer(image, np.int64).tolist() == [r["image_id"] for r in results]
    assert np.frombuffer(score, np.float64).tolist() == [r["score"] for r in results]
    assert np.frombuffer(size, np.int64).reshape(n, 2).tolist() == [[17, 13]] * n
    assert bytes(strings[:length]) == b"".join(m["counts"] for m in masks)  # one after another
    if boxed:
        assert np.frombuffer(box, np.float64).reshape(n, 4).tolist() == [r["bbox"] for r in results]


def test_a_part_that_runs_past_its_stop_says_so() -> None:
    """A stop inside a result: the result is read past it (status 3), also when its string
    does not fit the block, which is as long as the text to the stop; a block shorter than
    that text is refused."""
    noise = np.random.default_rng(3).random((40, 40)) < 0.3
    masks = [mask_utils.encode(np.asfortranarray(m, dtype=np.uint8)) for m in (noise, ~noise)]
    results = _results(masks, boxed=False)
    text = json.dumps(results).encode()
    second = text.index(b"{", text.index(b"}}"))  # where the second result starts
    into = text.index(b"counts", second) + 12 - second  # a few characters into its string
    assert len(results[1]["segmentation"]["counts"]) > into
    for block in (into, len(text)):  # its string overflows the block, or fits
        assert _scan.scan_mask_part(text, second, second + into, bytearray(block))[0] == 3
    first = text.index(b"}}") + 2  # the end of the first result
    status, n = _scan.scan_mask_part(text, 0, first, bytearray(first))[:2]
    assert (status, n) == (1, 1)
    with pytest.raises(ValueError, match="shorter than the text"):
        _scan.scan_mask_part(text, 0, first, bytearray(first - 1))


@pytest.mark.parametrize(
    ("counts", "total"),
    [
        ("", 0),
        ("52203", 5 + 2 + 2 + (0 + 2) + (3 + 2)),  # from the fourth: a difference to two before
        ("0?", 15),  # "?" is "0" + 15
        ("0p", "a character outside '0' (48) to 'o' (111)"),  # "p" is "0" + 64
        ("0P", "the string ends inside a count"),  # "P" is "0" + 32: more should follow
        ("PPPPPPP0", "a count longer than 7 characters"),
        ("0@", "a count outside 0 to 2**32 - 1"),  # "@" is "0" + 16: the sign, -16
        ("000@", "a count outside 0 to 2**32 - 1"),  # 0 - 16 from the fourth count
    ],
)
def test_the_scanner_sums_each_string_or_says_why_it_does_not_decode(
    counts: str, total: int | str
) -> None:
    """Each string's counts are summed as it is read (the check against the image's size
    then needs no second pass); a string that does not decode gets -k, k naming why."""
    results = [{"image_id": 1, "category_id": 1, "score": 0.5,
                "segmentation": {"size": [1, 1], "counts": counts}}]  # fmt: skip
    scanned = _scan_whole(results)
    got = int(np.frombuffer(scanned[10], np.int64)[0])
    if isinstance(total, str):
        assert got < 0 and _scan.STRING_PROBLEMS[-got] == total
    else:
        assert got == total


def _reference_total(counts: str) -> int | str:
    """The sum of the counts of a string as maskApi.c's rleFrString reads it, or the first
    problem, written from its description (characters 48..111, 5 value bits, 0x20 = more,
    0x10 in the last = negative, from the fourth count on a difference to two before)."""
    values: list[int] = []
    p = 0
    while p < len(counts):
        x, shift, more = 0, 0, True
        while more:
            if p == len(counts):
                return "the string ends inside a count"
            c = ord(counts[p]) - 48
            if not 0 <= c <= 63:
                return "a character outside '0' (48) to 'o' (111)"
            if shift > 30:
                return "a count longer than 7 characters"
            x |= (c & 0x1F) << shift
            more, p, shift = bool(c & 0x20), p + 1, shift + 5
            if not more and c & 0x10:
                x -= 1 << shift
        if len(values) > 2:
            x += values[-2]
        if not 0 <= x <= 2**32 - 1:
            return "a count outside 0 to 2**32 - 1"
        values.append(x)
    return sum(values)


def _random_string(rng: random.Random) -> str:
    """Mask-like strings (counts of 1-2 characters mostly, some up to 8), or any
    characters, some outside the code, of lengths around the scanner's 64-character
    blocks."""
    length = rng.choice([0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 128, 129, 300])
    if rng.random() < 0.5:
        chars: list[str] = []
        while len(chars) < length:
            size = rng.choice([1, 1, 1, 2, 2, 3, 4, 7, 8])
            chars += [chr(80 + rng.randrange(32)) for _ in range(size - 1)]
            chars.append(chr(48 + rng.randrange(32)))
        return "".join(chars[:length])
    alphabet = [chr(c) for c in range(48, 112)] + ["p", "/", " ", "~", "*"] * (rng.random() < 0.3)
    return "".join(rng.choice(alphabet) for _ in range(length))


def test_the_scanner_sums_random_strings_as_rle_fr_string_reads_them() -> None:
    """Its block-at-a-time reading gives every sum and every first problem of the
    count-at-a-time one, on 20,000 strings."""
    rng = random.Random(0)
    strings = [_random_string(rng) for _ in range(20_000)]
    results = [{"image_id": 1, "category_id": 1, "score": 0.5,
                "segmentation": {"size": [1, 1], "counts": s}} for s in strings]  # fmt: skip
    totals = np.frombuffer(_scan_whole(results)[10], np.int64).tolist()
    got = [t if t >= 0 else _scan.STRING_PROBLEMS[-t] for t in totals]
    assert got == [_reference_total(s) for s in strings]


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r[1].pop("bbox"),  # a bbox on some results only
        lambda r: r[0]["segmentation"].update(extra=1),  # another key in the RLE object
        lambda r: r[0]["segmentation"].update(counts=[1, 2, 3]),  # uncompressed counts
        lambda r: r[0].update(segmentation=[[0, 0, 5, 0, 5, 5]]),  # a polygon
        lambda r: r[0]["segmentation"].update(counts='a"b'),  # an escape the scanner leaves
        lambda r: r[0].update(image_id="x"),  # a string id
    ],
)
def test_mask_results_off_the_plain_shape_go_to_the_loader(
    edit: Callable[[list[dict]], object],
) -> None:
    results = _results(_random_masks(np.random.default_rng(2), 3, 5, 5), boxed=True)
    edit(results)
    assert _scan_whole(results)[0] == 0  # not the plain shape


def test_unmeasured_masks_are_measured_when_asked() -> None:
    masks = _random_masks(np.random.default_rng(9), 25, 12, 17)
    blob, starts = _blob(masks)
    sizes = np.full(25, 12, dtype=np.int64), np.full(25, 17, dtype=np.int64)
    unmeasured = CompressedMasks.of_checked(blob, starts, *sizes)
    assert unmeasured.areas is None and unmeasured.boxes is None
    np.testing.assert_array_equal(unmeasured.to_bbox(), mask_utils.toBbox(masks), strict=True)
    np.testing.assert_array_equal(unmeasured.area(), mask_utils.area(masks), strict=True)
    np.testing.assert_array_equal(unmeasured.take([4, 1]).area(), mask_utils.area(masks)[[4, 1]])
