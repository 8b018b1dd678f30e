"""/v1/health: liveness, no key needed."""

from __future__ import annotations

import redis
from fastapi import APIRouter

from service.api.deps import StateDep
from service.api.schemas import Health, WorkPoolHealth

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health")
def health(state: StateDep) -> Health:
    """200 while the API runs; says whether the job store, broker and storage answer, how
    much room the data directory has left, how many workers are alive and how this
    process' work pool fares."""
    try:
        store = bool(state.store.redis.ping())
        workers = state.presence.count()
    except redis.RedisError:
        store, workers = False, 0
    broker = state.dispatcher.broker_ok()
    try:
        free = state.storage.free_bytes()
    except OSError:  # the data directory is gone or unreadable
        free = 0
    storage = state.storage.writable() and free >= state.settings.min_free_bytes
    pool = state.pool.health()
    return Health(
        status="ok" if store and broker and storage and workers and pool.ok else "degraded",
        store=store,
        broker=broker,
        storage=storage,
        storage_free_bytes=free,
        workers=workers,
        work_pool=WorkPoolHealth(ok=pool.ok, processes=pool.processes, rebuilds=pool.rebuilds),
    )
