"""The composition root: builds the adapters and services, starts the broker and the sweeper,
and closes everything on exit.

    app = base_app("invoice-events", __version__, settings, doc, wiring=wiring(settings))
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import structlog
from fastapi import FastAPI

from invoice_events import subscribers
from invoice_events.adapters.kafka import KafkaPublisher
from invoice_events.adapters.mongo import MongoStores
from invoice_events.adapters.sync_log import SyncLogClient
from invoice_events.config import Settings
from invoice_events.idempotency import IdempotentRequests
from invoice_events.resync import SyncRequests
from invoice_events.service import InvoiceService
from service_kit.errors import RetryLater
from service_kit.events import Topics, ensure_topics, event_broker
from service_kit.periodic import every
from service_kit.runtime import Wiring

log = structlog.get_logger(__name__)


def wiring(settings: Settings) -> Wiring:
    @asynccontextmanager
    async def wire(app: FastAPI) -> AsyncIterator[None]:
        names = Topics.with_prefix(settings.topic_prefix)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            names.all(),
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
        stores = await MongoStores.open(app.state.mongo[settings.mongodb_database])
        broker = event_broker(settings.kafka_bootstrap_servers, client_id="invoice-events")
        publisher = KafkaPublisher(broker, names, timeout_seconds=settings.publish_timeout_seconds)
        lease = timedelta(seconds=settings.claim_lease_seconds)
        async with SyncLogClient(
            str(settings.sync_log_url),
            settings.sync_log_api_key,
            timeout_seconds=settings.sync_log_timeout_seconds,
            page_size=settings.sync_log_page_size,
        ) as sync_log:
            invoices = InvoiceService(
                stores.snapshots, publisher, lease=lease, concurrency=settings.publish_concurrency
            )
            requests = SyncRequests(
                stores.snapshots,
                publisher,
                stores.batches,
                sync_log,
                concurrency=settings.publish_concurrency,
            )
            idempotency = IdempotentRequests(
                stores.idempotency,
                ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
                lease=lease,
            )
            app.state.invoices = invoices
            app.state.sync_requests = requests
            app.state.idempotency = idempotency
            subscribers.register(
                broker,
                invoices,
                names=names,
                group_id=settings.consumer_group,
                max_attempts=settings.consumer_max_attempts,
                backoff_seconds=settings.consumer_backoff_seconds,
            )
            await broker.start()

            async def sweep() -> None:
                """Finish publishes abandoned by a crash or an outage; forget expired keys."""
                await invoices.complete_stale()
                await idempotency.purge()

            tasks = [
                asyncio.create_task(every(settings.sweep_interval_seconds, sweep, name="sweep")),
                # The marks of published events, behind the requests (step 4 of service.py).
                asyncio.create_task(
                    every(settings.mark_interval_seconds, invoices.flush_marks, name="flush_marks")
                ),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
                with suppress(RetryLater):
                    await invoices.flush_marks()
                await broker.stop()

    return wire
