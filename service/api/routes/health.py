"""/v1/health: liveness, no key needed."""

from __future__ import annotations

import os

import redis
from fastapi import APIRouter

from service.api.deps import StateDep
from service.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(state: StateDep) -> Health:
    """200 while the API runs; says whether the job store, broker and storage answer, and
    how much room the data directory has left."""
    try:
        store = bool(state.store.redis.ping())
    except redis.RedisError:
        store = False
    broker = state.dispatcher.broker_ok()
    try:
        free = state.storage.free_bytes()
    except OSError:  # the data directory is gone or unreadable
        free = 0
    storage = os.access(state.storage.root, os.W_OK) and free >= state.settings.min_free_bytes
    return Health(
        status="ok" if store and broker and storage else "degraded",
        store=store,
        broker=broker,
        storage=storage,
        storage_free_bytes=free,
    )
