"""TIDE error breakdown (Bolya et al., ECCV 2020) on the COCO matching at IoU 0.5.

Every detection the COCO matching scores as a false positive (IoU threshold
``t_f = 0.5``, area ``"all"``, the largest ``max_dets``) gets one error type, from its
best IoU with the non-ignored ground truth of its image (``t_b = 0.1``), tested in the
order of TIDE's reference implementation; the first that applies wins:

1. **background**: the image has no non-ignored ground truth;
2. **localization**: ``t_b <= IoU < t_f`` with the best ground truth of its own class;
3. **classification**: ``IoU >= t_f`` with a ground truth of another class;
4. **duplicate**: ``IoU >= t_f`` with a ground truth of its own class that another
   detection already took;
5. **background**: ``IoU < t_b`` with every ground truth;
6. **both** (classification and localization): anything else, i.e.
   ``t_b <= IoU < t_f`` with a ground truth of another class only.

A ground truth that no detection took is **missed** unless a localization or
classification error points at it with that ground truth still free (fixing the error
would find it).

Each error type has an oracle fix, applied to all errors of that type at once with the
rest unchanged; ``dAP`` is the AP50 after the fix minus the AP50 before:

* classification / localization: the error becomes a true positive of the ground truth
  it points at (moving to that ground truth's class for classification). When several
  errors point at the same free ground truth, only the highest-scored one is turned
  (ties: the earlier detection in the input); the others, and any error whose ground
  truth was already taken, are removed;
* both, duplicate, background: the detection is removed;
* missed: the ground truth is removed from the positives.

Two further numbers follow TIDE's "special" errors: ``false_positives`` (every false
positive removed) and ``false_negatives`` (every ground truth nothing took removed).

AP is recomputed by :func:`evaluator.metrics.accumulation.accumulate_ranked` on the
modified detections, so the unmodified AP50 is the report's ``AP50`` to the bit (with
default parameters, where ``max_dets[2]`` is the largest). Unlike the ``tidecv`` package,
the matching is COCO's (crowd regions absorb detections as in pycocotools) and classes
without ground truth stay out of the mean, as in COCO, rather than counting as AP 0.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.input.columns import GroundTruth, Predictions
from evaluator.metrics.accumulation import Accumulated, accumulate_ranked
from evaluator.metrics.matching import Matching, index_of
from evaluator.metrics.pairs import best_pair_per_set, overlapping_mask_pairs, overlapping_pairs
from evaluator.metrics.params import CocoParams
from evaluator.metrics.summary import StatSpec, summarize_classes, summarize_one

T_FOREGROUND = 0.5
T_BACKGROUND = 0.1

ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
"""TIDE's six main error types, in its reporting order."""

SPECIAL_ERRORS = ("false_positives", "false_negatives")

_CLS, _LOC, _BOTH, _DUPE, _BKG = range(5)  # indices into ERROR_TYPES
_NO_ERROR = -1
_SAME, _OTHER, _SAME_TAKEN = 1, 2, 4  # bits of a pair's sets in classify_errors
_DEFINITION = (
    "TIDE (Bolya et al. 2020) on the COCO matching at IoU 0.5, area 'all'; dAP is the "
    "AP50 after fixing every error of that type (oracle fix) minus the AP50"
)


@dataclass(frozen=True, eq=False)
class TideErrors:
    """The error type of every false positive and the missed ground truth.

    Attributes
    ----------
    matching : Matching
        The detections and ground truth, restricted to IoU ``t_f`` and the first area
        range: ``true_positive`` and ``ignored`` of shape (1, 1, D), ``matched_gt`` (1, D).
    params : CocoParams
        Parameters of that restricted matching (one IoU threshold, one area range, one
        ``max_dets``).
    det_error : ndarray of shape (D,), dtype int8
        Index into :data:`ERROR_TYPES` of each detection's error, -1 for true positives
        and ignored detections.
    det_target : ndarray of shape (D,), dtype int64
        Ground truth (index into ``matching.gt``) a classification or localization error
        points at, -1 otherwise.
    det_fixed_tp : ndarray of shape (D,), dtype bool
        Classification or localization errors that their fix turns into a true positive;
        the fix removes the other ones.
    gt_false_negative : ndarray of shape (G,), dtype bool
        Non-ignored ground truth that no detection took.
    gt_missed : ndarray of shape (G,), dtype bool
        False negatives that no classification or localization fix would find.
    gt_class : ndarray of shape (G,), dtype int64
        Accumulation class of each ground truth.
    """

    matching: Matching
    params: CocoParams
    det_error: NDArray[np.int8]
    det_target: NDArray[np.int64]
    det_fixed_tp: NDArray[np.bool_]
    gt_false_negative: NDArray[np.bool_]
    gt_missed: NDArray[np.bool_]
    gt_class: NDArray[np.int64]

    def counts(self) -> NDArray[np.int64]:
        """Errors per class and type, shape (C, 6), dtype int64.

        False positives count in the class they were predicted as, missed ground truth
        in its own class; columns follow :data:`ERROR_TYPES`.
        """
        n_classes = self.matching.n_positive.shape[0]
        n_types = len(ERROR_TYPES)
        is_error = self.det_error >= 0
        cell = self.matching.det_class[is_error] * n_types + self.det_error[is_error]
        out = np.bincount(cell, minlength=n_classes * n_types).reshape(n_classes, n_types)
        out[:, ERROR_TYPES.index("missed")] = np.bincount(
            self.gt_class[self.gt_missed], minlength=n_classes
        )
        return out


