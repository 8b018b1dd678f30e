"""Detection confusion matrix: hand-built cases with every cell known, and a loop oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator.analyses.confusion import detection_confusion_matrix
from evaluator.input.columns import DetectionArrays, GroundTruthArrays

CAT, DOG = 1, 2
NAMES = {CAT: "cat", DOG: "dog"}
A = [0, 0, 10, 10]
B = [50, 0, 10, 10]
C = [100, 0, 10, 10]
EMPTY_SPOT = [200, 200, 10, 10]


def _gt(rows, crowd=(), difficult=()):
    """rows: (image, category, box); crowd/difficult: indices of flagged rows."""
    n = len(rows)
    return GroundTruthArrays(
        [r[0] for r in rows],
        [r[1] for r in rows],
        np.array([r[2] for r in rows], dtype=float).reshape(-1, 4),
        iscrowd=np.isin(np.arange(n), list(crowd)),
        difficult=np.isin(np.arange(n), list(difficult)),
    )


def _det(rows):
    """rows: (image, category, box, score)."""
    return DetectionArrays(
        [r[0] for r in rows],
        [r[1] for r in rows],
        np.array([r[2] for r in rows], dtype=float).reshape(-1, 4),
        [r[3] for r in rows],
    )


def _matrix(gt_rows, det_rows, score_threshold=0.5, **kwargs):
    return detection_confusion_matrix(
        _gt(gt_rows, kwargs.pop("crowd", ()), kwargs.pop("difficult", ())),
        _det(det_rows),
        score_threshold=score_threshold,
        category_names=NAMES,
        **kwargs,
    )


def test_every_kind_of_cell():
    gts = [(0, CAT, A), (0, DOG, B), (0, DOG, C)]
    dets = [
        (0, CAT, A, 0.9),  # correct cat
        (0, CAT, B, 0.8),  # a dog taken for a cat
        (0, DOG, EMPTY_SPOT, 0.7),  # background taken for a dog
        (0, DOG, C, 0.4),  # below the score threshold: the dog at C is missed
    ]
    m = _matrix(gts, dets)
    assert m.row_labels == ("cat", "dog", "background")
    assert m.column_labels == ("cat", "dog", "missed")
    #                          cat dog missed
    assert m.counts.tolist() == [
        [1, 0, 0],  # cat
        [1, 0, 1],  # dog
        [0, 1, 0],  # background
    ]
    assert m.counts.dtype == np.int64 and m.n_ignored == 0


def test_score_threshold_is_inclusive():
    m = _matrix([(0, CAT, A)], [(0, CAT, A, 0.5)], score_threshold=0.5)
    assert m.counts.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    m = _matrix([(0, CAT, A)], [(0, CAT, A, 0.5)], score_threshold=0.51)
    assert m.counts.tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 0]]


def test_each_ground_truth_is_used_once():
    # The higher score takes the cat; the second prediction on it is background.
    m = _matrix([(0, CAT, A)], [(0, DOG, A, 0.6), (0, CAT, A, 0.9)])
    assert m.counts.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]


def test_matching_is_class_agnostic_by_best_iou():
    # The cat prediction overlaps the dog (IoU 1) more than the cat (IoU 60/140): it is a
    # dog taken for a cat, and the real cat is missed.
    near_a = [4, 0, 10, 10]  # IoU with A: 60 / 140
    gts = [(0, CAT, near_a), (0, DOG, A)]
    m = _matrix(gts, [(0, CAT, A, 0.9)], iou_threshold=0.4)
    assert m.counts.tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 0]]


def test_later_prediction_falls_back_to_the_next_free_ground_truth():
    # Unlike VOC matching, a prediction skips ground truth already taken.
    a, b = [0, 0, 10, 10], [2, 0, 10, 10]
    second = [0.5, 0, 10, 10]  # IoU 95/105 with a (taken), 85/115 with b
    m = _matrix([(0, CAT, a), (0, DOG, b)], [(0, CAT, a, 0.9), (0, CAT, second, 0.8)])
    assert m.counts.tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_iou_threshold_is_inclusive():
    half = [0, 0, 10, 5]  # IoU exactly 0.5 with A
    assert _matrix([(0, CAT, A)], [(0, CAT, half, 0.9)]).counts[0, 0] == 1
    m = _matrix([(0, CAT, A)], [(0, CAT, half, 0.9)], iou_threshold=0.51)
    assert m.counts.tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_matching_stays_inside_an_image():
    m = _matrix([(0, CAT, A)], [(1, CAT, A, 0.9)])
    assert m.counts.tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_crowd_region_absorbs_predictions_and_is_never_missed():
    crowd = [0, 0, 100, 100]
    inside = [10, 10, 10, 10]  # IoU 0.01, but entirely inside the crowd region
    gts = [(0, CAT, crowd), (0, DOG, B)]
    dets = [(0, CAT, inside, 0.9), (0, DOG, [20, 20, 10, 10], 0.8), (0, DOG, EMPTY_SPOT, 0.7)]
    m = _matrix(gts, dets, crowd=[0])
    # Both predictions inside the region are ignored; the dog at B, also inside, is missed.
    assert m.counts.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert m.n_ignored == 2


def test_regular_ground_truth_wins_over_a_crowd_region():
    crowd = [0, 0, 100, 100]
    m = _matrix([(0, CAT, crowd), (0, DOG, A)], [(0, CAT, A, 0.9)], crowd=[0])
    assert m.counts.tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert m.n_ignored == 0


def test_difficult_ground_truth_uses_plain_iou():
    region = [0, 0, 100, 100]
    inside = [10, 10, 10, 10]
    gts = [(0, CAT, region), (0, DOG, A)]
    dets = [(0, CAT, inside, 0.9), (0, DOG, A, 0.8), (0, DOG, region, 0.7)]
    m = _matrix(gts, dets, difficult=[0])
    # `inside` has IoU 0.01 with the difficult box: background. `region` is absorbed.
    assert m.counts.tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert m.n_ignored == 1


def test_labels_cover_declared_and_seen_categories():
    m = detection_confusion_matrix(
        _gt([(0, 3, A)]), _det([(0, 5, B, 0.9)]), score_threshold=0.5, category_names=NAMES
    )
    assert m.category_ids == (1, 2, 3, 5)
    assert m.names == ("cat", "dog", "3", "5")
    assert m.counts.shape == (5, 5)
    assert m.counts[2, 4] == 1 and m.counts[4, 3] == 1 and m.counts.sum() == 2


def test_empty_input():
    m = detection_confusion_matrix(_gt([]), _det([]), score_threshold=0.5, category_names=NAMES)
    assert m.counts.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    m = detection_confusion_matrix(_gt([]), _det([]), score_threshold=0.5)
    assert m.counts.tolist() == [[0]] and m.row_labels == ("background",)


def test_to_dict_is_json():
    m = _matrix([(0, CAT, A), (0, DOG, B)], [(0, CAT, A, 0.9)])
    report = m.to_dict()
    assert json.loads(json.dumps(report, allow_nan=False)) == {
        "iou_threshold": 0.5,
        "score_threshold": 0.5,
        "category_ids": [1, 2],
        "row_labels": ["cat", "dog", "background"],
        "column_labels": ["cat", "dog", "missed"],
        "counts": [[1, 0, 0], [0, 0, 1], [0, 0, 0]],
        "n_ignored_predictions": 0,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iou_threshold": 0.0, "score_threshold": 0.5}, "iou_threshold must be in"),
        ({"score_threshold": float("nan")}, "score_threshold must be finite"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detection_confusion_matrix(_gt([]), _det([]), **kwargs)


# --------------------------------------------------------------------------- loop oracle


def _iou(det, gold, crowd):
    iw = min(det[0] + det[2], gold[0] + gold[2]) - max(det[0], gold[0])
    ih = min(det[1] + det[3], gold[1] + gold[3]) - max(det[1], gold[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = det[2] * det[3] if crowd else det[2] * det[3] + gold[2] * gold[3] - inter
    return inter / union


def _oracle(gts, crowd, difficult, dets, categories, score_threshold, iou_threshold):
    k = len(categories)
    index = {c: i for i, c in enumerate(categories)}
    counts = np.zeros((k + 1, k + 1), dtype=np.int64)
    ignored = 0
    for image in sorted({g[0] for g in gts} | {d[0] for d in dets}):
        golds = [(j, g) for j, g in enumerate(gts) if g[0] == image]
        kept = [d for d in dets if d[0] == image and d[3] >= score_threshold]
        taken = set()
        for det in sorted(kept, key=lambda d: -d[3]):
            best, best_iou = None, -1.0
            for j, gold in golds:
                if j in crowd or j in difficult or j in taken:
                    continue
                iou = _iou(det[2], gold[2], False)
                if iou >= iou_threshold and iou > best_iou:
                    best, best_iou = j, iou
            if best is not None:
                taken.add(best)
                counts[index[gts[best][1]], index[det[1]]] += 1
            elif any(
                _iou(det[2], gold[2], j in crowd) >= iou_threshold
                for j, gold in golds
                if j in crowd or j in difficult
            ):
                ignored += 1
            else:
                counts[k, index[det[1]]] += 1
        for j, gold in golds:
            if j not in taken and j not in crowd and j not in difficult:
                counts[index[gold[1]], k] += 1
    return counts, ignored


@pytest.mark.parametrize("seed", range(30))
def test_matches_loop_oracle(seed):
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for image in range(rng.integers(1, 8)):
        for _ in range(rng.integers(0, 7)):
            box = [*rng.uniform(0, 60, 2), *rng.uniform(5, 40, 2)]
            gts.append((image, int(rng.integers(1, 4)), box))
    for image, _, box in gts:
        for _ in range(rng.integers(0, 4)):
            jittered = [box[0] + rng.normal(0, 3), box[1] + rng.normal(0, 3)]
            jittered += [box[2] * rng.uniform(0.7, 1.3), box[3] * rng.uniform(0.7, 1.3)]
            dets.append((image, int(rng.integers(1, 4)), jittered, round(rng.random(), 1)))
    for _ in range(rng.integers(0, 8)):
        box = [*rng.uniform(0, 60, 2), *rng.uniform(5, 40, 2)]
        dets.append((int(rng.integers(0, 8)), int(rng.integers(1, 4)), box, rng.random()))
    crowd = set(np.flatnonzero(rng.random(len(gts)) < 0.1).tolist())
    difficult = set(np.flatnonzero(rng.random(len(gts)) < 0.1).tolist()) - crowd
    score_threshold = float(rng.choice([0.0, 0.3, 0.5]))
    iou_threshold = float(rng.choice([0.3, 0.5, 0.7]))

    m = detection_confusion_matrix(
        _gt(gts, crowd, difficult),
        _det(dets),
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
    )
    categories = sorted({g[1] for g in gts} | {d[1] for d in dets})
    counts, ignored = _oracle(
        gts, crowd, difficult, dets, categories, score_threshold, iou_threshold
    )
    np.testing.assert_array_equal(m.counts, counts)
    assert m.n_ignored == ignored
    k = len(categories)
    kept = [d for d in dets if d[3] >= score_threshold]
    # Class rows hold every non-ignored ground truth; class columns every counted prediction.
    regular = [g for j, g in enumerate(gts) if j not in crowd and j not in difficult]
    assert m.counts[:k].sum() == len(regular)
    assert m.counts[:, :k].sum() == len(kept) - m.n_ignored
    assert m.counts[k, k] == 0
