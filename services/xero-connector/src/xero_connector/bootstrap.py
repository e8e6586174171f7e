"""The composition root: builds the cipher, the stores, the one HTTP client to Xero, the
token manager and the use cases; starts the Kafka producer; closes everything on exit.

    app = base_app("xero-connector", __version__, settings, doc, wiring=wiring(settings))
    app.state.tokens     # the TokenManager the pipeline asks for access tokens
    app.state.xero       # the XeroApiClient (Accounting API through the token manager)
    app.state.accounting # the typed Xero port (GatewayAccounting) every use case calls
    app.state.links      # the explicit link of an invoice to one already in Xero
    app.state.org_data   # cached Currencies, TaxRates, Accounts per organisation
    app.state.orgs       # every organisation known, and its invoices waiting on a connection
    app.state.pipeline   # the sync use case (SyncPipeline)
    app.state.consumer   # the invoices.events consumer (SyncConsumer)
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.clock import utc_now
from service_kit.events import Topics, ensure_topics, event_broker
from service_kit.periodic import every
from service_kit.runtime import Wiring
from sync_schemas import ConnectionStatus
from xero_connector.adapters.kafka import KafkaConnectionEvents
from xero_connector.adapters.mongo import (
    Doc,
    MongoAuthorizations,
    MongoConnections,
    MongoOrgConfig,
    MongoRefreshLeases,
)
from xero_connector.adapters.mongo_sync import (
    MongoContactCache,
    MongoInvoiceRecords,
    MongoProcessed,
    MongoRetries,
    MongoWriterLeases,
)
from xero_connector.adapters.xero_accounting import GatewayAccounting
from xero_connector.adapters.xero_client import (
    XeroApiClient,
    XeroIdentityClient,
    build_http_client,
)
from xero_connector.config import Settings
from xero_connector.configuration import ConfigService
from xero_connector.contacts import ContactResolver
from xero_connector.crypto import TokenCipher
from xero_connector.fence import Fence
from xero_connector.gateway import XeroGateway
from xero_connector.limiter import Limits, RateLimiter
from xero_connector.links import LinkService
from xero_connector.org_data import OrgDataCache
from xero_connector.orgs import OrgDirectory
from xero_connector.retries import PARKED_SWEEP_SECONDS, ParkedSweep, RetryLoop
from xero_connector.service import ConnectionService, OAuthClient
from xero_connector.subscribers import SyncConsumer, kafka_ports, subscribe
from xero_connector.sync.pipeline import SyncPipeline
from xero_connector.sync.planner import RetryPolicy
from xero_connector.sync.writer import Writer
from xero_connector.tokens import TokenManager, instance_name
from xero_connector.writers import WriterLeases


@dataclass(frozen=True, slots=True)
class Stores:
    connections: MongoConnections
    leases: MongoRefreshLeases
    authorizations: MongoAuthorizations
    config: MongoOrgConfig
    records: MongoInvoiceRecords
    contacts: MongoContactCache
    processed: MongoProcessed
    retries: MongoRetries
    writer_leases: MongoWriterLeases

    @classmethod
    def open(cls, db: AsyncDatabase[Doc], cipher: TokenCipher) -> "Stores":
        # Every document is keyed by _id: no secondary index is needed.
        return cls(
            MongoConnections(db, cipher),
            MongoRefreshLeases(db),
            MongoAuthorizations(db, cipher),
            MongoOrgConfig(db),
            MongoInvoiceRecords(db),
            MongoContactCache(db),
            MongoProcessed(db),
            MongoRetries(db),
            MongoWriterLeases(db),
        )


def token_manager(
    settings: Settings, stores: Stores, identity: XeroIdentityClient, events: KafkaConnectionEvents
) -> TokenManager:
    return TokenManager(
        stores.connections,
        stores.leases,
        identity,
        events,
        refresh_ahead_seconds=settings.refresh_ahead_seconds,
        lease_seconds=settings.refresh_lease_seconds,
        grace_seconds=settings.refresh_grace_seconds,
        retries=settings.refresh_retries,
    )


def limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(
        Limits(
            per_minute=settings.xero_per_minute,
            concurrent=settings.xero_concurrent,
            app_per_minute=settings.xero_app_per_minute,
            time_scale=settings.xero_time_scale,
            margin=settings.xero_limit_margin,
            day_reset_seconds=settings.xero_day_reset_seconds,
        )
    )


def accounting(
    settings: Settings, xero: XeroApiClient, tokens: TokenManager, writers: WriterLeases
) -> GatewayAccounting:
    """The typed Xero port: every call through one rate-limited gateway, every write only
    while this instance is the organisation's writer."""
    gateway = XeroGateway(
        xero,
        limiter(settings),
        retries=settings.xero_retries,
        backoff_seconds=settings.xero_backoff_seconds,
    )
    return GatewayAccounting(gateway, tokens, writers)


