"""Reading a request body under deadlines, and counting the upload bytes held at once.

A client that stops sending, or sends a few bytes now and then, would otherwise hold its
connection and its half-received temporary file for as long as it likes. Here every
wait for the next part of a body is bounded: by the idle timeout, and, once the grace
time is over, by the moment the body's average rate would fall below the minimum.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from starlette.requests import ClientDisconnect, Request

from service.api.errors import PayloadTooLarge, RequestTimeout


@dataclass(frozen=True)
class BodyDeadlines:
    """How long a body may take.

    Attributes
    ----------
    idle_seconds : float
        The longest wait for the next bytes.
    grace_seconds : float
        From the start of the body, how long the rate is not checked.
    min_rate_bytes : float
        After the grace time, the slowest average rate (bytes per second) the body may
        arrive at; 0 for none.
    """

    idle_seconds: float
    grace_seconds: float
    min_rate_bytes: float

    def wait_limit(self, received: int, elapsed: float) -> tuple[float, str]:
        """How long to wait for the next bytes, and why no longer.

        Parameters
        ----------
        received : int
            Body bytes received so far.
        elapsed : float
            Seconds since the body started.

        Returns
        -------
        seconds : float
            The wait allowed; 0 or less when the body is already too slow.
        reason : str
            What a timeout after that wait means, for the 408's detail.
        """
        idle = (self.idle_seconds, f"no byte of the body arrived for {self.idle_seconds:g} s")
        if self.min_rate_bytes <= 0:
            return idle
        # The average received / t stays at or above the minimum until t = received / rate.
        rate_ends = max(self.grace_seconds, received / self.min_rate_bytes) - elapsed
        if rate_ends >= idle[0]:
            return idle
        return rate_ends, (
            f"the body arrived slower than the minimum of "
            f"{self.min_rate_bytes / 1024:g} KiB/s on average"
        )


async def body_chunks(
    request: Request,
    limit: int,
    deadlines: BodyDeadlines,
    every_mib: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """The body of ``request``, chunk by chunk, within ``limit`` bytes and ``deadlines``.

    Parameters
    ----------
    every_mib : callable, optional
        Called after each further MiB received (to check free space, say); whatever it
        raises ends the body.

    Raises
    ------
    RequestTimeout
        The next bytes did not arrive in time.
    PayloadTooLarge
        More than ``limit`` bytes.
    starlette.requests.ClientDisconnect
        The client went away.
    """
    start = time.monotonic()
    received = 0
    next_mib = 1 << 20
    while True:
        wait, reason = deadlines.wait_limit(received, time.monotonic() - start)
        message = None
        if wait > 0:
            with anyio.move_on_after(wait):
                message = await request.receive()
        if message is None:
            raise RequestTimeout(
                f"request body refused after {received} bytes: {reason}", received_bytes=received
            )
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes", limit_bytes=limit)
        if chunk:
            yield chunk
        if every_mib is not None and received >= next_mib:
            next_mib = (received // (1 << 20) + 1) << 20
            every_mib()
        if not message.get("more_body", False):
            return


class InflightBytes:
    """The upload bytes one API process has admitted and not yet let go of.

    Used from the event loop only (no lock needed).

    Parameters
    ----------
    capacity : int
        The most bytes admitted at once.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0

    def take(self, amount: int) -> Callable[[], None] | None:
        """Admit ``amount`` bytes; returns the function that gives them back, or None
        (nothing taken) when they would exceed the capacity."""
        if self.used + amount > self.capacity:
            return None
        self.used += amount
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self.used -= amount

        return give_back
