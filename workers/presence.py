"""The worker's heartbeat (:mod:`service.backend.presence`): a thread of the Celery main process.

It starts when the worker is ready to take tasks and stops, taking the worker's name
out of the set, when the worker shuts down. A worker killed outright stops beating and
drops out of the count after :data:`service.backend.presence.ALIVE_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from service.backend.config import get_settings
from service.backend.jobs import connect
from service.backend.presence import BEAT_SECONDS, Presence

log = logging.getLogger(__name__)


class Heartbeat:
    """Beats for one worker every :data:`~service.backend.presence.BEAT_SECONDS` in a thread.

    Parameters
    ----------
    presence : Presence
    name : str
        The worker's name in the set (host and process id).
    """

    def __init__(self, presence: Presence, name: str) -> None:
        self.presence = presence
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presence-beat", daemon=True)

    def _run(self) -> None:
        failing = False
        while True:
            try:
                self.presence.beat(self.name)
            except redis.RedisError as exc:
                if not failing:  # one line per outage, not one per beat
                    log.warning("worker heartbeat failed (%s); still trying", exc)
                failing = True
            else:
                if failing:
                    log.info("worker heartbeat recovered")
                failing = False
            if self._stop.wait(BEAT_SECONDS):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and leave the set (a failure to leave only delays the count)."""
        self._stop.set()
        self._thread.join()
        try:
            self.presence.leave(self.name)
        except redis.RedisError as exc:
            log.warning("could not remove worker %s from the set (%s)", self.name, exc)


_running: list[Heartbeat] = []


def _start(**_: Any) -> None:
    settings = get_settings()
    if settings.redis_url is None:
        raise RuntimeError("DETEVAL_REDIS_URL is not set for the worker")
    heartbeat = Heartbeat(
        Presence(connect(settings.redis_url)), f"{socket.gethostname()}:{os.getpid()}"
    )
    heartbeat.start()
    _running.append(heartbeat)


def _stop(**_: Any) -> None:
    while _running:
        _running.pop().stop()


def beat_while_running() -> None:
    """Connect the heartbeat to the Celery worker's ready and shutdown signals."""
    worker_ready.connect(_start, weak=False)
    worker_shutdown.connect(_stop, weak=False)
