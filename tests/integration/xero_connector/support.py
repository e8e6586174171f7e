"""Helpers of the xero-connector integration tests: a connector instance in-process (its real
lifespan) over the session's Kafka and MongoDB, the sandbox's control API, the OAuth dance a
browser would do, and reading the connection events back from Kafka."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.events import Topics
from sync_schemas import CloudEvent, decode
from xero_connector.adapters.xero_accounting import GatewayAccounting
from xero_connector.bootstrap import Stores
from xero_connector.config import Settings
from xero_connector.main import create_app
from xero_connector.tokens import TokenManager
from xero_connector.xero_models import Currency, Organisation

API_KEY = "xc-test-key-5b1f0e"
TOKEN_KEY = "6XUWgNpNk6S0Y7Aa6Xx3t7mHk0eKzqgJmH9dE0kRr8Y="  # a Fernet key for tests only
REDIRECT_URI = "http://127.0.0.1:8002/v1/oauth/callback"


class CommandsSent(monitoring.CommandListener):
    """Every command a client sent the server, in order: what a store call costs it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def of(self, name: str) -> list[dict[str, Any]]:
        return [command for sent, command in self.sent if sent == name]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def watched_db(
    mongodb_uri: str, name: str
) -> AsyncIterator[tuple[AsyncDatabase[dict[str, Any]], CommandsSent]]:
    """Database ``name`` through a client of its own, and the commands it sends."""
    commands = CommandsSent()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        yield client[name], commands
    finally:
        await client.close()


class OrgReader:
    def __init__(self, port: GatewayAccounting) -> None:
        self._port = port

    async def organisation(self, org_id: str) -> Organisation:
        return await self._port.organisation(await self._port.scope(org_id))

    async def currencies(self, org_id: str) -> list[Currency]:
        return await self._port.currencies(await self._port.scope(org_id))


@dataclass
class Connector:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    names: Topics

    @property
    def tokens(self) -> TokenManager:
        manager: TokenManager = self.app.state.tokens
        return manager

    @property
    def xero(self) -> "OrgReader":
        """The organisation's settings in Xero, through the typed port."""
        return OrgReader(self.app.state.accounting)

    @property
    def stores(self) -> Stores:
        stores: Stores = self.app.state.stores
        return stores


ConnectorFactory = Callable[..., AbstractAsyncContextManager[Connector]]


def sandbox_xero(sandbox_url: str) -> dict[str, Any]:
    """The connector settings that point it at the sandbox as its Xero (API, identity,
    login), with the test client, redirect and token key."""
    return {
        "xero_client_id": "sandbox",
        "xero_client_secret": "sandbox",
        "redirect_uri": REDIRECT_URI,
        "xero_api_url": sandbox_url,
        "xero_identity_url": sandbox_url,
        "xero_login_url": sandbox_url,
        "token_keys": TOKEN_KEY,
    }


def connector_factory(kafka: str, mongodb: str, unique: str, sandbox_url: str) -> ConnectorFactory:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Connector]:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka,
            "mongodb_uri": mongodb,
            "mongodb_database": unique[:60],
            "api_keys": API_KEY,
            "topic_prefix": unique,
            "topic_partitions": 1,
            "http_read_timeout_seconds": 10,
        } | sandbox_xero(sandbox_url)
        settings = Settings(**(values | overrides))
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://xero-connector",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            ) as http,
        ):
            yield Connector(app, http, settings, Topics.with_prefix(unique))

    return start


class Sandbox:
    """The sandbox's control API and its OAuth consent, as a test drives them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def create_org(self, **spec: Any) -> str:
        response = await self.http.post("/_sandbox/orgs", json=spec)
        assert response.status_code == 201, response.text
        tenant_id: str = response.json()["tenant_id"]
        return tenant_id

    async def faults(self, **spec: Any) -> dict[str, Any]:
        response = await self.http.put("/_sandbox/faults", json=spec)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def requests(self) -> list[dict[str, Any]]:
        response = await self.http.get("/_sandbox/requests")
        entries: list[dict[str, Any]] = response.json()["requests"]
        return entries

    async def token_calls(self, grant_type: str) -> int:
        return sum(
            1
            for r in await self.requests()
            if r["path"] == "/connect/token" and (r["body"] or {}).get("grant_type") == grant_type
        )

    async def consent(self, authorize_url: str, tenant_id: str) -> str:
        """What a browser does at Xero: the redirect back to the connector, as path + query."""
        parts = urlsplit(authorize_url)
        # params= would replace the query: append the sandbox's tenant choice to it instead.
        response = await self.http.get(f"{parts.path}?{parts.query}&sandbox_tenant_id={tenant_id}")
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        return f"{location.path}?{location.query}"


async def connect(connector: Connector, sandbox: Sandbox, org_id: str, tenant_id: str) -> Any:
    """Connect ``org_id`` to the sandbox tenant the way an operator and a browser would."""
    started = await connector.http.post(f"/v1/orgs/{org_id}/connection")
    assert started.status_code == 200, started.text
    callback = await sandbox.consent(started.json()["authorize_url"], tenant_id)
    done = await connector.http.get(callback)
    assert done.status_code == 200, done.text
    return done.json()


async def read_events(bootstrap: str, topic: str) -> list[CloudEvent[Any]]:
    """Every event on ``topic`` right now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events: list[CloudEvent[Any]] = []
        async with asyncio.timeout(20):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    events.extend(decode(r.value, r.headers) for r in batch)
        return events
    finally:
        await consumer.stop()


async def connection_events(connector: Connector) -> list[tuple[str, str]]:
    """(status, reason) of every ``xero.connection_changed.v1`` published so far."""
    events = await read_events(
        connector.settings.kafka_bootstrap_servers[0], connector.names.connections
    )
    return [(e.data.status.value, e.data.reason) for e in events]
