"""Bad masks are refused with InputError saying what is wrong and where.

pycocotools reads past its buffers, returns garbage or aborts on these; evaluator.masks
names the first bad item, as ``rles[1].counts``, ``polygons[0]``, ``segmentations[2][1]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from evaluator import masks
from evaluator.errors import InputError

OK = {"size": [3, 4], "counts": b"0<"}  # a full 3 x 4 mask
TRIANGLE = [0.0, 0.0, 3.0, 0.0, 3.0, 2.0]


def rle(counts: object, size: object = (3, 4)) -> dict[str, object]:
    return {"size": list(size) if isinstance(size, tuple) else size, "counts": counts}


CASES: list[tuple[str, Callable[[], object], str, str]] = [
    # (name, call, location, a part of the problem)
    ("string sums short", lambda: masks.decode(rle("6")), "rles.counts", "do not sum"),
    ("character below '0'", lambda: masks.area([OK, rle("0 ")]), "rles[1].counts", "outside"),
    ("character above 'o'", lambda: masks.area([rle("0p")]), "rles[0].counts", "outside"),
    ("string ends inside a count", lambda: masks.area([rle("P")]), "rles[0].counts", "ends"),
    ("count of 8 characters", lambda: masks.area([rle("PPPPPPP0")]), "rles[0].counts", "7"),
    ("negative count", lambda: masks.to_bbox([rle("@")]), "rles[0].counts", "outside 0"),
    ("list sums long", lambda: masks.area(rle([1, 12])), "rles.counts", "sum to 13"),
    ("negative in a list", lambda: masks.area(rle([-1, 13])), "rles.counts", "outside"),
    ("floats in a list", lambda: masks.area(rle([1.5, 10.5])), "rles.counts", "integers"),
    ("no size", lambda: masks.area({"counts": "0<"}), "rles.size", "[height, width]"),
    ("size of one number", lambda: masks.area(rle("0<", [3])), "rles.size", "[height, width]"),
    ("negative size", lambda: masks.area(rle([], [-1, 4])), "rles.size", ">= 0"),
    ("size beyond uint32", lambda: masks.area(rle([], [65536, 65536])), "rles.size", "2**32"),
    ("no counts", lambda: masks.area({"size": [3, 4]}), "rles", "'counts'"),
    ("not a dict", lambda: masks.area([OK, "0<"]), "rles[1]", "RLE object"),
    ("merge of two sizes", lambda: masks.merge([OK, rle("0<", [4, 3])]), "rles[1].size", "[3, 4]"),
    (
        "decode of two sizes",
        lambda: masks.decode([OK, rle("08", [2, 4])]),
        "rles[1].size",
        "[3, 4]",
    ),
    (
        "iou of two sizes",
        lambda: masks.iou([rle("08", [2, 4])], [OK], [0]),
        "dt[0].size",
        "differs from gt[0]",
    ),
    ("iscrowd too short", lambda: masks.iou([OK], [OK, OK], [0]), "iscrowd", "expected 2 flags"),
    (
        "polygon of 2 points",
        lambda: masks.from_polygons([TRIANGLE, [1, 2, 3, 4]], 5, 5),
        "polygons[1]",
        "at least 6 numbers",
    ),
    (
        "odd count",
        lambda: masks.from_polygons([[*TRIANGLE, 1.0]], 5, 5),
        "polygons[0]",
        "even count",
    ),
    (
        "NaN coordinate",
        lambda: masks.from_polygons([TRIANGLE, [0, 0, 1, math.nan, 1, 1]], 5, 5),
        "polygons[1]",
        "coordinate 3 is NaN",
    ),
    (
        "infinite coordinate",
        lambda: masks.from_polygons([0, 0, 1, 0, math.inf, 1], 5, 5),
        "polygon",
        "coordinate 4 is inf",
    ),
    (
        "text coordinate",
        lambda: masks.from_polygons([TRIANGLE, [0, 0, "a", 0, 1, 1]], 5, 5),
        "polygons[1]",
        "numbers",
    ),
    (
        "NaN box",
        lambda: masks.from_polygons(np.array([[0, 0, 1, 1], [0, 0, math.nan, 1]]), 5, 5),
        "boxes[1]",
        "number 2 is nan",
    ),
    ("one NaN box", lambda: masks.from_polygons([0, 0, math.nan, 1], 5, 5), "boxes", "number 2"),
    ("RLE alone", lambda: masks.from_polygons(rle([1]), 3, 4), "rle.counts", "sum to 1"),
    ("iou of a dict", lambda: masks.iou(OK, [OK], [0]), "dt", "a list of RLE objects"),
    ("iou of text boxes", lambda: masks.iou(np.array([["a"] * 4]), [OK], [0]), "dt", "numbers"),
    ("empty list", lambda: masks.from_polygons([], 5, 5), "pyobj", "non-empty"),
    ("image of 0 x 5", lambda: masks.from_polygons([TRIANGLE], 0, 5), "h, w", "at least 1 x 1"),
    (
        "uncompressed RLE of another size",
        lambda: masks.from_polygons([rle([12])], 4, 4),
        "rles[0].size",
        "differs from the image's [4, 4]",
    ),
    ("mask of floats", lambda: masks.encode(np.zeros((2, 2))), "mask", "bool or integers"),
    ("mask of 1 dimension", lambda: masks.encode(np.zeros(4, np.uint8)), "mask", "shape"),
    (
        "batch: bad string among polygons",
        lambda: masks.RunLengths.from_coco([[TRIANGLE], "0<", "6"], [3, 3, 3], [4, 4, 4]),
        "segmentations[2].counts",
        "do not sum",
    ),
    (
        "batch: NaN in an object's second polygon",
        lambda: masks.RunLengths.from_coco(
            [[TRIANGLE], [TRIANGLE, [0, math.nan, 1, 1, 2, 0]]], [5, 5], [5, 5], where="anns"
        ),
        "anns[1][1]",
        "coordinate 1 is NaN",
    ),
    (
        "batch: polygons without the image size",
        lambda: masks.RunLengths.from_coco([[TRIANGLE]]),
        "segmentations[0]",
        "RLE object",
    ),
    (
        "batch: RLE of another size than its image",
        lambda: masks.RunLengths.from_coco([OK], [4], [3]),
        "segmentations[0].size",
        "differs from the image's [4, 3]",
    ),
    (
        "batch: object without polygons",
        lambda: masks.RunLengths.from_coco([[]], [4], [3]),
        "segmentations[0]",
        "non-empty list of polygons",
    ),
    (
        "batch: columns that do not sum",
        lambda: masks.RunLengths(np.array([12, 5], np.uint32), [0, 1, 2], [3, 3], [4, 4]),
        "RunLengths[1]",
        "do not sum",
    ),
    (
        "batch: a negative count",
        lambda: masks.RunLengths(np.array([-1, 13]), [0, 2], [3], [4]),
        "RunLengths.counts",
        "integers in [0, 2**32)",
    ),
    (
        "batch: a size overflowing int64",
        lambda: masks.RunLengths(np.zeros(1, np.uint32), [0, 1], [2**40], [2**40]),
        "RunLengths[0]",
        "above 2**32 - 1",
    ),
    (
        "batch: crowd flags",
        lambda: masks.pairwise_iou(
            masks.RunLengths.from_coco([OK]), masks.RunLengths.from_coco([OK]), [0, 1]
        ),
        "crowd",
        "expected 1 flags",
    ),
]


@pytest.mark.parametrize(
    ("call", "location", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_located(call: Callable[[], object], location: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.location == location
    assert problem in caught.value.problem


def test_valid_neighbours_of_the_bad_cases_pass() -> None:
    # the error cases above are near valid input, which must still be read
    assert masks.area(OK) == 12
    assert masks.area(rle([1, 11])) == 11
    assert masks.to_bbox([rle("0<"), rle([12])]).shape == (2, 4)
    assert len(masks.from_polygons([TRIANGLE, TRIANGLE], 5, 5)) == 2
