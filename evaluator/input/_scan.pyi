def split_points(data: bytes, parts: int, /) -> list[int]: ...
def scan_predictions(
    data: bytes, n_keypoints: int = 0, start: int = 0, stop: int = -1, /
) -> tuple[int, OwnedBuffer, OwnedBuffer, OwnedBuffer, OwnedBuffer, OwnedBuffer, bool] | None: ...

class OwnedBuffer:
    """A read-only block of memory the scanner filled (the buffer protocol)."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

def scan_mask_results(
    data: bytes, start: int = 0, stop: int = -1, /
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
