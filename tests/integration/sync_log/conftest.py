"""A real sync-log service (API + consumer) per test, on its own topics and database."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from faststream.kafka import KafkaBroker

from local_infra import free_port
from service_kit.events import Topics, event_broker, publish_event
from sync_log.config import Settings
from sync_log.main import create_app
from sync_schemas import CloudEvent
from tests.support.serve import start

API_KEY = "test-key"


@dataclass
class SyncLog:
    url: str
    names: Topics
    broker: KafkaBroker
    client: httpx.AsyncClient

    async def publish(self, event: CloudEvent[Any]) -> None:
        await publish_event(self.broker, event, self.names)

    async def publish_raw(self, topic: str, value: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(value, topic, key=b"org_a", headers=headers)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


async def serve(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """The sync log on ``settings.port``, started (tests stop it by ``should_exit``)."""
    served = await start(create_app(settings), port=settings.port)
    return served.server, served.task


def settings_for(kafka: str, mongodb: str, unique: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": free_port(),
        "kafka_bootstrap_servers": [kafka],
        "mongodb_uri": mongodb,
        "mongodb_database": unique,
        "api_keys": [API_KEY],
        "topic_prefix": unique,
        "topic_partitions": 3,
        "consumer_group": unique,
        "consumer_batch_size": 200,
    }
    return Settings(**(values | overrides))


@pytest.fixture
async def sync_log(kafka_bootstrap: str, mongodb_uri: str, unique: str) -> AsyncIterator[SyncLog]:
    settings = settings_for(kafka_bootstrap, mongodb_uri, unique)
    server, task = await serve(settings)
    broker = event_broker([kafka_bootstrap], client_id=f"{unique}-producer")
    await broker.start()
    url = f"http://127.0.0.1:{settings.port}"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            yield SyncLog(url, Topics.with_prefix(unique), broker, client)
    finally:
        await broker.stop()
        server.should_exit = True
        await task
