"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm turned off on every connection.

With more than one worker process, uvicorn binds the listening socket itself and leaves
its ``proto`` at 0. asyncio disables Nagle (sets ``TCP_NODELAY``) only on accepted
sockets whose ``proto`` is ``IPPROTO_TCP``, so every connection of a multi-process API
kept Nagle on. A response goes out as two writes (head, then body); Nagle holds the body
until the client acknowledges the head, and the client delays that acknowledgement (40
ms on Linux) because it has nothing to send: every keep-alive request after the first
took 45 ms instead of 3. (uvicorn issue #3149, open as of uvicorn 0.54.)
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class NoDelayH11Protocol(H11Protocol):
    """:class:`~uvicorn.protocols.http.h11_impl.H11Protocol` with ``TCP_NODELAY`` set."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in _TCP_FAMILIES:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
