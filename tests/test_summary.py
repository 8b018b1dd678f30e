"""The summary numbers of every class at once equal pycocotools' one-slice-at-a-time means.

``summary_tables`` averages each class as a row of one array; here it is checked, to the
bit, against pycocotools' own rule applied to one class (or all classes) at a time, on
arrays with the -1 patterns and parameter sets a real accumulation rarely has: classes
partly -1, max_dets without 100 or with a repeated value, an area label missing, no
classes at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from evaluator.metrics.params import CocoParams
from evaluator.metrics.summary import (
    StatSpec,
    stat_max_dets,
    stat_specs,
    summarize,
    summarize_classes,
    summarize_one,
    summary_tables,
)


def _pycocotools_mean(
    spec: StatSpec,
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    params: CocoParams,
    category: int | None,
) -> float:
    """``COCOeval.summarize``'s ``_summarize``, restricted to one class when asked."""
    aind = [i for i, label in enumerate(params.area_labels) if label == spec.area]
    max_det = stat_max_dets(spec, params.max_dets, params.mode)
    mind = [i for i, m in enumerate(params.max_dets) if m == max_det]
    s = precision if spec.kind == "AP" else recall
    if spec.iou is not None:
        s = s[np.where(spec.iou == params.iou_thresholds)[0]]
    if category is not None:
        s = s[:, :, [category]] if spec.kind == "AP" else s[:, [category]]
    s = s[:, :, :, aind, mind] if spec.kind == "AP" else s[:, :, aind, mind]
    return float(np.mean(s[s > -1])) if (s > -1).any() else -1.0


def _arrays(
    params: CocoParams, n_classes: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Precision and recall with classes all -1, planes -1, partly -1 and all defined."""
    rng = np.random.default_rng(seed)
    shape = (
        params.iou_thresholds.shape[0],
        params.recall_thresholds.shape[0],
        n_classes,
        len(params.area_ranges),
        len(params.max_dets),
    )
    precision = rng.random(shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)
    recall = rng.random((shape[0], *shape[2:]))
    if n_classes >= 3:
        precision[:, :, 0], recall[:, 0] = -1, -1  # no ground truth
        precision[:, :, 1, 0], recall[:, 1, 0] = -1, -1  # none in the first area range
        scattered = rng.random(shape) < 0.05  # classes 2 and 3 partly -1, the others not
        scattered[:, :, 4:] = False
        precision[scattered] = -1
        recall[(rng.random(recall.shape) < 0.3) & (np.arange(n_classes) < 4)[:, None, None]] = -1
    return precision, recall


PARAMS = [
    pytest.param({}, id="boxes"),
    pytest.param({"iou_type": "keypoints"}, id="keypoints"),
    pytest.param({"max_dets": [1, 10]}, id="no-100"),
    pytest.param({"max_dets": [10, 100, 100]}, id="repeated-max-dets"),
    pytest.param({"area_ranges": {"all": (0, 1e10), "large": (96**2, 1e10)}}, id="no-small"),
    pytest.param({"iou_thresholds": [0.3, 0.5]}, id="no-75"),
    pytest.param({"mode": "corrected", "max_dets": [5, 50, 300]}, id="corrected"),
]


@pytest.mark.parametrize("options", PARAMS)
@pytest.mark.parametrize("n_classes", [0, 1, 7])
def test_tables_equal_one_slice_at_a_time(options: dict[str, Any], n_classes: int) -> None:
    params = CocoParams.build(**options)
    precision, recall = _arrays(params, n_classes, seed=n_classes)
    stats, per_class = summary_tables(precision, recall, params)
    specs = stat_specs(params.iou_type)
    expected = [_pycocotools_mean(s, precision, recall, params, None) for s in specs]
    assert stats.tobytes() == np.array(expected).tobytes()
    assert stats.tobytes() == summarize(precision, recall, params).tobytes()
    assert per_class.shape == (n_classes, len(specs))
    for k in range(n_classes):
        row = [_pycocotools_mean(s, precision, recall, params, k) for s in specs]
        assert per_class[k].tobytes() == np.array(row).tobytes(), k
        assert summarize(precision, recall, params, k).tobytes() == per_class[k].tobytes()
        for j, spec in enumerate(specs):
            assert summarize_one(spec, precision, recall, params, k) == row[j]
    for j, spec in enumerate(specs):
        column = summarize_classes(spec, precision, recall, params)
        assert column.tobytes() == per_class[:, j].tobytes()


def test_the_arrays_have_each_kind_of_class() -> None:
    # Guards the test above against arrays that miss a branch of the row-wise means.
    params = CocoParams.build()
    precision, recall = _arrays(params, 7, seed=7)
    by_class = (np.moveaxis(precision[:, :, :, 0, -1], 2, 0), recall[:, :, 0, -1].T)
    for values in by_class:
        rows = values.reshape(7, -1) > -1
        assert not rows[:2].any()
        assert (rows[2:4].any(axis=1) & ~rows[2:4].all(axis=1)).all()
        assert rows[4:].all()
