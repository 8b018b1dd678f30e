"""Ids as users write them, read the way pycocotools reads them.

pycocotools keys its dicts by whatever the JSON holds. So an integral float id finds the
integer (``139.0 == 139`` and they hash alike: what dumping NumPy values gives), and
string image ids work when the results use the same strings; since it sorts the image
ids, a mix of strings and numbers cannot be scored. The loaders accept the same:

* an integral float id is read as the integer it equals (the loaders warn, with the
  first place); any other float is refused;
* image ids may be strings, all of them. Each is replaced by its position in sorted
  order (``sorted`` on ``str``, as pycocotools sorts them), so images keep pycocotools'
  order, by which it breaks score ties; the strings are kept to match the results;
* an id that names no declared image (a string among integer ids, or one that is not
  among the strings) gets a stand-in that no declared image has, so it reads as unknown.

Once read, ids are found in the ground truth's sorted ids by :func:`index_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.errors import ENGINE_NOT_BUILT, InputError
from evaluator.input.limits import shown

try:
    from evaluator.input import _scan
except ImportError:  # a checkout used without installing it
    raise ImportError(ENGINE_NOT_BUILT) from None

IdValue = int | float | str
"""An id as the lenient decoder and the walker let it through (strictly decoded: int)."""


def kind_of(value: Any) -> str:
    """What a JSON value is, for messages: ``"a string"``, ``"null"``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_id(value: Any, location: str, strings: bool = False) -> IdValue:
    """``value`` itself if it can be an id: an integer, an integral float, or a string
    where ``strings`` (image ids).

    Raises
    ------
    InputError
        ``"expected an integer, got a number (139.5)"``.
    """
    integer = isinstance(value, int) and not isinstance(value, bool)
    if integer or (isinstance(value, float) and value.is_integer()):
        return value
    if strings and isinstance(value, str):
        return value
    expected = "an integer or a string" if strings else "an integer"
    raise InputError(location, f"expected {expected}, got {kind_of(value)} ({shown(value)})")


def integral(
    values: Sequence[Any], location: str, field: str, strings: bool = False
) -> tuple[list[Any], int, int]:
    """Integral floats as the integers they equal, every value checked by :func:`check_id`.

    Parameters
    ----------
    values : sequence
        One id field of every item, as decoded.
    location, field : str
        ``f"{location}[{i}].{field}"`` locates item ``i``'s id.
    strings : bool
        Whether strings are ids too (image ids).

    Returns
    -------
    ids : list of int (and str where ``strings``)
    first_float : int
        Index of the first id written as a float, -1 when there is none.
    n_float : int
        How many ids are written as floats.
    """
    out = list(values)
    first_float, n_float = -1, 0
    for i, value in enumerate(out):
        if type(value) is int:
            continue
        check_id(value, f"{location}[{i}].{field}", strings)
        if isinstance(value, float):
            out[i] = int(value)
            first_float = i if first_float < 0 else first_float
            n_float += 1
    return out, first_float, n_float


def int64_column(values: Sequence[int], location: str, field: str) -> NDArray[np.int64]:
    """Python integers as int64; one beyond 64 bits is refused where it is."""
    try:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        limit = np.iinfo(np.int64)
        i = next(i for i, v in enumerate(values) if not limit.min <= v <= limit.max)
        raise InputError(
            f"{location}[{i}].{field}", f"must fit in 64 bits, got {shown(values[i])}"
        ) from None


def string_ids(values: Sequence[int | str], location: str) -> tuple[str, ...]:
    """The declared image ids in sorted order when they are strings; ``()`` when integers.

    Raises
    ------
    InputError
        At the first id whose type differs from the first one's.
    """
    if not values:
        return ()
    first_is_str = isinstance(values[0], str)
    for i, value in enumerate(values):
        if isinstance(value, str) != first_is_str:
            expected = "a string" if first_is_str else "an integer"
            raise InputError(
                f"{location}[{i}].id",
                f"expected {expected}, got {kind_of(value)} ({shown(value)}): image ids must "
                "be all integers or all strings (pycocotools cannot sort a mix)",
            )
    return tuple(sorted(set(values))) if first_is_str else ()  # type: ignore[arg-type]


def absent_id(declared: NDArray[np.int64]) -> int:
    """An int64 that no declared image has: the stand-in for every unknown image id."""
    candidates = -1 - np.arange(declared.shape[0] + 1, dtype=np.int64)
    return int(candidates[~np.isin(candidates, declared)][0])


def image_id_column(
    values: Sequence[int | str],
    names: tuple[str, ...],
    declared: NDArray[np.int64],
    location: str,
    field: str,
) -> NDArray[np.int64]:
    """Image ids in the ground truth's key space (see the module notes).

    Parameters
    ----------
    values : sequence of int or str
        As written (integral floats already made integers).
    names : tuple of str
        The ground truth's string ids, sorted; ``()`` when its ids are integers.
    declared : ndarray of shape (I,), dtype int64
        The ground truth's image ids in that key space.
    """
    if names:
        position = {name: i for i, name in enumerate(names)}
        return np.fromiter(
            (position.get(v, -1) if isinstance(v, str) else -1 for v in values),
            dtype=np.int64,
            count=len(values),
        )
    if any(isinstance(v, str) for v in values):
        stand_in = absent_id(declared)
        values = [stand_in if isinstance(v, str) else v for v in values]
    return int64_column(values, location, field)  # type: ignore[arg-type]


def index_of(sorted_ids: NDArray[np.int64], ids: NDArray[np.int64]) -> tuple[NDArray, NDArray]:
    """Position of each id in ``sorted_ids`` and whether it is there at all.

    Parameters
    ----------
    sorted_ids : ndarray of shape (M,), dtype int64
        Ascending and distinct.
    ids : ndarray of shape (N,), integer

    Returns
    -------
    position : ndarray of shape (N,), dtype int64
        0 where the id is absent.
    found : ndarray of shape (N,), dtype bool

    Ids in a range not much wider than the list of ids (COCO's image and category ids)
    are looked up in a table, others by binary search, in one compiled pass.
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    position = np.empty(ids.shape, dtype=np.int64)
    found = np.empty(ids.shape, dtype=bool)
    _scan.positions(np.ascontiguousarray(sorted_ids, dtype=np.int64), ids, position, found)
    return position, found
