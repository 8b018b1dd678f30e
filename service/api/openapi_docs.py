"""How the OpenAPI document describes the uploads, and the links between operations.

The request bodies are read by hand (:mod:`service.api.uploads`), so FastAPI cannot derive
them: their schemas here say what the loaders require and no more (a document valid
against them can still be refused with 422 for what JSON Schema cannot say, such as an
annotation naming an image that does not exist). The examples are a valid upload each, the
predictions valid against the example ground truth. The links say where an id in one
answer can be used next, so a client (or a stateful test) can walk from an upload to the
evaluation's status, report and comparison.
"""

from __future__ import annotations

import json
from typing import Any

GROUND_TRUTH_EXAMPLE: dict[str, Any] = {
    "images": [{"id": 1, "width": 640, "height": 480}],
    "categories": [{"id": 1, "name": "person"}],
    "annotations": [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [10, 20, 30, 40],
            "area": 1200,
            "iscrowd": 0,
        }
    ],
}
PREDICTIONS_EXAMPLE: list[dict[str, Any]] = [
    {"image_id": 1, "category_id": 1, "bbox": [12, 22, 28, 38], "score": 0.9}
]
_INTEGER = {"type": "integer"}  # JSON Schema's integer includes 139.0, which is read too
# Image ids may be strings, used consistently on both sides (pycocotools sorts them).
_IMAGE_ID = {"type": ["integer", "string"]}
_ID_OBJECT = {"type": "object", "required": ["id"], "properties": {"id": _INTEGER}}
_GROUND_TRUTH_SCHEMA = {
    "type": "object",
    "required": ["images", "categories"],
    "properties": {
        "images": {"type": "array", "items": {**_ID_OBJECT, "properties": {"id": _IMAGE_ID}}},
        "categories": {
            "type": "array",
            "items": {
                **_ID_OBJECT,
                "properties": {"id": _INTEGER, "name": {"type": ["string", "null"]}},
            },
        },
        "annotations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "image_id", "category_id", "bbox"],
                "properties": {
                    "id": _INTEGER,
                    "image_id": _IMAGE_ID,
                    "category_id": _INTEGER,
                    "bbox": {
                        "type": "array",
                        "items": {"type": "number"},
                        "minItems": 4,
                        "maxItems": 4,
                        "description": "[x, y, width, height]",
                    },
                    "area": {"type": ["number", "null"]},
                },
            },
        },
    },
}
_FILE = {"type": "string", "format": "binary"}

#: ``openapi_extra`` of POST /v1/datasets.
DATASET_BODY = {
    "requestBody": {
        "required": True,
        "description": "COCO ground truth: the raw JSON body, or a multipart file field `file`.",
        "content": {
            "application/json": {
                "schema": _GROUND_TRUTH_SCHEMA,
                "example": GROUND_TRUTH_EXAMPLE,
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {**_FILE, "description": "COCO ground truth."},
                        "name": {"type": "string", "maxLength": 128},
                        "description": {"type": "string", "maxLength": 2000},
                    },
                    "required": ["file"],
                },
                "example": {
                    "file": json.dumps(GROUND_TRUTH_EXAMPLE),
                    "name": "coco-val2017-subset",
                    "description": "100 images of COCO val2017",
                },
            },
        },
    }
}

