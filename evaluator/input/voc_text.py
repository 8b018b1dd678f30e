"""Loader for the plain-text detection format of Object-Detection-Metrics (Padilla et al.).

One ``.txt`` file per image, the same file name in the ground-truth folder and in the
detection folder, one box per line, fields separated by white space:

* ground truth: ``<class> <left> <top> <width> <height>``, optionally followed by the
  word ``difficult`` (as in Cartucho/mAP's files);
* detections: ``<class> <confidence> <left> <top> <width> <height>``.

Coordinates are absolute pixels. ``fmt="xyxy"`` reads ``<left> <top> <right> <bottom>``
instead. A class name is one token. Blank lines are skipped.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.errors import DataWarning, InputError
from evaluator.geometry.boxes import BoxFormat
from evaluator.input.columns import GroundTruth, Predictions
from evaluator.input.limits import MAX_CATEGORIES, check_count, check_name, shown


@dataclass(frozen=True, eq=False)
class VOCTextSet:
    """A text-format data set as columns.

    Attributes
    ----------
    ground_truth : GroundTruth
        Image ids are positions in ``image_names`` (every image declared, with objects
        or not), category ids positions in ``class_names`` (every class declared, named).
    detections : Predictions
        In the same key spaces. Detections keep file order (files by name, then line
        order), which decides the ranking of equal scores.
    image_names : tuple of str
        File names without ``.txt``, sorted; the union of both folders.
    class_names : tuple of str
        Sorted class names found in either folder.
    """

    ground_truth: GroundTruth
    detections: Predictions
    image_names: tuple[str, ...]
    class_names: tuple[str, ...]

    @property
    def category_names(self) -> dict[int, str]:
        """Category id to class name, for :func:`evaluator.metrics.voc.evaluate_voc`."""
        return dict(enumerate(self.class_names))

    def to_coco(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The set as COCO ground truth and COCO results, for the COCO report.

        Image and category ids are 1-based positions in ``image_names`` and
        ``class_names``; ``area`` is the box's ``w * h``; a difficult box becomes a crowd
        region (COCO's nearest notion: neither a positive nor a false positive).

        Returns
        -------
        ground_truth : dict
            ``{"images", "categories", "annotations"}``.
        results : list of dict
            ``{"image_id", "category_id", "bbox", "score"}`` in file order.
        """
        gt, dets = self.ground_truth, self.detections
        annotations = [
            {
                "id": i + 1,
                "image_id": int(gt.ann_image_ids[i]) + 1,
                "category_id": int(gt.ann_category_ids[i]) + 1,
                "bbox": gt.boxes[i].tolist(),
                "area": float(gt.boxes[i, 2] * gt.boxes[i, 3]),
                "iscrowd": int(gt.difficult[i] or gt.iscrowd[i]),
            }
            for i in range(len(gt))
        ]
        ground_truth = {
            "images": [{"id": i + 1, "file_name": n} for i, n in enumerate(self.image_names)],
            "categories": [{"id": k + 1, "name": n} for k, n in enumerate(self.class_names)],
            "annotations": annotations,
        }
        results = [
            {
                "image_id": int(dets.image_ids[i]) + 1,
                "category_id": int(dets.category_ids[i]) + 1,
                "bbox": dets.boxes[i].tolist(),
                "score": float(dets.scores[i]),
            }
            for i in range(len(dets))
        ]
        return ground_truth, results


