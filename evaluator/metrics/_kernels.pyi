import numpy as np
from numpy.typing import NDArray

def match(
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    det_row: NDArray[np.int64],
    det_box: NDArray[np.float64],
    det_area: NDArray[np.float64],
    position: NDArray[np.int64],
    gt_box: NDArray[np.float64],
    gt_crowd: NDArray[np.uint8],
    gt_counts: NDArray[np.uint8],
    gt_ignored: NDArray[np.uint8],
    area_range: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    similarity: NDArray[np.float64],
    sim_start: NDArray[np.int64],
    matched: NDArray[np.int32],
    outcome: NDArray[np.uint8],
    first: int,
    last: int,
    /,
) -> None: ...
def accumulate(
    class_start: NDArray[np.int64],
    det_rank: NDArray[np.int64],
    counted: NDArray[np.uint8],
    det_score: NDArray[np.float64],
    outcome: NDArray[np.uint8],
    n_positive: NDArray[np.int64],
    max_dets: NDArray[np.int64],
    rec_thrs: NDArray[np.float64],
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    scores: NDArray[np.float64],
    first: int,
    last: int,
    /,
) -> None: ...
def ranked_claims(
    target: NDArray[np.int64], hard: NDArray[np.uint8], flags: NDArray[np.uint8], /
) -> int: ...
def ranked_curves(
    start: NDArray[np.int64],
    flags: NDArray[np.uint8],
    n_pos: NDArray[np.int64],
    ranked_score: NDArray[np.float64],
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    out_score: NDArray[np.float64],
    out_tp: NDArray[np.uint8],
    kept_start: NDArray[np.int64],
    tp_start: NDArray[np.int64],
    every_kept: bool,
    /,
) -> None: ...
def greedy_match(
    pair_start: NDArray[np.int64],
    pair_gt: NDArray[np.int64],
    iou: NDArray[np.float64],
    det_order: NDArray[np.int64],
    taken: NDArray[np.uint8],
    matched: NDArray[np.int64],
    /,
) -> None: ...
def nearest(
    key_start: NDArray[np.int64],
    det_slot: NDArray[np.int64],
    gt_order: NDArray[np.int64],
    det_box: NDArray[np.float64],
    gt_box: NDArray[np.float64],
    gt_crowd: NDArray[np.uint8],
    det_class: NDArray[np.int64],
    gt_class: NDArray[np.int64],
    min_iou: float,
    d0: int,
    d1: int,
    out_gt: NDArray[np.int64],
    /,
) -> None: ...
def pair_candidates(
    key_start: NDArray[np.int64],
    det_slot: NDArray[np.int64],
    d0: int,
    d1: int,
    /,
) -> int: ...
def pairs(
    key_start: NDArray[np.int64],
    det_slot: NDArray[np.int64],
    gt_order: NDArray[np.int64],
    det_row: NDArray[np.int64],
    det_box: NDArray[np.float64],
    gt_box: NDArray[np.float64],
    gt_crowd: NDArray[np.uint8],
    min_iou: float,
    d0: int,
    d1: int,
    out_det: NDArray[np.int64],
    out_gt: NDArray[np.int64],
    out_iou: NDArray[np.float64],
    /,
) -> int: ...
def best_pairs(
    pair_det: NDArray[np.int64],
    pair_sets: NDArray[np.uint8],
    value: NDArray[np.float64],
    tiebreak: NDArray[np.int64],
    n_sets: int,
    best_value: NDArray[np.float64],
    best_pair: NDArray[np.int64],
    /,
) -> None: ...
def order_by_key(
    key: NDArray[np.int64], n_keys: int, order: NDArray[np.int64], start: NDArray[np.int64], /
) -> None: ...
def order_runs(
    order: NDArray[np.int64],
    start: NDArray[np.int64],
    score: NDArray[np.float64],
    tiebreak: NDArray[np.int64],
    k0: int,
    k1: int,
    /,
) -> None: ...
def oks_group_terms(
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    det_rows: NDArray[np.int64],
    det_keypoints: NDArray[np.float64],
    gt_keypoints: NDArray[np.float64],
    gt_box: NDArray[np.float64],
    gt_area: NDArray[np.float64],
    variances: NDArray[np.float64],
    first: int,
    last: int,
    terms: NDArray[np.float64],
    small: NDArray[np.float64],
    /,
) -> int: ...
def oks_group_means(
    det_start: NDArray[np.int64],
    gt_lo: NDArray[np.int64],
    gt_hi: NDArray[np.int64],
    gt_keypoints: NDArray[np.float64],
    n_keypoints: int,
    first: int,
    last: int,
    terms: NDArray[np.float64],
    small: NDArray[np.float64],
    out: NDArray[np.float64],
    /,
) -> None: ...
def group_by_key(
    key: NDArray[np.int64],
    n_keys: int,
    score: NDArray[np.float64],
    column: NDArray[np.int64],
    start: NDArray[np.int64],
    grouped_score: NDArray[np.float64],
    grouped_column: NDArray[np.int64],
    /,
) -> None: ...
def sort_groups(
    start: NDArray[np.int64],
    score: NDArray[np.float64],
    column: NDArray[np.int64],
    k0: int,
    k1: int,
    /,
) -> None: ...
