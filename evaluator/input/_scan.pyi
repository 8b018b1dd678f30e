import mmap

import numpy as np

#: Why a mask's string does not decode, by the code a scanner's totals hold as -code.
STRING_PROBLEMS: tuple[str, ...]

class OwnedBuffer:
    """A read-only block of memory the scanner filled (the buffer protocol)."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

def scan_mask_part(
    data: bytes | mmap.mmap,
    start: int,
    stop: int,
    strings: bytearray | memoryview | mmap.mmap,
    /,
) -> tuple[
    int,
    int,
    OwnedBuffer,
    OwnedBuffer,
    OwnedBuffer,
    OwnedBuffer,
    int,
    OwnedBuffer,
    int,
    OwnedBuffer,
    OwnedBuffer,
]: ...
def scan_results_part(
    data: bytes | mmap.mmap,
    n_keypoints: int,
    start: int,
    stop: int,
    image_id: np.ndarray,
    category_id: np.ndarray,
    bbox: np.ndarray,
    score: np.ndarray,
    keypoints: np.ndarray,
    /,
) -> tuple[int, int, int]: ...
def count_byte(data: bytes | mmap.mmap, byte: int, start: int, stop: int, /) -> int: ...
def positions(
    sorted_ids: np.ndarray, ids: np.ndarray, position: np.ndarray, found: np.ndarray, /
) -> int: ...
def scan_number_rows(data: bytes, n: int, values: np.ndarray, present: np.ndarray, /) -> bool: ...