def _number(token: str, location: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise InputError(location, f"expected a number, got {shown(token)}") from None
    if not math.isfinite(value):
        raise InputError(location, f"expected a finite number, got {shown(token)}")
    return value


def _box(tokens: list[str], location: str, fmt: BoxFormat) -> list[float]:
    a, b, c, d = (_number(token, location) for token in tokens)
    width, height = (c, d) if fmt == "xywh" else (c - a, d - b)
    if width < 0 or height < 0:
        raise InputError(location, f"negative width or height in {fmt} box {shown(tokens)}")
    return [a, b, c, d]


def _read_lines(path: Path, label: str) -> list[tuple[str, list[str]]]:
    """Non-blank lines of ``path`` split into fields, each with its ``folder/file:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{label}/{path.name}", f"not UTF-8 text ({error})") from None
    return [
        (f"{label}/{path.name}:{number}", line.split())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _txt_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(str(folder), "not a directory")
    return {path.stem: path for path in folder.iterdir() if path.suffix == ".txt"}


def load_voc_text(
    ground_truth_dir: str | Path, detections_dir: str | Path, *, fmt: BoxFormat = "xywh"
) -> VOCTextSet:
    """Read a folder of ground-truth files and a folder of detection files.

    Parameters
    ----------
    ground_truth_dir, detections_dir : str or Path
        Folders of ``<image>.txt`` files.
    fmt : {"xywh", "xyxy"}
        Meaning of the four coordinates.

    Returns
    -------
    VOCTextSet

    Raises
    ------
    InputError
        For a missing folder or a malformed line, located as ``folder/file.txt:line``.

    Warns
    -----
    DataWarning
        For a detection file with no ground-truth file of the same name: the image is
        taken to have no objects, which is right only if the name is not a typo.
    """
    if fmt not in ("xywh", "xyxy"):
        raise ValueError(f"fmt must be 'xywh' or 'xyxy', got {fmt!r}")
    gt_dir, det_dir = Path(ground_truth_dir), Path(detections_dir)
    gt_files, det_files = _txt_files(gt_dir), _txt_files(det_dir)
    orphans = sorted(set(det_files) - set(gt_files))
    if orphans:
        warnings.warn(
            f"{det_dir.name}: {len(orphans)} detection files have no ground-truth file in "
            f"{gt_dir.name} and count as images without objects: {orphans[:5]}",
            DataWarning,
            stacklevel=2,
        )
    image_names = tuple(sorted(set(gt_files) | set(det_files)))

    gt_rows: list[tuple[int, str, list[float], bool]] = []
    det_rows: list[tuple[int, str, list[float], float]] = []
    for image, name in enumerate(image_names):
        if name in gt_files:
            for where, fields in _read_lines(gt_files[name], gt_dir.name):
                difficult = len(fields) == 6 and fields[5] == "difficult"
                if len(fields) != 5 and not difficult:
                    raise InputError(
                        where,
                        "expected '<class> <left> <top> <width> <height> [difficult]', "
                        f"got {len(fields)} fields",
                    )
                check_name(fields[0], where)
                box = _box(fields[1:5], where, fmt)
                gt_rows.append((image, fields[0], box, difficult))
        if name in det_files:
            for where, fields in _read_lines(det_files[name], det_dir.name):
                if len(fields) != 6:
                    raise InputError(
                        where,
                        "expected '<class> <confidence> <left> <top> <width> <height>', "
                        f"got {len(fields)} fields",
                    )
                check_name(fields[0], where)
                score = _number(fields[1], where)
                box = _box(fields[2:6], where, fmt)
                det_rows.append((image, fields[0], box, score))

    class_names = tuple(sorted({row[1] for row in gt_rows} | {row[1] for row in det_rows}))
    check_count(len(class_names), MAX_CATEGORIES, "classes", f"{gt_dir.name} + {det_dir.name}")
    code = {name: index for index, name in enumerate(class_names)}
    ground_truth = GroundTruth.from_arrays(
        np.array([row[0] for row in gt_rows], dtype=np.int64),
        np.array([code[row[1]] for row in gt_rows], dtype=np.int64),
        np.array([row[2] for row in gt_rows], dtype=np.float64).reshape(-1, 4),
        difficult=np.array([row[3] for row in gt_rows], dtype=bool),
        fmt=fmt,
        images=np.arange(len(image_names)),
        category_names=dict(enumerate(class_names)),
        name=gt_dir.name,
    )
    detections = Predictions.from_arrays(
        np.array([row[0] for row in det_rows], dtype=np.int64),
        np.array([code[row[1]] for row in det_rows], dtype=np.int64),
        np.array([row[2] for row in det_rows], dtype=np.float64).reshape(-1, 4),
        np.array([row[3] for row in det_rows], dtype=np.float64),
        fmt=fmt,
        name=det_dir.name,
    )
    return VOCTextSet(ground_truth, detections, image_names, class_names)
