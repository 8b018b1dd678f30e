def scan_predictions(
    data: bytes, n_keypoints: int = 0, /
) -> tuple[int, bytes, bytes, bytes, bytes, bytes, bool] | None: ...

class OwnedBuffer:
    """A read-only block of memory the scanner filled (the buffer protocol)."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

def scan_mask_results(
    data: bytes, /
) -> tuple[int, bytes, bytes, bytes, bytes, bool, bytes, OwnedBuffer, bytes] | None: ...
