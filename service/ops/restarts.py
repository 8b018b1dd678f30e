"""When ``deteval serve`` starts a crashed child again: exponential back-off.

The first restart comes :data:`FIRST_DELAY_SECONDS` after a crash, each further one
waits twice as long, up to :data:`MAX_DELAY_SECONDS`; a child that stayed up
:data:`STABLE_SECONDS` starts over at the first delay. A child that crashes forever is
retried forever, once a minute, and never takes the others down.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
#: Up this long (seconds), a child's next crash counts as its first.
STABLE_SECONDS = 60.0


@dataclass
class Restarts:
    """The restart schedule of one child; times are ``time.monotonic()`` seconds.

    Attributes
    ----------
    started : float
        When the child was last started.
    due : float or None
        When to start it again; None while it runs.
    """

    started: float = 0.0
    due: float | None = None
    _next_delay: float = FIRST_DELAY_SECONDS

    def started_at(self, now: float) -> None:
        """The child was (re)started at ``now``."""
        self.started = now
        self.due = None

    def crashed_at(self, now: float) -> float:
        """The child exited, or failed to start, at ``now``: the delay until its restart."""
        if now - self.started >= STABLE_SECONDS:
            self._next_delay = FIRST_DELAY_SECONDS
        delay = self._next_delay
        self._next_delay = min(MAX_DELAY_SECONDS, 2 * delay)
        self.due = now + delay
        return delay

    def is_due(self, now: float) -> bool:
        """Whether a crashed child should be started again at ``now``."""
        return self.due is not None and now >= self.due
