"""What one API process holds: settings, storage, job store, task sender, keys, validators."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio

from service.auth import KeyRing
from service.config import Settings
from service.dispatch import Dispatcher, make_celery
from service.jobs import JobStore, connect, connect_async
from service.storage import Storage
from service.validation import Validator


@dataclass
class AppState:
    """The long-lived objects of one API process."""

    settings: Settings
    storage: Storage
    store: JobStore
    async_redis: redis.asyncio.Redis
    dispatcher: Dispatcher
    keys: KeyRing
    validator: Validator

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        """Connect everything ``settings`` names.

        Raises
        ------
        ValueError
            No Redis URL or no API key configured (the API refuses to run open).
        """
        if settings.redis_url is None:
            raise ValueError(
                "DETEVAL_REDIS_URL is not set; run `deteval serve` for the embedded default"
            )
        keys = KeyRing(settings.tenant_keys())
        store = JobStore(connect(settings.redis_url))
        return cls(
            settings=settings,
            storage=Storage(settings.data_dir),
            store=store,
            async_redis=connect_async(settings.redis_url),
            dispatcher=Dispatcher(make_celery(settings), store),
            keys=keys,
            validator=Validator(cache_size=settings.dataset_cache_size),
        )

    async def close(self) -> None:
        """Release connections and stop the validation processes."""
        self.validator.close()
        self.store.redis.close()
        await self.async_redis.aclose()