def pipeline(
    settings: Settings,
    stores: Stores,
    tokens: TokenManager,
    port: GatewayAccounting,
    org_data: OrgDataCache,
    config: ConfigService,
    writers: WriterLeases,
) -> SyncPipeline:
    baseline = settings.baseline_mode
    contacts = ContactResolver(
        port,
        stores.contacts,
        create_batch=1 if baseline else settings.contact_batch_size,
        directory_ttl_seconds=settings.contact_directory_ttl_seconds,
        per_invoice=baseline,
    )
    writer = Writer(
        port,
        stores.records,
        chunk_size=1 if baseline else settings.chunk_size,
        write_attempts=settings.write_attempts,
        lookup_always=settings.invoice_lookup == "always",
        lanes=1 if baseline else settings.write_lanes,
    )
    return SyncPipeline(
        xero=port,
        tokens=tokens,
        config=config,
        org_data=org_data,
        contacts=contacts,
        records=stores.records,
        retries=stores.retries,
        writer=writer,
        url_template=settings.invoice_url_template,
        batch_deadline_seconds=settings.batch_deadline_seconds,
        writers=writers,
        policy=RetryPolicy(settings.unavailable_retries, settings.unavailable_retry_seconds),
    )


def wiring(settings: Settings) -> Wiring:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cipher = TokenCipher.from_settings(settings)
        stores = Stores.open(app.state.mongo[settings.mongodb_database], cipher)
        names = Topics.with_prefix(settings.topic_prefix)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            names.all(),
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
        broker: KafkaBroker = event_broker(
            settings.kafka_bootstrap_servers, client_id="xero-connector"
        )
        events = KafkaConnectionEvents(broker, names)
        async with build_http_client(settings) as http:
            identity = XeroIdentityClient.from_settings(http, settings)
            tokens = token_manager(settings, stores, identity, events)
            xero = XeroApiClient(http, tokens, api_url=settings.xero_api_url)
            writers = WriterLeases(
                stores.writer_leases,
                instance_name(),
                ttl_seconds=settings.writer_lease_seconds,
                clock=utc_now,
            )
            port = accounting(settings, xero, tokens, writers)
            org_data = OrgDataCache(port, settings.org_cache_ttl_seconds)
            app.state.stores = stores
            app.state.tokens = tokens
            app.state.xero = xero
            app.state.accounting = port
            app.state.org_data = org_data
            app.state.connections = ConnectionService(
                connections=stores.connections,
                authorizations=stores.authorizations,
                identity=identity,
                events=events,
                config=stores.config,
                client=OAuthClient(
                    client_id=settings.xero_client_id,
                    login_url=settings.xero_login_url,
                    redirect_uri=settings.redirect_uri,
                    scopes=tuple(settings.scope_list),
                    state_ttl_seconds=settings.oauth_state_ttl_seconds,
                ),
                tenant_data=(stores.records, stores.contacts),
                parked=stores.retries,
            )
            app.state.orgs = OrgDirectory(stores.connections, stores.config, stores.retries)
            app.state.config = ConfigService(
                stores.config, org_data, port, recent_currency_days=settings.recent_currency_days
            )
            app.state.links = LinkService(port, stores.records)
            app.state.pipeline = pipeline(
                settings, stores, tokens, port, org_data, app.state.config, writers
            )
            publish, publish_all, to_dlq = kafka_ports(broker, names)
            fence = Fence(on_revoked=writers.release_all)
            app.state.consumer = SyncConsumer(
                app.state.pipeline,
                stores.processed,
                publish_all,
                to_dlq,
                fence,
                overlap=settings.overlap_batches,
            )
            if settings.consume:
                subscribe(
                    broker,
                    names,
                    app.state.consumer,
                    group_id=settings.consumer_group,
                    max_records=settings.consumer_batch_size,
                    linger_ms=settings.linger_ms,
                    max_poll_interval_ms=int(settings.max_poll_interval_seconds * 1000),
                )
            retries = RetryLoop(stores.retries, publish)

            async def connected(org_id: str) -> bool:
                connection = await stores.connections.get(org_id)
                return bool(connection and connection.status is ConnectionStatus.CONNECTED)

            sweep = ParkedSweep(stores.retries, connected)
            cutoff = timedelta(days=settings.processed_events_days)

            async def forget_processed() -> None:
                await stores.processed.purge(utc_now() - cutoff)

            jobs = [
                asyncio.create_task(
                    every(settings.retry_poll_seconds, retries.run_once, name="retries")
                ),
                asyncio.create_task(every(3600, forget_processed, name="processed_events")),
                asyncio.create_task(
                    every(PARKED_SWEEP_SECONDS, sweep.run_once, name="parked_sweep")
                ),
            ]
            await broker.start()
            try:
                yield
            finally:
                for job in jobs:
                    job.cancel()
                await app.state.consumer.close()  # the results going out, then their commit
                await broker.stop()
                await writers.release_all()  # a clean stop: successors need not wait

    return lifespan
