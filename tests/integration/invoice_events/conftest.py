"""invoice-events running in-process (its real lifespan: topics, MongoDB, FastStream broker,
consumers, sweeper) against the session's real Kafka and MongoDB, on topics, a consumer group
and a database of the test's own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from invoice_events.config import Settings
from invoice_events.main import create_app
from local_infra import free_port
from service_kit.events import Topics
from sync_log.config import Settings as SyncLogSettings
from sync_log.main import create_app as create_sync_log
from tests.integration.invoice_events.support import Running, ServiceFactory
from tests.support.serve import serving

API_KEY = "test-key"
SYNC_LOG_KEY = "sync-log-key"


@pytest.fixture
def service(kafka_bootstrap: str, mongodb_uri: str, unique: str) -> ServiceFactory:
    """``async with service(**settings_overrides) as svc:`` starts one instance."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Running]:
        settings = Settings(
            **{
                "kafka_bootstrap_servers": kafka_bootstrap,
                "mongodb_uri": mongodb_uri,
                "mongodb_database": unique[:60],
                "api_keys": API_KEY,
                "topic_prefix": unique,
                "topic_partitions": 3,
                "consumer_group": unique,
                "sync_log_api_key": SYNC_LOG_KEY,
                "sweep_interval_seconds": 0.5,
                "consumer_backoff_seconds": 0.05,
                **overrides,
            }
        )
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://invoice-events",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            ) as http,
        ):
            yield Running(http, settings, Topics.with_prefix(unique), kafka_bootstrap)

    return start


@pytest.fixture
async def sync_log(kafka_bootstrap: str, mongodb_uri: str, unique: str) -> AsyncIterator[str]:
    """The real sync-log service (its consumer and query API) on the test's topics; its URL.
    It learns invoice statuses from the test's topics like in production."""
    settings = SyncLogSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        mongodb_database=f"{unique[:50]}_sl",
        api_keys=SYNC_LOG_KEY,
        topic_prefix=unique,
        topic_partitions=3,
        consumer_group=f"{unique}-sync-log",
        port=free_port(),
    )
    async with serving(create_sync_log(settings)) as url:
        yield url
