import mmap

def scan_predictions(
    data: bytes | mmap.mmap, n_keypoints: int = 0, /
) -> tuple[int, OwnedBuffer, OwnedBuffer, OwnedBuffer, OwnedBuffer, OwnedBuffer, bool] | None: ...

class OwnedBuffer:
    """A read-only block of memory the scanner filled (the buffer protocol)."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

def scan_mask_results(
    data: bytes, /
) -> (
    tuple[
        int,
        OwnedBuffer,
        OwnedBuffer,
        OwnedBuffer,
        OwnedBuffer,
        bool,
        OwnedBuffer,
        OwnedBuffer,
        OwnedBuffer,
    ]
    | None
): ...
