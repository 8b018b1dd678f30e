"""How an evaluation takes memory from the OS: in ordinary pages, not NumPy's huge pages.

NumPy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array
of 4 MB or more. Where the kernel's THP ``defrag`` setting is ``madvise`` (the default
of most distributions), a fault in such an array compacts memory on the spot whenever no
free 2 MB page is at hand, which is the usual state after other processes have run: an
evaluation's run time then varies by a third from one run to the next. Measured on the
project's 2-core machine, 20,000 images / 2M detections, ``evaluate_coco`` in fresh
processes interleaved with the native peers: 1.07-1.38 s (1.6-2.0 s CPU) with huge pages,
1.04-1.07 s (1.5 s CPU) without; where free huge pages abound, huge pages gain about 5%.

:func:`ordinary_pages` turns NumPy's request off while an evaluation runs, and back on
after the last one running in the process ends (NumPy's switch is process-wide).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

_lock = threading.Lock()
_running = 0  # evaluations inside ordinary_pages
_before = True  # NumPy's setting when the first of them entered


def _numpy_switch() -> Callable[[bool], bool] | None:
    """NumPy's ``_set_madvise_hugepage`` (returns the previous setting), where it has one."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    multiarray = getattr(core, "multiarray", None)
    return getattr(multiarray, "_set_madvise_hugepage", None)


_switch = _numpy_switch()


@contextmanager
def ordinary_pages() -> Iterator[None]:
    """Run the body with NumPy's huge-page request off (a no-op where NumPy has none)."""
    global _running, _before
    if _switch is None:
        yield
        return
    with _lock:
        if _running == 0:
            _before = _switch(False)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                _switch(_before)
