"""What one API process holds: settings, storage, job stores, task sender, keys, work pool,
worker presence."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import anyio

from service.api.auth import KeyRing
from service.api.uploads import Receiver
from service.api.validation import Validator, init_process
from service.api.workpool import WorkPool
from service.backend.catalog import DatasetRecords
from service.backend.config import Settings
from service.backend.deletion import Deleter
from service.backend.dispatch import Dispatcher, make_celery
from service.backend.jobs import JobStore, connect
from service.backend.jobs_async import AsyncJobStore, connect_async
from service.backend.presence import Presence
from service.backend.storage import Storage, open_storage


@dataclass
class AppState:
    """The long-lived objects of one API process.

    ``store``, ``datasets`` and ``deleter`` (blocking) are for writes from threads and
    the sweeper;
    ``jobs`` (asyncio) is for reads on the event loop. ``receiver`` reads upload bodies
    under their size, time and in-flight limits. ``upload_slots`` lets ``concurrent_uploads``
    received uploads be checked and stored at a time (receiving is not limited: a slow
    client must not hold a slot while its bytes trickle in).
    """

    settings: Settings
    storage: Storage
    store: JobStore
    datasets: DatasetRecords
    deleter: Deleter
    jobs: AsyncJobStore
    dispatcher: Dispatcher
    keys: KeyRing
    pool: WorkPool
    validator: Validator
    upload_slots: asyncio.Semaphore
    presence: Presence
    receiver: Receiver

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
        pool = WorkPool(
            settings.pool_processes or os.cpu_count() or 2,
            initializer=init_process,
            initargs=(settings.dataset_cache_size,),
        )
        storage = open_storage(settings)
        return cls(
            settings=settings,
            storage=storage,
            store=store,
            datasets=DatasetRecords(store.redis),
            deleter=Deleter(store.redis, storage),
            jobs=AsyncJobStore(connect_async(settings.redis_url)),
            dispatcher=Dispatcher(make_celery(settings), store),
            keys=keys,
            pool=pool,
            validator=Validator(pool),
            upload_slots=asyncio.Semaphore(settings.concurrent_uploads),
            presence=Presence(store.redis),
            receiver=Receiver.from_settings(storage, settings),
        )

    async def warm_up(self) -> None:
        """Start the work pool, the broker connection and the thread runner before the
        first request, so that no request pays for them."""
        self.pool.warm_up()
        await anyio.to_thread.run_sync(self.dispatcher.warm_up)

    async def close(self) -> None:
        """Release connections and stop the work pool."""
        self.pool.close()
        self.store.redis.close()
        await self.jobs.close()
