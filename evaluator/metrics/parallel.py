"""The compiled kernels of the metrics, and the chunks of work they run in.

The kernels of :mod:`evaluator.metrics._kernels` release the GIL; :mod:`evaluator.threads`
spreads their chunks over the cores.
"""

from __future__ import annotations

from evaluator.errors import ENGINE_NOT_BUILT
from evaluator.threads import available_cores, run_in_chunks, threads

try:
    from evaluator.metrics import _kernels as kernels
except ImportError:  # a checkout used without installing it
    raise ImportError(ENGINE_NOT_BUILT) from None

__all__ = ["available_cores", "kernels", "run_in_chunks", "threads"]