def unavailable_reason(params: CocoParams) -> str | None:
    """Why the breakdown cannot be computed with these parameters, or None if it can."""
    if not params.use_cats:
        return "class-agnostic evaluation: TIDE's error types need categories"
    if not (params.iou_thresholds == T_FOREGROUND).any():
        return f"IoU threshold {T_FOREGROUND} is not among the evaluated thresholds"
    if params.area_labels[0] != "all":
        return "the first area range is not 'all'"
    return None


def _run_starts(keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Mask of shape (n,): True where a run of equal sorted ``keys`` begins."""
    starts = np.ones(keys.shape[0], dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    return starts


def classify_errors(
    matching: Matching,
    params: CocoParams,
    gt: GroundTruth,
    preds: Predictions,
    t_foreground: float = T_FOREGROUND,
    t_background: float = T_BACKGROUND,
) -> TideErrors:
    """Give every false positive and false negative of the COCO matching its TIDE type.

    Parameters
    ----------
    matching : Matching
        From :func:`evaluator.metrics.matching.match_detections` with ``params``.
    params : CocoParams
        Must evaluate categories, IoU ``t_foreground``, and area ``"all"`` first
        (:func:`unavailable_reason` says why not).
    gt, preds : GroundTruth, Predictions
        The input of the matching (for the boxes or masks, and the number of images).
    t_foreground, t_background : float
        TIDE's ``t_f`` (one of ``params.iou_thresholds``) and ``t_b``.

    Returns
    -------
    TideErrors

    Raises
    ------
    ValueError
        The parameters do not allow the breakdown.
    """
    reason = unavailable_reason(params)
    if reason is None and not (params.iou_thresholds == t_foreground).any():
        reason = f"IoU threshold {t_foreground} is not among the evaluated thresholds"
    if reason is not None:
        raise ValueError(f"TIDE error breakdown unavailable: {reason}")
    if matching.matched_gt.shape[0] == 0:
        raise ValueError("TIDE error breakdown needs a matching made with with_matches=True")
    t = int(np.flatnonzero(params.iou_thresholds == t_foreground)[0])
    n_images = gt.image_ids.shape[0]
    gts = matching.gt
    tp = matching.true_positive[0, t]  # (D,)
    fp = ~tp & ~matching.ignored[0, t]  # (D,)
    matched = matching.matched_gt[t]  # (D,)
    n_gt = gts.source.shape[0]
    positive = ~matching.gt_ignored[0]  # (G,)
    taken = np.zeros(n_gt, dtype=bool)  # by any detection (also one that then reads as FP)
    taken[matched[matched >= 0]] = True
    found = np.zeros(n_gt, dtype=bool)
    found[matched[tp]] = True
    gt_class = gts.category_index.astype(np.int64)

    # Each false positive against the non-ignored ground truth of its image. Pairs with
    # IoU below t_b decide nothing (every rule needs IoU >= t_b), so only nearer ones stay.
    # The false positives are taken in input order, by row of the predictions, so that
    # their boxes are read in sequence.
    is_fp_row = np.zeros(len(preds), dtype=bool)
    is_fp_row[matching.det_source[fp]] = True
    fp_row = np.flatnonzero(is_fp_row)  # (F,)
    fp_image = index_of(gt.image_ids, preds.image_ids[fp_row])[0]  # as the matching's
    candidates = np.flatnonzero(positive)  # (m,)
    gt_image = (gts.group % n_images)[candidates]  # group = category * n_images + image
    if preds.masks is not None and gt.masks is not None:  # a segm evaluation: mask IoU
        pair_fp, near_gt, iou = overlapping_mask_pairs(
            fp_image,
            preds.masks,
            fp_row,
            gt_image,
            gt.masks,
            gts.source[candidates],
            gts.crowd[candidates],
            t_background,
        )  # (P,)
    else:
        pair_fp, near_gt, iou = overlapping_pairs(
            fp_image,
            preds.boxes,
            gt_image,
            gts.boxes[candidates],
            gts.crowd[candidates],
            t_background,
            det_rows=fp_row,
        )  # (P,)
    pair_gt = candidates[near_gt]
    pair_class = index_of(gt.category_ids, preds.category_ids[fp_row[pair_fp]])[0]
    same = gt_class[pair_gt] == pair_class  # (P,)
    # The sets of pairs each rule reads: same class, other class, same class and taken.
    sets = np.where(same, _SAME | (taken[pair_gt] * _SAME_TAKEN), _OTHER).astype(np.uint8)
    tiebreak = gts.source[pair_gt]  # equal IoU: the earlier annotation in the file
    # A false positive without a pair is background (rules 1 and 5): only those with one
    # (R of them, whose image has ground truth) are classified further.
    run_start = _run_starts(pair_fp)  # (P,)
    position = np.empty(len(preds), dtype=np.int64)  # of each row in the matching
    position[matching.det_source] = np.arange(tp.shape[0])
    near = position[fp_row[pair_fp[run_start]]]  # (R,)
    run = np.cumsum(run_start) - 1  # (P,) each pair's false positive among them
    best, best_pair = best_pair_per_set(run, sets, iou, tiebreak, near.shape[0], 3)  # (3, R)
    best_same, best_other, best_used_same = best
    kind = np.select(
        [
            (best_same >= t_background) & (best_same < t_foreground),
            best_other >= t_foreground,
            best_used_same >= t_foreground,
            np.maximum(best_same, best_other) < t_background,
        ],
        [_LOC, _CLS, _DUPE, _BKG],
        default=_BOTH,
    ).astype(np.int8)  # (R,)
    det_error = np.full(tp.shape[0], _NO_ERROR, dtype=np.int8)
    det_error[fp] = _BKG
    det_error[near] = kind
    # The ground truth a localization or classification error points at.
    target = np.full(near.shape[0], -1, dtype=np.int64)  # (R,)
    for code, chosen in ((_LOC, best_pair[0]), (_CLS, best_pair[1])):
        hit = kind == code
        target[hit] = pair_gt[chosen[hit]]
    det_target = np.full(tp.shape[0], -1, dtype=np.int64)
    det_target[near] = target

    # Among the errors pointing at the same free ground truth, the fix turns the
    # highest-scored one (ties: earlier in the input) into a true positive.
    fixable = target >= 0
    fixable[fixable] = ~taken[target[fixable]]
    fix_det, fix_target = near[fixable], target[fixable]
    by_target = np.lexsort((matching.det_source[fix_det], -matching.det_score[fix_det], fix_target))
    det_fixed_tp = np.zeros(tp.shape[0], dtype=bool)
    det_fixed_tp[fix_det[by_target][_run_starts(fix_target[by_target])]] = True

    false_negative = positive & ~found
    findable = np.zeros(n_gt, dtype=bool)
    findable[fix_target] = True
    restricted = _restrict(matching, t)
    return TideErrors(
        matching=restricted,
        params=_restricted_params(params, t),
        det_error=det_error,
        det_target=det_target,
        det_fixed_tp=det_fixed_tp,
        gt_false_negative=false_negative,
        gt_missed=false_negative & ~findable,
        gt_class=gt_class,
    )


def _restricted_params(params: CocoParams, t: int) -> CocoParams:
    """One IoU threshold, the first area range, the largest ``max_dets``."""
    return replace(
        params,
        iou_thresholds=params.iou_thresholds[t : t + 1].copy(),
        area_ranges=params.area_ranges[:1],
        max_dets=params.max_dets[-1:],
    )


def _restrict(matching: Matching, t: int) -> Matching:
    """The matching at threshold ``t`` and the first area range only."""
    return replace(
        matching,
        matched_gt=matching.matched_gt[t : t + 1],
        outcome=matching.outcome[:1, t : t + 1],
        gt_ignored=matching.gt_ignored[:1],
        n_positive=matching.n_positive[:, :1],
    )


def _ap50(acc: Accumulated, params: CocoParams) -> tuple[float, NDArray[np.float64]]:
    """Mean AP and per-class AP of a restricted accumulation; NaN where undefined.

    Returns
    -------
    overall : float
    per_class : ndarray of shape (C,), dtype float64
    """
    spec = StatSpec("AP50", "AP", float(params.iou_thresholds[0]), params.area_labels[0], 0)
    overall = summarize_one(spec, acc.precision, acc.recall, params)
    per_class = summarize_classes(spec, acc.precision, acc.recall, params)
    return (
        float("nan") if overall == -1 else overall,
        np.where(per_class == -1, np.nan, per_class),
    )


@dataclass(frozen=True)
class _Fix:
    """One oracle fix: the error types fixed together, and TIDE's special removals."""

    types: tuple[str, ...] = ()
    remove_false_positives: bool = False
    remove_false_negatives: bool = False


@dataclass(frozen=True, eq=False)
class _Outcome:
    """The restricted matching after a fix, as the accumulation reads it.

    Attributes
    ----------
    true_positive, removed : ndarray of shape (D,), dtype bool
        A removed detection counts as ignored: for precision and recall (all the AP
        reads) that is the same as leaving it out.
    n_positive : ndarray of shape (C,), dtype int64
    turned : ndarray of shape (t,), dtype int64
        Detections the fix turns into true positives of another class.
    new_class : ndarray of shape (t,), dtype int64
        That class.
    """

    true_positive: NDArray[np.bool_]
    removed: NDArray[np.bool_]
    n_positive: NDArray[np.int64]
    turned: NDArray[np.int64]
    new_class: NDArray[np.int64]


def _outcome(errors: TideErrors, fix: _Fix) -> _Outcome:
    """What ``fix`` changes in the restricted matching."""
    m = errors.matching
    codes = [ERROR_TYPES.index(name) for name in fix.types if name != "missed"]
    tp = m.true_positive[0, 0]  # (D,)
    if codes:
        fixing = errors.det_error == codes[0]
        for code in codes[1:]:
            fixing |= errors.det_error == code
        becomes_tp = fixing & errors.det_fixed_tp
        removed = fixing ^ becomes_tp
        tp = tp | becomes_tp
        turned = np.flatnonzero(becomes_tp)
    else:
        removed = np.zeros(tp.shape[0], dtype=bool)
        turned = np.zeros(0, dtype=np.int64)
    if fix.remove_false_positives:
        removed |= ~tp & ~m.ignored[0, 0]
    removed_gt = errors.gt_missed if "missed" in fix.types else np.zeros_like(errors.gt_missed)
    if fix.remove_false_negatives:
        removed_gt = errors.gt_false_negative
    n_classes = m.n_positive.shape[0]
    n_positive = m.n_positive[:, 0] - np.bincount(errors.gt_class[removed_gt], minlength=n_classes)
    new_class = errors.gt_class[errors.det_target[turned]]
    moves = new_class != m.det_class[turned]
    return _Outcome(tp, removed, n_positive, turned[moves], new_class[moves])


def _accumulate_in_place(errors: TideErrors, outcomes: Sequence[_Outcome]) -> list[Accumulated]:
    """Accumulations of outcomes where no detection changes class, in one kernel call:
    each outcome is an area range of its own (its planes and positives), so the
    accumulation order holds and every outcome is accumulated as it would be alone."""
    m = errors.matching
    if not outcomes:
        return []
    true_positive = np.empty((len(outcomes), 1, m.det_class.shape[0]), dtype=bool)  # (O, 1, D)
    ignored = np.empty_like(true_positive)
    for k, o in enumerate(outcomes):
        true_positive[k, 0] = o.true_positive
        np.logical_or(m.ignored[0, 0], o.removed, out=ignored[k, 0])
    n_positive = np.stack([o.n_positive for o in outcomes], axis=1)  # (C, O)
    acc = accumulate_ranked(
        m.det_class, m.det_rank, m.det_score, true_positive, ignored, n_positive, errors.params
    )
    return [
        Accumulated(
            precision=acc.precision[:, :, :, a : a + 1],
            recall=acc.recall[:, :, a : a + 1],
            scores=acc.scores[:, :, :, a : a + 1],
        )
        for a in range(len(outcomes))
    ]


def _first_not_above(
    det_score: NDArray[np.float64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    score: NDArray[np.float64],
    or_equal: NDArray[np.bool_],
) -> NDArray[np.int64]:
    """In each non-increasing run ``det_score[lo:hi]``, the first position whose score is
    below ``score``, or not above it where ``or_equal``: a binary search of every run at
    once, in about log2 of the longest run steps.

    Returns
    -------
    ndarray of shape (t,), dtype int64
        In ``[lo, hi]``.
    """
    lo, hi = lo.copy(), hi.copy()
    while (lo < hi).any():
        open_ = lo < hi
        mid = (lo + hi) // 2
        at = det_score[np.minimum(mid, det_score.shape[0] - 1)]
        before = open_ & np.where(or_equal, at > score, at >= score)
        lo = np.where(before, mid + 1, lo)
        hi = np.where(open_ & ~before, mid, hi)
    return lo


def _moved_order(
    det_class: NDArray[np.int64],
    det_score: NDArray[np.float64],
    stay: NDArray[np.int64],
    moved: NDArray[np.int64],
    new_class: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Accumulation order once ``moved`` join ``new_class``: (class, descending score),
    ties in the previous order, as a stable sort of all of them would give it.

    Parameters
    ----------
    det_class, det_score : ndarray of shape (D,)
        The previous classes and the scores, in the previous (accumulation) order.
    stay : ndarray of shape (s,), dtype int64
        Ascending: the detections that keep their class, so their order.
    moved : ndarray of shape (t,), dtype int64
        Detections that change class, to ``new_class`` (shape (t,)).

    Returns
    -------
    order : ndarray of shape (s + t,), dtype int64
        Indices into the detections.
    classes : ndarray of shape (s + t,), dtype int64
        Their classes, the new ones of the moved.

    Notes
    -----
    Only the moved detections are placed, by binary search in the run of their new
    class. On equal scores the previous order puts a detection from a lower class before
    those of the new class, and one from a higher class after them.
    """
    order = np.lexsort((moved, -det_score[moved], new_class))  # the moved among themselves
    moved, new_class = moved[order], new_class[order]
    runs = np.searchsorted(det_class, np.arange(int(new_class.max(initial=0)) + 2))
    position = _first_not_above(  # in the previous order
        det_score,
        runs[new_class],
        runs[new_class + 1],
        det_score[moved],
        det_class[moved] < new_class,
    )
    at = np.searchsorted(stay, position) + np.arange(moved.shape[0])  # in the new order
    is_moved = np.zeros(stay.shape[0] + moved.shape[0], dtype=bool)
    is_moved[at] = True
    out = np.empty(is_moved.shape[0], dtype=np.int64)
    out[at] = moved
    out[~is_moved] = stay
    classes = det_class[out]
    classes[at] = new_class
    return out, classes


def _accumulate_moved(errors: TideErrors, outcome: _Outcome) -> Accumulated:
    """Accumulation of an outcome where detections change class: in the new order."""
    m = errors.matching
    moving = np.zeros(outcome.removed.shape[0], dtype=bool)
    moving[outcome.turned] = True
    stay = np.flatnonzero(~outcome.removed & ~moving)
    order, classes = _moved_order(m.det_class, m.det_score, stay, outcome.turned, outcome.new_class)
    return accumulate_ranked(
        classes,
        m.det_rank[order],
        m.det_score[order],
        outcome.true_positive[None, None, order],
        m.ignored[:, :, order],
        outcome.n_positive[:, None],
        errors.params,
    )


def _fixed_ap50s(
    errors: TideErrors, fixes: Sequence[_Fix]
) -> list[tuple[float, NDArray[np.float64]]]:
    """:func:`fixed_ap50` of each fix: those that move no detection to another class in
    one accumulation."""
    outcomes = [_outcome(errors, fix) for fix in fixes]
    in_place = [k for k, o in enumerate(outcomes) if o.turned.shape[0] == 0]
    accumulated = dict(zip(in_place, _accumulate_in_place(errors, [outcomes[k] for k in in_place])))
    for k, o in enumerate(outcomes):
        if k not in accumulated:
            accumulated[k] = _accumulate_moved(errors, o)
    return [_ap50(accumulated[k], errors.params) for k in range(len(fixes))]


def fixed_ap50(
    errors: TideErrors,
    fixed_types: Collection[str] = (),
    *,
    remove_false_positives: bool = False,
    remove_false_negatives: bool = False,
) -> tuple[float, NDArray[np.float64]]:
    """AP50 after the oracle fixes of some error types (none: the unmodified AP50).

    Parameters
    ----------
    errors : TideErrors
    fixed_types : collection of str
        Names from :data:`ERROR_TYPES`, fixed together.
    remove_false_positives, remove_false_negatives : bool
        TIDE's special errors: also drop every false positive detection, or every
        ground truth that nothing took.

    Returns
    -------
    overall : float
        Mean over the classes with ground truth, NaN if there is none.
    per_class : ndarray of shape (C,), dtype float64
        NaN for a class without (remaining) ground truth.
    """
    unknown = set(fixed_types) - set(ERROR_TYPES)
    if unknown:
        raise ValueError(
            f"fixed_types: unknown error types {sorted(unknown)}; expected names from {ERROR_TYPES}"
        )
    fix = _Fix(tuple(fixed_types), remove_false_positives, remove_false_negatives)
    return _fixed_ap50s(errors, [fix])[0]


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _delta(after: float, before: float) -> float | None:
    return None if np.isnan(after) or np.isnan(before) else float(after - before)


def _unavailable_section(reason: str) -> dict[str, Any]:
    return {
        "definition": _DEFINITION,
        "t_foreground": T_FOREGROUND,
        "t_background": T_BACKGROUND,
        "types": list(ERROR_TYPES),
        "AP50": None,
        "max_dets": None,
        "overall": None,
        "special": None,
        "per_class": [],
        "undefined_reason": reason,
    }


def error_section(
    matching: Matching,
    params: CocoParams,
    gt: GroundTruth,
    preds: Predictions,
    category_ids: Sequence[int],
    category_names: Sequence[str],
) -> dict[str, Any]:
    """The report's ``errors`` section (JSON-safe).

    Parameters
    ----------
    matching, params, gt, preds
        As for :func:`classify_errors`.
    category_ids, category_names : sequence, length C
        Labels of the accumulation classes.

    Returns
    -------
    dict
        ``AP50`` (unmodified), ``overall[type] = {"count", "dAP"}`` for each of
        :data:`ERROR_TYPES`, ``special`` (``false_positives``, ``false_negatives``:
        ``{"count", "dAP"}``), and ``per_class`` rows with ``AP50``, ``counts`` and
        ``dAP`` by type. Undefined numbers are ``null``; a row whose class has no ground
        truth has an ``undefined_reason``, and so has the section when the parameters
        rule the breakdown out (then its numbers are all ``null``).
    """
    reason = unavailable_reason(params)
    if reason is not None:
        return _unavailable_section(reason)
    errors = classify_errors(matching, params, gt, preds)
    fixes = [
        _Fix(),
        *(_Fix((name,)) for name in ERROR_TYPES),
        _Fix(remove_false_positives=True),
        _Fix(remove_false_negatives=True),
    ]
    (base, base_per_class), *by_type, no_fp, no_fn = _fixed_ap50s(errors, fixes)
    fixed = dict(zip(ERROR_TYPES, by_type, strict=True))
    special = {"false_positives": no_fp, "false_negatives": no_fn}
    counts = errors.counts()  # (C, 6)
    n_false_positive = int((errors.det_error >= 0).sum())
    special_counts = {
        "false_positives": n_false_positive,
        "false_negatives": int(errors.gt_false_negative.sum()),
    }
    per_class = []
    for k, (cat_id, name) in enumerate(zip(category_ids, category_names)):
        row: dict[str, Any] = {
            "category_id": int(cat_id),
            "name": name,
            "AP50": _number(base_per_class[k]),
            "counts": {n: int(counts[k, i]) for i, n in enumerate(ERROR_TYPES)},
            "dAP": {n: _delta(fixed[n][1][k], base_per_class[k]) for n in ERROR_TYPES},
        }
        if np.isnan(base_per_class[k]):
            row["undefined_reason"] = "no ground truth in this class"
        elif np.isnan(fixed["missed"][1][k]):
            row["undefined_reason"] = "missed dAP: every ground truth of the class is missed"
        per_class.append(row)
    return {
        "definition": _DEFINITION,
        "t_foreground": T_FOREGROUND,
        "t_background": T_BACKGROUND,
        "types": list(ERROR_TYPES),
        "AP50": _number(base),
        "max_dets": errors.params.max_dets[0],
        "overall": {
            name: {"count": int(counts[:, i].sum()), "dAP": _delta(fixed[name][0], base)}
            for i, name in enumerate(ERROR_TYPES)
        },
        "special": {
            name: {"count": special_counts[name], "dAP": _delta(value[0], base)}
            for name, value in special.items()
        },
        "per_class": per_class,
        "undefined_reason": None if not np.isnan(base) else "no class has ground truth",
    }
