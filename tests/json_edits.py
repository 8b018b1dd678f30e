"""Edited copies of JSON documents, for tables of bad inputs."""

from __future__ import annotations

import copy
from typing import Any

#: Pass as the value to delete the item instead of setting it.
DELETE = object()


def edited(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``doc`` with the item at ``path`` set to ``value`` (or deleted)."""
    out = copy.deepcopy(doc)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out
