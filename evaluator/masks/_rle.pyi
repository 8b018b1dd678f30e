from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

WRONG_SUM: str

def decode_strings(
    strings: Sequence[str | bytes],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    /,
) -> tuple[bytearray, bytearray]: ...
def encode_strings(counts: NDArray[np.uint32], offsets: NDArray[np.int64], /) -> list[bytes]: ...
def encode_masks(masks: NDArray[np.uint8], area: int, n: int, /) -> tuple[bytearray, bytearray]: ...
def decode_masks(
    counts: NDArray[np.uint32], offsets: NDArray[np.int64], area: int, out: NDArray[np.uint8], /
) -> None: ...
def area(
    counts: NDArray[np.uint32], offsets: NDArray[np.int64], out: NDArray[np.uint32], /
) -> None: ...
def to_bbox(
    counts: NDArray[np.uint32],
    offsets: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    out: NDArray[np.float64],
    /,
) -> None: ...
def merge(
    counts: NDArray[np.uint32],
    offsets: NDArray[np.int64],
    groups: NDArray[np.int64],
    intersect: bool,
    /,
) -> tuple[bytearray, bytearray]: ...
def iou(
    dt_counts: NDArray[np.uint32],
    dt_offsets: NDArray[np.int64],
    dt_box: NDArray[np.float64],
    gt_counts: NDArray[np.uint32],
    gt_offsets: NDArray[np.int64],
    gt_box: NDArray[np.float64],
    crowd: NDArray[np.uint8],
    out: NDArray[np.float64],
    d0: int,
    d1: int,
    /,
) -> None: ...
def box_iou(
    dt_box: NDArray[np.float64],
    gt_box: NDArray[np.float64],
    crowd: NDArray[np.uint8],
    out: NDArray[np.float64],
    /,
) -> None: ...
def polygons(
    coords: NDArray[np.float64],
    poly_start: NDArray[np.int64],
    object_start: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    /,
) -> tuple[bytearray, bytearray]: ...
def pair_iou(
    dt_counts: NDArray[np.uint32],
    dt_offsets: NDArray[np.int64],
    dt_box: NDArray[np.float64],
    dt_area: NDArray[np.uint32],
    gt_counts: NDArray[np.uint32],
    gt_offsets: NDArray[np.int64],
    gt_box: NDArray[np.float64],
    gt_area: NDArray[np.uint32],
    gt_height: NDArray[np.int64],
    crowd: NDArray[np.uint8],
    pair_dt: NDArray[np.int64],
    pair_gt: NDArray[np.int64],
    out: NDArray[np.float64],
    /,
) -> None: ...
def measure_strings(
    blob: bytes | memoryview,
    starts: NDArray[np.int64],
    heights: NDArray[np.int64],
    widths: NDArray[np.int64],
    areas: NDArray[np.uint32],
    boxes: NDArray[np.float64],
    /,
) -> None: ...
def pair_iou_strings(
    dt_blob: bytes | memoryview,
    dt_starts: NDArray[np.int64],
    dt_box: NDArray[np.float64],
    dt_area: NDArray[np.uint32],
    gt_counts: NDArray[np.uint32],
    gt_offsets: NDArray[np.int64],
    gt_box: NDArray[np.float64],
    gt_area: NDArray[np.uint32],
    gt_height: NDArray[np.int64],
    crowd: NDArray[np.uint8],
    pair_dt: NDArray[np.int64],
    pair_gt: NDArray[np.int64],
    out: NDArray[np.float64],
    /,
) -> None: ...
def parse_polygons(
    blob: bytes | memoryview, starts: NDArray[np.int64], /
) -> tuple[bytearray, bytearray, bytearray, bytearray] | None: ...
def release_freed() -> None: ...
def group_iou(
    dt_data: bytes | memoryview | NDArray[np.uint32],
    dt_starts: NDArray[np.int64],
    compressed: bool,
    dt_box: NDArray[np.float64],
    dt_area: NDArray[np.uint32],
    gt_counts: NDArray[np.uint32],
    gt_offsets: NDArray[np.int64],
    gt_box: NDArray[np.float64],
    gt_area: NDArray[np.uint32],
    gt_height: NDArray[np.int64],
    gt_width: NDArray[np.int64],
    crowd: NDArray[np.uint8],
    det_rows: NDArray[np.int64],
    gt_rows: NDArray[np.int64],
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    block_start: NDArray[np.int64],
    out: NDArray[np.float64],
    k0: int,
    k1: int,
    /,
) -> None: ...
def map_large_blocks() -> None: ...
def place(
    counts: NDArray[np.uint32],
    offsets: NDArray[np.int64],
    at: NDArray[np.int64],
    out_offsets: NDArray[np.int64],
    out: NDArray[np.uint32],
    /,
) -> None: ...
