"""The public surface of evaluator.nn: one sorted __all__, and NumPy as the only dependency."""

from __future__ import annotations

import subprocess
import sys

import evaluator.nn as nn


def test_all_is_sorted_unique_and_importable():
    assert nn.__all__ == sorted(nn.__all__)
    assert len(set(nn.__all__)) == len(nn.__all__)
    for name in nn.__all__:
        assert getattr(nn, name) is not None, name


def test_every_public_module_class_is_exported():
    exported = {getattr(nn, name) for name in nn.__all__}
    pending = list(nn.Module.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # Only the package's own classes (tests and examples define subclasses too).
        if cls.__module__.startswith("evaluator.nn") and not cls.__name__.startswith("_"):
            assert cls in exported, cls.__name__


def test_importing_the_toolkit_does_not_import_torch():
    code = "import sys, evaluator.nn; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