_PREDICTIONS_TEXT = json.dumps(PREDICTIONS_EXAMPLE)
_RUN_LABELS = {
    "name": {"type": "string", "maxLength": 128, "description": "The run's name (the model)."},
    "tags": {
        "type": "string",
        "description": "Comma-separated tags, each 1-40 letters, digits or _ . : / + = - "
        "(at most 20).",
    },
    "metadata": {
        "type": "string",
        "description": "A JSON object of at most 4096 bytes: commit, epoch, config, ...",
    },
}
_IOU_TYPE = {
    "iou_type": {
        "type": "string",
        "enum": ["bbox", "segm", "keypoints"],
        "default": "bbox",
        "description": "What the results are scored by: boxes (IoU), masks (mask IoU; "
        "results carry RLE segmentations, the dataset polygons or RLE and each image's "
        "height and width) or keypoints (OKS with COCO's 17 person sigmas). A dataset "
        "without what the type compares is refused (422) where it first lacks it.",
    }
}
#: ``openapi_extra`` of POST /v1/evaluations.
EVALUATION_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "dataset_id": {
                            "type": "string",
                            "description": "A dataset's id (empty: not given).",
                        },
                        "ground_truth": {
                            **_FILE,
                            "description": "COCO ground truth, instead of dataset_id.",
                        },
                        "predictions": {
                            **_FILE,
                            "description": "COCO results: a list of {image_id, category_id, "
                            "bbox, score} (segm: segmentation; keypoints: keypoints).",
                        },
                        **_RUN_LABELS,
                        **_IOU_TYPE,
                    },
                    "required": ["predictions"],
                    # Exactly one of a (non-empty) dataset_id and ground_truth.
                    "oneOf": [
                        {
                            "required": ["dataset_id"],
                            "properties": {"dataset_id": {"minLength": 1}},
                            "not": {"required": ["ground_truth"]},
                        },
                        {
                            "required": ["ground_truth"],
                            "properties": {"dataset_id": {"maxLength": 0}},
                        },
                    ],
                },
                "examples": {
                    "registered": {
                        "summary": "Predictions for a registered dataset",
                        "value": {
                            "dataset_id": "3f1c9a0e6b2d4c8fa1e07d5b9c2e4f60",
                            "predictions": _PREDICTIONS_TEXT,
                            "name": "yolov8n",
                            "tags": "baseline,fp16",
                            "metadata": '{"commit": "4f2a9c1", "epoch": 30}',
                        },
                    },
                    "inline": {
                        "summary": "Predictions with their ground truth",
                        "value": {
                            "ground_truth": json.dumps(GROUND_TRUTH_EXAMPLE),
                            "predictions": _PREDICTIONS_TEXT,
                        },
                    },
                },
            }
        },
    }
}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


_DATASET_ID = "$response.body#/id"
#: Links of a registered dataset (the 201 of POST /v1/datasets, 200 of GET).
DATASET_LINKS = {
    "GetDataset": _link("get_dataset", "Its summary.", dataset_id=_DATASET_ID),
    "ListDatasetEvaluations": _link(
        "list_dataset_evaluations", "Its evaluations.", dataset_id=_DATASET_ID
    ),
    "GetLeaderboard": _link("get_leaderboard_html", "Its leaderboard.", dataset_id=_DATASET_ID),
    "SubmitEvaluation": {
        "operationId": "create_evaluation",
        "description": "Submit predictions against it (here none, which is valid for "
        "any dataset: every AP is 0).",
        "requestBody": {"dataset_id": _DATASET_ID, "predictions": "[]"},
    },
    "ShareLeaderboard": {
        "operationId": "create_share",
        "description": "A read-only link to its leaderboard.",
        "requestBody": {"kind": "leaderboard", "resource_id": _DATASET_ID},
    },
}

_EVALUATION_ID = "$response.body#/id"
#: Links of an evaluation (the 202 of POST /v1/evaluations, 200 of GET).
EVALUATION_LINKS = {
    "GetEvaluation": _link("get_evaluation", "Its status.", evaluation_id=_EVALUATION_ID),
    "GetReport": _link("get_report", "Its report.", evaluation_id=_EVALUATION_ID),
    "GetReportHtml": _link("get_report_html", "Its report page.", evaluation_id=_EVALUATION_ID),
    "CompareWithItself": _link(
        "compare_evaluations",
        "Compared with itself (every delta 0).",
        evaluation_id=_EVALUATION_ID,
        other_id=_EVALUATION_ID,
    ),
    "Health": _link("health", "How the service fares while the job waits (workers, space)."),
    "ShareReport": {
        "operationId": "create_share",
        "description": "A read-only link to its report page.",
        "requestBody": {"kind": "report", "resource_id": _EVALUATION_ID},
    },
}
#: Links of a share link (the 201 of POST /v1/shares).
SHARE_LINKS = {
    "RevokeShare": _link("revoke_share", "Revoke it.", share_id="$response.body#/id"),
}
