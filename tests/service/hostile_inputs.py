"""A sweep of hostile uploads: every field of a small valid ground truth and predictions
file replaced by each of a set of nasty values, or deleted, and the whole file cut short.

Nasty values are what broke or could break the loaders: strings too long to render, lone
surrogates (which no UTF-8 writer accepts), nesting deeper than any parser's stack,
integers longer than ``int()`` parses or ``float()`` holds, non-finite numbers, and values
of every wrong JSON type. Some are only expressible as raw JSON text; they are spliced in
after serialising.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from json_edits import DELETE, edited

from evaluator.input.limits import MAX_NAME_CHARS

GT: dict[str, Any] = {
    "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
    "categories": [
        {"id": 1, "name": "cat", "supercategory": "animal"},
        {"id": 2, "name": "dog", "supercategory": "animal"},
    ],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 50, 40], "iscrowd": 0},
    ],
}
PREDICTIONS: list[dict[str, Any]] = [
    {"image_id": 1, "category_id": 1, "bbox": [11, 9, 20, 21], "score": 0.9},
    {"image_id": 2, "category_id": 2, "bbox": [5, 5, 50, 40], "score": 0.4},
]

_RAW = "\x00raw{}\x00"  # placeholder, replaced by raw JSON text after serialising
RAW_VALUES: dict[str, bytes] = {
    "int-5000-digits": b"7" * 5000,
    "float-1e400": b"1e400",
    "minus-1e400": b"-1e400",
    "nan": b"NaN",
    "minus-infinity": b"-Infinity",
    "deep-arrays": b"[" * 50_000 + b"]" * 50_000,
    "deep-objects": b'{"a": ' * 50_000 + b"0" + b"}" * 50_000,
    "lone-high-surrogate": b'"a\\ud800"',
    "lone-low-surrogate": b'"\\udc00z"',
    "reversed-pair": b'"\\ude00\\ud83d"',
    "invalid-utf8-in-string": b'"caf\xe9"',
}
VALUES: dict[str, Any] = {
    "name-too-long": "n" * (MAX_NAME_CHARS + 1),
    "string-500k": "s" * 500_000,
    "empty-string": "",
    "digit-string": "1",
    "nul-string": "\x00",
    "null": None,
    "true": True,
    "zero": 0,
    "minus-one": -1,
    "one-and-a-half": 1.5,
    "2**63": 2**63,
    "-(2**63)-1": -(2**63) - 1,
    "10**400": 10**400,
    "empty-list": [],
    "empty-object": {},
    "nested-list": [[[1]]],
    "box-like": [0, 0, 1, 1],
    "object": {"a": {"b": 1}},
    **{f"raw-{name}": _RAW.format(name) for name in RAW_VALUES},
}
_CUTS = (1, 7, 20, 50, 100, 200)


@dataclass(frozen=True)
class Hostile:
    """One hostile file: ``target`` is ``"gt"`` or ``"predictions"``."""

    id: str
    target: str
    data: bytes


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``doc`` (its items, recursively), outermost first."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _paths(value, (*prefix, key))


def _serialised(doc: Any) -> bytes:
    data = json.dumps(doc, allow_nan=True).encode()
    for name, raw in RAW_VALUES.items():
        data = data.replace(json.dumps(_RAW.format(name)).encode(), raw)
    return data


def _location(path: tuple[Any, ...]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def hostile_inputs() -> Iterator[Hostile]:
    """Every hostile file of the sweep (about 1,800), in a fixed order."""
    for target, base in (("gt", GT), ("predictions", PREDICTIONS)):
        for path in _paths(base):
            where = _location(path)
            for name, value in VALUES.items():
                yield Hostile(
                    f"{target}{where}={name}", target, _serialised(edited(base, path, value))
                )
            if isinstance(path[-1], str):
                yield Hostile(
                    f"{target}{where}=deleted", target, _serialised(edited(base, path, DELETE))
                )
        whole = _serialised(base)
        for cut in _CUTS:
            yield Hostile(f"{target}-cut-at-{cut}", target, whole[:cut])
        yield Hostile(f"{target}-invalid-utf8", target, whole[:10] + b"\xff" + whole[10:])
        for name, raw in RAW_VALUES.items():
            yield Hostile(f"{target}-whole-{name}", target, raw)
