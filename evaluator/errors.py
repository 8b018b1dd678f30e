"""Errors and warnings raised for user input.

Every problem found in a user's file names *what* is wrong and *where*, with a
JSON-path-like location such as ``predictions[17].bbox``.
"""

from __future__ import annotations


class InputError(ValueError):
    """User input that cannot be evaluated.

    Parameters
    ----------
    location : str
        Where the problem is, e.g. ``"predictions[17].bbox"``; empty for the whole input.
    problem : str
        What is wrong, e.g. ``"expected 4 numbers, got 3"``.
    """

    def __init__(self, location: str, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}" if location else problem)


class DataWarning(UserWarning):
    """Input that is valid but probably not what the user meant (a silent pycocotools trap)."""


#: What a checkout used without installing it says when the compiled engine is missing.
ENGINE_NOT_BUILT = (
    "evaluator's compiled engine is not built: install the package (pip install -e . "
    "builds it; a C compiler is needed)"
)
