"""F1-versus-threshold curves: a plain-loop count at every threshold, thinning, best point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from coco_cases import matched_random_case

from evaluator.analyses.f1_curves import f1_curve, f1_curves_section
from evaluator.analyses.operating_points import operating_points


def _loop_curve(scores, tp, fp, n_positive):
    """Precision, recall, F1 at each distinct score, counting detections one by one."""
    out = []
    for threshold in sorted(set(scores.tolist()), reverse=True):
        n_tp = sum(1 for s, t in zip(scores, tp) if s >= threshold and t)
        n_fp = sum(1 for s, f in zip(scores, fp) if s >= threshold and f)
        precision = n_tp / (n_tp + n_fp) if n_tp + n_fp else None
        recall = n_tp / n_positive
        f1 = 2 * n_tp / (n_tp + n_fp + n_positive)
        out.append((threshold, precision, recall, f1))
    return out


def _case(seed: int):
    return matched_random_case(seed, score_decimals=1)  # many ties


@pytest.mark.parametrize("seed", range(4))
def test_curves_equal_a_loop_and_agree_with_operating_points(seed: int) -> None:
    matching, params, category_ids = _case(seed)
    section = f1_curves_section(matching, params, category_ids.tolist())
    json.dumps(section, allow_nan=False)
    points = operating_points(matching, params, category_ids).to_dict()
    tp = matching.true_positive[0, 0]
    fp = ~tp & ~matching.ignored[0, 0]
    for k, (curve, point) in enumerate(zip(section["per_class"], points["per_class"])):
        sl = matching.det_class == k
        n_positive = int(matching.n_positive[k, 0])
        best = point["best_f1"]
        if n_positive == 0:
            assert curve["f1"] is None and curve["best"] is None
            assert "no ground truth" in curve["undefined_reason"]
            continue
        expected = _loop_curve(matching.det_score[sl], tp[sl], fp[sl], n_positive)
        got = list(zip(curve["thresholds"], curve["precision"], curve["recall"], curve["f1"]))
        assert len(got) == len(expected)
        for row, reference in zip(got, expected):
            assert [v is None for v in row] == [v is None for v in reference]
            assert [v for v in row if v is not None] == pytest.approx(
                [v for v in reference if v is not None], rel=1e-12
            )
        if not expected:
            assert curve["best"] is None and curve["undefined_reason"] == "no detections"
            continue
        assert curve["best"]["threshold"] == best["threshold"]
        assert curve["best"]["f1"] == best["f1"]
    assert section["overall"]["best"]["f1"] == points["overall_best_f1"]["f1"]


def test_thinning_keeps_the_ends_and_the_best_point() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    scores = np.sort(rng.random(n))[::-1]
    tp = rng.random(n) < 0.4
    curve = f1_curve(scores, tp, ~tp, n_positive=500, max_points=50)
    full = f1_curve(scores, tp, ~tp, n_positive=500, max_points=n)
    assert curve["n_thresholds"] == full["n_thresholds"] == n
    assert 2 <= len(curve["thresholds"]) <= 50
    assert curve["thresholds"][0] == full["thresholds"][0]
    assert curve["thresholds"][-1] == full["thresholds"][-1]
    assert curve["best"] == full["best"]
    assert curve["best"]["threshold"] in curve["thresholds"]
    index = {t: i for i, t in enumerate(full["thresholds"])}
    for t, f in zip(curve["thresholds"], curve["f1"]):
        assert full["f1"][index[t]] == f
    with pytest.raises(ValueError, match="max_points"):
        f1_curve(scores, tp, ~tp, n_positive=500, max_points=1)
