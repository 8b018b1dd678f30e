"""/v1/health: liveness, no key needed."""

from __future__ import annotations

import os

import redis
from fastapi import APIRouter

from service.api.deps import StateDep
from service.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health")
def health(state: StateDep) -> Health:
    """200 while the API runs; says whether the job store, broker and storage answer."""
    try:
        store = bool(state.store.redis.ping())
    except redis.RedisError:
        store = False
    broker = state.dispatcher.broker_ok()
    storage = os.access(state.storage.root, os.W_OK)
    return Health(
        status="ok" if store and broker and storage else "degraded",
        store=store,
        broker=broker,
        storage=storage,
    )
