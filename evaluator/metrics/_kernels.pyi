import numpy as np
from numpy.typing import NDArray

def match(
    det_start: NDArray[np.int64],
    gt_start: NDArray[np.int64],
    det_box: NDArray[np.float64],
    gt_box: NDArray[np.float64],
    gt_crowd: NDArray[np.uint8],
    gt_ignored: NDArray[np.uint8],
    thresholds: NDArray[np.float64],
    matched: NDArray[np.int32],
    n_area: int,
    first: int,
    last: int,
    /,
) -> None: ...
