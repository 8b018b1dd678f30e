"""COCO masks: ``pycocotools.mask``'s functions, equal to them bit for bit, and a batch
form (:class:`RunLengths`) for the evaluation engine.

Masks are run-length encoded as COCO stores them: ``{"size": [h, w], "counts": ...}``,
the counts compressed (a string) or not (a list of ints), over the pixels in
column-major order, background first. The kernels are maskApi.c's algorithms in C.
"""

from evaluator.masks.api import area, decode, encode, from_polygons, iou, merge, to_bbox
from evaluator.masks.runs import RunLengths, pairwise_iou

__all__ = [
    "RunLengths",
    "area",
    "decode",
    "encode",
    "from_polygons",
    "iou",
    "merge",
    "pairwise_iou",
    "to_bbox",
]
