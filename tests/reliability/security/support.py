"""The four apps of the product built the way they run, for the security tests: the three
services with their real lifespans over the session's Kafka and MongoDB (topics and databases
of the test's own), the Xero sandbox in-process, each with two API keys of its own.

    async with services(kafka, mongodb, unique, sandbox_url) as running:
        running["sync-log"].http.get("/v1/stats", headers=bearer(KEYS["sync-log"][0]))

``served=True`` puts each behind uvicorn on a free port (real HTTP parsing, chunked bodies)
instead of an in-process ASGI transport.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from invoice_events.config import Settings as InvoiceEventsSettings
from invoice_events.main import create_app as invoice_events_app
from sync_log.config import Settings as SyncLogSettings
from sync_log.main import create_app as sync_log_app
from tests.integration.xero_connector.support import TOKEN_KEY, Sandbox
from tests.support.serve import serving
from xero_connector.config import Settings as ConnectorSettings
from xero_connector.main import create_app as connector_app
from xero_sandbox.app import create_app as sandbox_app
from xero_sandbox.config import Settings as SandboxSettings

SERVICES = ("invoice-events", "xero-connector", "sync-log")

# Two keys a service, none shared: a caller must present one of *this* service's keys.
KEYS: dict[str, tuple[str, str]] = {
    "invoice-events": ("ie-key-0f3a9c1d7e", "ie-key-5b82d4e610"),
    "xero-connector": ("xc-key-a17c03f9b2", "xc-key-94e2b6d081"),
    "sync-log": ("sl-key-6c0d51e8fa", "sl-key-2f7a9b3c44"),
}

# Sandbox client credentials no other test uses, so a scan for them finds only real leaks.
SANDBOX_CLIENT_ID = "sec-client-7d1e"
SANDBOX_CLIENT_SECRET = "sec-secret-3b9f0a72c5e14d68"
REDIRECT_URI = "http://127.0.0.1:8002/v1/oauth/callback"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Running:
    name: str
    app: FastAPI
    http: httpx.AsyncClient  # no default headers: every request says how it authenticates


def settings_of(
    name: str, kafka: str, mongodb: str, unique: str, sandbox_url: str, **overrides: Any
) -> Any:
    keys = ",".join(KEYS.get(name, ()))
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "mongodb_uri": mongodb,
        "api_keys": keys,
        "topic_prefix": unique,
        "topic_partitions": 1,
    }
    if name == "invoice-events":
        return InvoiceEventsSettings(
            **common
            | {
                "mongodb_database": f"{unique[:50]}_ie",
                "consumer_group": f"{unique}-ie",
                "sync_log_api_key": KEYS["sync-log"][0],
            }
            | overrides
        )
    if name == "xero-connector":
        return ConnectorSettings(
            **common
            | {
                "mongodb_database": f"{unique[:50]}_xc",
                "consume": False,
                "xero_client_id": SANDBOX_CLIENT_ID,
                "xero_client_secret": SANDBOX_CLIENT_SECRET,
                "redirect_uri": REDIRECT_URI,
                "xero_api_url": sandbox_url,
                "xero_identity_url": sandbox_url,
                "xero_login_url": sandbox_url,
                "token_keys": TOKEN_KEY,
            }
            | overrides
        )
    return SyncLogSettings(
        **common
        | {
            "mongodb_database": f"{unique[:50]}_sl",
            "consumer_enabled": False,
            "consumer_group": f"{unique}-sl",
        }
        | overrides
    )


def sandbox_settings(**overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "port": 0,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "per_minute": 100_000,
        "per_day": 1_000_000,
        "concurrent": 50,
        "app_per_minute": 1_000_000,
    }
    return SandboxSettings(**values | overrides)


BUILDERS: dict[str, Callable[[Any], FastAPI]] = {
    "invoice-events": invoice_events_app,
    "xero-connector": connector_app,
    "sync-log": sync_log_app,
}


def build(name: str, settings: Any) -> FastAPI:
    return sandbox_app(settings) if name == "xero-sandbox" else BUILDERS[name](settings)


@asynccontextmanager
async def _client(app: FastAPI, served: bool) -> AsyncIterator[httpx.AsyncClient]:
    if served:
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield http
        return
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app", timeout=30) as http,
    ):
        yield http


def services(
    kafka: str,
    mongodb: str,
    unique: str,
    sandbox_url: str,
    *,
    served: bool = False,
    names: tuple[str, ...] = SERVICES,
    **overrides: Any,
) -> AbstractAsyncContextManager[dict[str, Running]]:
    @asynccontextmanager
    async def start() -> AsyncIterator[dict[str, Running]]:
        async with AsyncExitStack() as stack:
            running: dict[str, Running] = {}
            for name in names:
                settings = settings_of(name, kafka, mongodb, unique, sandbox_url, **overrides)
                app = build(name, settings)
                http = await stack.enter_async_context(_client(app, served))
                running[name] = Running(name, app, http)
            yield running

    return start()


# -- routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, e.g. /v1/orgs/{org_id}/connection


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) the app answers, included routers and docs routes too.

    FastAPI keeps included routers as branches; ``iter_route_contexts`` is how its own OpenAPI
    generator walks them. A route of a kind this does not know fails loudly, so a WebSocket or
    a mount added later has to be classified before the tests pass again."""
    found: list[Endpoint] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute | Route):
            raise AssertionError(f"a route of an unclassified kind: {route!r}")
        path = context.path_format or context.path
        assert path, route
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                found.append(Endpoint(method, path))
    return sorted(set(found), key=lambda e: (e.path, e.method))


# -- the OAuth dance --------------------------------------------------------------------------


CONNECTOR_KEY = KEYS["xero-connector"][0]


async def start_connect(connector: httpx.AsyncClient, org_id: str, **request: Any) -> str:
    """POST .../connection as the settings page does; the authorize URL."""
    started = await connector.post(
        f"/v1/orgs/{org_id}/connection", headers=bearer(CONNECTOR_KEY), **request
    )
    assert started.status_code == 200, started.text
    url: str = started.json()["authorize_url"]
    return url


async def connect(
    connector: httpx.AsyncClient, xero: Sandbox, org_id: str, tenant_id: str
) -> tuple[dict[str, Any], str]:
    """Connect the way an operator and a browser would: the callback's answer and the
    authorization code Xero issued."""
    callback = await xero.consent(await start_connect(connector, org_id), tenant_id)
    done = await connector.get(callback)
    assert done.status_code == 200, done.text
    code = parse_qs(urlsplit(callback).query)["code"][0]
    body: dict[str, Any] = done.json()
    return body, code
