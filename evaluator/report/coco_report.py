"""The evaluation report: one frozen object, ``to_dict()`` JSON-safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.metrics.params import CocoParams
from evaluator.metrics.summary import stat_specs, summary_tables

PER_CLASS_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100")
KEYPOINT_PER_CLASS_METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR")


def per_class_metrics(iou_type: str) -> tuple[str, ...]:
    """The numbers of a report's ``per_class`` rows for an evaluation type (masks: as boxes)."""
    return KEYPOINT_PER_CLASS_METRICS if iou_type == "keypoints" else PER_CLASS_METRICS


_PR_CURVE_IOUS = (0.5, 0.75)


def _defined(value: float) -> float | None:
    """pycocotools' -1 (undefined) becomes None."""
    return None if value == -1 else float(value)


@dataclass(frozen=True, eq=False)
class CocoReport:
    """Result of :func:`evaluator.evaluate_coco`.

    Attributes
    ----------
    stats : ndarray of shape (S,), dtype float64
        pycocotools' ``COCOeval.stats``, same order, -1 where undefined: S = 12 for
        boxes, 10 for keypoints (names: :attr:`metrics`).
    precision : ndarray of shape (T, R, K, A, M), dtype float64
        ``COCOeval.eval["precision"]``.
    recall : ndarray of shape (T, K, A, M), dtype float64
    scores : ndarray of shape (T, R, K, A, M), dtype float64
    per_class_stats : ndarray of shape (K, S), dtype float64
        The stats restricted to each class (all NaN-free; -1 where undefined).
    category_ids : ndarray of shape (K,), dtype int64
        Classes of the K axis (a single ``-1`` when class-agnostic).
    category_names : tuple of str, length K
    n_gt : ndarray of shape (K,), dtype int64
        Non-ignored ground truths (area "all") per class.
    n_pred : ndarray of shape (K,), dtype int64
        Detections evaluated per class (before the per-image max_dets cut).
    params : CocoParams
    warnings : tuple of str
    sections : dict
        Further report sections (already JSON-safe), merged into :meth:`to_dict`.
    """

    stats: NDArray[np.float64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    scores: NDArray[np.float64]
    per_class_stats: NDArray[np.float64]
    category_ids: NDArray[np.int64]
    category_names: tuple[str, ...]
    n_gt: NDArray[np.int64]
    n_pred: NDArray[np.int64]
    params: CocoParams
    warnings: tuple[str, ...] = ()
    sections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls,
        precision: NDArray[np.float64],
        recall: NDArray[np.float64],
        scores: NDArray[np.float64],
        params: CocoParams,
        **fields: Any,
    ) -> CocoReport:
        stats, per_class = summary_tables(precision, recall, params)
        return cls(
            stats=stats,
            precision=precision,
            recall=recall,
            scores=scores,
            per_class_stats=per_class,
            params=params,
            **fields,
        )

    @property
    def stat_names(self) -> tuple[str, ...]:
        """Names of :attr:`stats`: AP, AP50, ..., ARl (boxes); AP, ..., ARl (keypoints)."""
        return tuple(spec.name for spec in stat_specs(self.params.iou_type))

    @property
    def metrics(self) -> dict[str, float | None]:
        """The stats by name, None where undefined."""
        return {name: _defined(v) for name, v in zip(self.stat_names, self.stats.tolist())}

    def _per_class(self) -> list[dict[str, Any]]:
        rows = []
        metrics = per_class_metrics(self.params.iou_type)
        columns = [self.stat_names.index(name) for name in metrics]
        for k, (cat_id, name) in enumerate(zip(self.category_ids.tolist(), self.category_names)):
            row: dict[str, Any] = {"category_id": cat_id, "name": name}
            for metric, col in zip(metrics, columns):
                row[metric] = _defined(self.per_class_stats[k, col])
            row["n_gt"] = int(self.n_gt[k])
            row["n_pred"] = int(self.n_pred[k])
            if row["AP"] is None:
                row["undefined_reason"] = "no ground truth in this class"
            rows.append(row)
        return rows

    def _pr_curves(self) -> dict[str, Any]:
        ious = [t for t in _PR_CURVE_IOUS if (self.params.iou_thresholds == t).any()]
        try:
            area = self.params.area_labels.index("all")
        except ValueError:
            area = 0
        curves = []
        for k, cat_id in enumerate(self.category_ids.tolist()):
            entry: dict[str, Any] = {"category_id": cat_id, "precision": {}}
            for t in ious:
                ti = int(np.flatnonzero(self.params.iou_thresholds == t)[0])
                values = self.precision[ti, :, k, area, -1]
                entry["precision"][f"{t:.2f}"] = None if (values == -1).all() else values.tolist()
            curves.append(entry)
        return {
            "recall_thresholds": self.params.recall_thresholds.tolist(),
            "area": self.params.area_labels[area],
            "max_dets": self.params.max_dets[-1],
            "per_class": curves,
        }

    def to_dict(self) -> dict[str, Any]:
        """The report JSON of DESIGN.md: stats, metrics, per_class, then further sections."""
        out: dict[str, Any] = {
            "stats": [_defined(v) for v in self.stats.tolist()],
            "metrics": self.metrics,
            "per_class": self._per_class(),
            "iou_type": self.params.iou_type,
            "pr_curves": self._pr_curves(),
            "params": {
                "iou_thresholds": self.params.iou_thresholds.tolist(),
                "max_dets": list(self.params.max_dets),
                "area_ranges": {lbl: [lo, hi] for lbl, lo, hi in self.params.area_ranges},
                "use_cats": self.params.use_cats,
                "mode": self.params.mode,
                **(
                    {"oks_sigmas": self.params.oks_sigmas.tolist()}
                    if self.params.iou_type == "keypoints"
                    else {}
                ),
            },
            "warnings": list(self.warnings),
        }
        out.update(self.sections)
        return out
