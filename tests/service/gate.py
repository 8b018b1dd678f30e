"""The gate of the gated test processes (``gated_worker.py``, ``gated_api.py``)."""

from __future__ import annotations

import time
from pathlib import Path


def pass_gate(gate: Path, arrival: str, timeout: float = 120.0) -> None:
    """Touch ``gate/arrival``, then wait until a file ``gate/open`` appears.

    Raises
    ------
    TimeoutError
        The gate did not open within ``timeout`` seconds.
    """
    (gate / arrival).touch()
    deadline = time.monotonic() + timeout
    while not (gate / "open").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("gate never opened")
        time.sleep(0.05)
