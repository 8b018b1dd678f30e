"""Which workers are alive: each beats into a Redis sorted set, the API counts them.

A worker's main process writes its name into ``deteval:workers`` every
:data:`BEAT_SECONDS`, scored by the time of the beat; a worker whose last beat is more
than :data:`ALIVE_SECONDS` old counts as gone (killed, hung, or cut off from Redis). The
time comes from Redis (``TIME``), like the job leases', so clocks of other machines do
not matter.
"""

from __future__ import annotations

import redis

WORKERS_KEY = "deteval:workers"
#: Seconds between two beats of a worker.
BEAT_SECONDS = 2.0
#: A worker whose last beat is older than this (seconds) is not counted.
ALIVE_SECONDS = 10.0

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"

# The beat also drops the names of workers gone for good, so the set stays small.
_BEAT = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return 1
"""
)

_COUNT = _NOW + "return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')\n"


class Presence:
    """Worker beats in a Redis server.

    Parameters
    ----------
    client : redis.Redis
        The job store's connection.
    alive_seconds : float
        How old a worker's last beat may be for it to count as alive.
    """

    def __init__(self, client: redis.Redis, alive_seconds: float = ALIVE_SECONDS) -> None:
        self.redis = client
        self.alive_seconds = alive_seconds
        self._beat = client.register_script(_BEAT)
        self._count = client.register_script(_COUNT)

    def beat(self, worker: str) -> None:
        """Record that ``worker`` is alive now."""
        self._beat(keys=[WORKERS_KEY], args=[worker, self.alive_seconds])

    def leave(self, worker: str) -> None:
        """Remove ``worker`` at once (it stops)."""
        self.redis.zrem(WORKERS_KEY, worker)

    def count(self) -> int:
        """How many workers beat within the last ``alive_seconds``."""
        return int(self._count(keys=[WORKERS_KEY], args=[self.alive_seconds]))
