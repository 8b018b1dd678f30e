"""Limits on the strings a user's file puts into reports, and the check that they can be
written at all.

The only free strings a COCO file carries into a report are its category names. String
image ids are read too, to match results to images, but never written into a report (a
message quotes one shortened, see :func:`shown`); ``file_name``, ``supercategory``,
``info`` and the like are skipped unread and never stored, shown or written. A name is written once
into the report JSON and about seven times into its HTML page, and each category costs
about 4.4 KB of report JSON and 5.5 KB of HTML whatever its name (measured with
``evaluate_coco`` and ``render_html`` on 1 to 1,000 categories). Unbounded, one 50 MB
name made a 315 MB report and a 472 MB page, and many tiny categories do the same.

Limits
------
MAX_NAME_CHARS = 1,000
    Class names are words or short phrases (COCO's longest, "baseball glove", has 14
    characters); 1,000 leaves room for any descriptive label. At 1,000 a name's share of
    a report row is at most about the size of the row itself (7 KB of HTML), so a page
    stays within a small factor of its size with ordinary names.
MAX_CATEGORIES = 20,000
    The largest detection vocabularies in use are LVIS (1,203 classes) and V3Det (about
    13,000). At the limit the report is about 90 MB of JSON (plus at most 20 MB of
    names): large, but bounded, where the upload size alone would allow millions.

A string that is not valid Unicode (a lone UTF-16 surrogate, which JSON's ``\\uD800``
escape can spell and Python's parsers let through) cannot be encoded as UTF-8, so no
report holding it can be written: it is refused at load time, where it is, instead of
failing the evaluation afterwards.

A value quoted in an error message is shortened by :func:`shown`, so the message stays
one line however large the value (it is printed, logged and returned by the service).
"""

from __future__ import annotations

import reprlib
from typing import Any

from evaluator.errors import InputError

MAX_NAME_CHARS = 1_000
MAX_CATEGORIES = 20_000

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxlong = _SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


def shown(value: Any) -> str:
    """``repr(value)`` cut to about 40 characters and 2 levels of nesting, for messages."""
    return _SHORT.repr(value)


def check_count(count: int, limit: int, what: str, location: str) -> None:
    """Refuse more than ``limit`` items.

    Raises
    ------
    InputError
        ``"<location>: 20001 categories, at most 20000"``.
    """
    if count > limit:
        raise InputError(location, f"{count} {what}, at most {limit}")


def check_name(name: str, location: str) -> None:
    """Refuse a name longer than :data:`MAX_NAME_CHARS` or one that is not Unicode text.

    Raises
    ------
    InputError
        ``"<location>: 50000000 characters, at most 1000"``, or the position of the
        first lone surrogate.
    """
    if len(name) > MAX_NAME_CHARS:
        raise InputError(location, f"{len(name)} characters, at most {MAX_NAME_CHARS}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            location,
            f"contains a lone surrogate (\\u{ord(name[exc.start]):04x}) at character {exc.start}, "
            "which is not Unicode text and cannot be written out",
        ) from None
