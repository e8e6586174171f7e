"""The composition root: builds the store, the service, the consumer and the retention job."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service_kit.clock import utc_now
from service_kit.events import RawRecord, Topics, dead_letter, ensure_topics, event_broker
from service_kit.periodic import every
from service_kit.runtime import Wiring
from sync_log.adapters.mongo import MongoSyncLog
from sync_log.adapters.mongo_reader import MongoSyncLogReader
from sync_log.config import Settings
from sync_log.retention import purge_once
from sync_log.service import SyncLogService
from sync_log.subscribers import subscribe
from sync_schemas import EnvelopeError


def wiring(settings: Settings) -> Wiring:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = MongoSyncLog(app.state.mongo[settings.mongodb_database])
        await store.ensure_indexes()
        app.state.reader = MongoSyncLogReader(app.state.mongo[settings.mongodb_database])
        if not settings.consumer_enabled:
            yield
            return

        names = Topics.with_prefix(settings.topic_prefix)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            names.all(),
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
        broker = event_broker(settings.kafka_bootstrap_servers, client_id="sync-log")

        async def to_dlq(record: RawRecord, error: EnvelopeError) -> None:
            await dead_letter(broker, record, error, names)

        service = SyncLogService(store, recent_states=settings.recent_states)
        subscribe(broker, names, service, settings, to_dlq)
        await broker.start()
        retention = None
        if settings.retention_days > 0:
            days = settings.retention_days

            async def purge() -> None:
                await purge_once(store, days, utc_now)

            interval = settings.retention_interval_seconds
            retention = asyncio.create_task(
                every(interval, purge, name="retention", first_delay_seconds=0)
            )
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention
            await broker.stop()

    return lifespan
