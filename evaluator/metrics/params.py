"""Parameters of a COCO evaluation, with pycocotools' defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Mode = Literal["pycocotools", "corrected"]
IouType = Literal["bbox", "segm", "keypoints"]
IOU_TYPES: tuple[IouType, ...] = ("bbox", "segm", "keypoints")

# Built exactly as pycocotools builds them: np.linspace, never np.arange, so that
# 0.75 is the same double in both and `iouThr == p.iouThrs` finds it.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_RECALL_THRESHOLDS = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)
COCO_AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0**2, 1e5**2),
    "small": (0.0**2, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
COCO_MAX_DETS = (1, 10, 100)
# pycocotools' setKpParams: one maxDets, no "small" range (people that small have no
# keypoints labelled), and the 17 sigmas of COCO's person skeleton, divided as it does.
KEYPOINT_AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0**2, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
KEYPOINT_MAX_DETS = (20,)
COCO_PERSON_SIGMAS = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ]
    )
    / 10.0
)


def _float_array(values: Iterable[float], name: str) -> NDArray[np.float64]:
    array = np.asarray(list(values), dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected a non-empty list of finite numbers, got {array}")
    return array


@dataclass(frozen=True)
class CocoParams:
    """What to evaluate.

    Attributes
    ----------
    iou_thresholds : ndarray of shape (T,), dtype float64
    recall_thresholds : ndarray of shape (R,), dtype float64
    max_dets : tuple of int, length M, sorted ascending
        Detections kept per image (and category), best scores first.
    area_ranges : tuple of (label, low, high), length A
        Inclusive bounds on the ground truth's ``area`` field.
    use_cats : bool
        False evaluates class-agnostically (pycocotools' ``useCats=0``).
    mode : {"pycocotools", "corrected"}
        ``"pycocotools"`` reproduces pycocotools to the bit, quirks included.
        ``"corrected"`` fixes them: a ground truth with annotation id 0 can be matched,
        duplicate annotation ids stay distinct annotations, an ``ignore`` field is
        honoured, and stats[0] uses the largest ``max_dets`` instead of a hard-coded 100.
    iou_type : {"bbox", "segm", "keypoints"}
        What a detection is compared with a ground truth by: box IoU, mask IoU, or the
        object keypoint similarity (OKS) of pycocotools' ``computeOks``.
    oks_sigmas : ndarray of shape (K,), dtype float64
        Per-keypoint falloff of OKS (pycocotools' ``kpt_oks_sigmas``); K keypoints per
        object. COCO's 17 person sigmas by default; only read for keypoints.
    """

    iou_thresholds: NDArray[np.float64] = field(default_factory=lambda: COCO_IOU_THRESHOLDS.copy())
    recall_thresholds: NDArray[np.float64] = field(
        default_factory=lambda: COCO_RECALL_THRESHOLDS.copy()
    )
    max_dets: tuple[int, ...] = COCO_MAX_DETS
    area_ranges: tuple[tuple[str, float, float], ...] = tuple(
        (label, lo, hi) for label, (lo, hi) in COCO_AREA_RANGES.items()
    )
    use_cats: bool = True
    mode: Mode = "pycocotools"
    iou_type: IouType = "bbox"
    oks_sigmas: NDArray[np.float64] = field(default_factory=lambda: COCO_PERSON_SIGMAS.copy())

    @classmethod
    def build(
        cls,
        iou_thresholds: Sequence[float] | None = None,
        recall_thresholds: Sequence[float] | None = None,
        max_dets: Sequence[int] | None = None,
        area_ranges: Mapping[str, tuple[float, float]] | None = None,
        use_cats: bool = True,
        mode: Mode = "pycocotools",
        iou_type: IouType = "bbox",
        oks_sigmas: Sequence[float] | None = None,
    ) -> CocoParams:
        """Validated parameters; ``None`` keeps pycocotools' default for ``iou_type``."""
        kwargs: dict[str, object] = {"use_cats": bool(use_cats)}
        if mode not in ("pycocotools", "corrected"):
            raise ValueError(f"mode: expected 'pycocotools' or 'corrected', got {mode!r}")
        kwargs["mode"] = mode
        if iou_type not in IOU_TYPES:
            raise ValueError(f"iou_type: expected one of {', '.join(IOU_TYPES)}, got {iou_type!r}")
        kwargs["iou_type"] = iou_type
        if iou_type == "keypoints":
            kwargs["max_dets"] = KEYPOINT_MAX_DETS
            kwargs["area_ranges"] = tuple(
                (label, lo, hi) for label, (lo, hi) in KEYPOINT_AREA_RANGES.items()
            )
        if oks_sigmas is not None:
            sigmas = _float_array(oks_sigmas, "oks_sigmas")
            if (sigmas <= 0).any():
                raise ValueError(f"oks_sigmas: must be positive, got {sigmas}")
            kwargs["oks_sigmas"] = sigmas
        if iou_thresholds is not None:
            thresholds = _float_array(iou_thresholds, "iou_thresholds")
            if ((thresholds < 0) | (thresholds > 1)).any():
                raise ValueError(f"iou_thresholds: must lie in [0, 1], got {thresholds}")
            kwargs["iou_thresholds"] = thresholds
        if recall_thresholds is not None:
            recalls = _float_array(recall_thresholds, "recall_thresholds")
            if (np.diff(recalls) < 0).any():
                raise ValueError("recall_thresholds: must be sorted ascending")
            kwargs["recall_thresholds"] = recalls
        if max_dets is not None:
            dets = sorted(int(m) for m in max_dets)
            if not dets or dets[0] < 1:
                raise ValueError(f"max_dets: expected positive integers, got {list(max_dets)}")
            kwargs["max_dets"] = tuple(dets)
        if area_ranges is not None:
            ranges = tuple((str(k), float(lo), float(hi)) for k, (lo, hi) in area_ranges.items())
            bad = [
                r for r in ranges if not (np.isfinite(r[1]) and np.isfinite(r[2]) and r[1] <= r[2])
            ]
            if not ranges or bad:
                raise ValueError(
                    "area_ranges: expected label -> (low, high), finite numbers with low <= high, "
                    f"got {area_ranges}"
                )
            kwargs["area_ranges"] = ranges
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def area_labels(self) -> tuple[str, ...]:
        return tuple(label for label, _, _ in self.area_ranges)
