"""Entrypoint: builds the console from settings and serves it.

app = create_app(Settings())        # tests pass httpx transports for the three services
"""

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from starlette.middleware.sessions import SessionMiddleware

from console import __version__, csrf
from console.audit import AuditLog, AuditStore
from console.clients.connector import ConnectorClient
from console.clients.invoices import InvoicesClient
from console.clients.synclog import SyncLogClient
from console.config import Settings
from console.errors import add_error_pages
from console.routes import ROUTERS
from service_kit.body_limit import BodySizeLimit
from service_kit.http import create_app as service_app
from service_kit.logging import configure_logging
from service_kit.probes import mongo_reachable

_log = structlog.get_logger(__name__)
STATIC = Path(__file__).parent / "static"
# `npm ci` in services/console puts htmx here (make install, the Dockerfile); never committed.
DEFAULT_ASSETS = Path(__file__).resolve().parents[2] / "node_modules" / "htmx.org" / "dist"

Transports = dict[str, httpx.AsyncBaseTransport]


def create_app(
    settings: Settings, transports: Transports | None = None, audit: AuditLog | None = None
) -> FastAPI:
    """The console. Unit tests pass httpx transports for the services and an audit log."""
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.mongo = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value(), serverSelectionTimeoutMS=5000, tz_aware=True
        )
        app.state.audit = audit or AuditStore(app.state.mongo[settings.mongodb_database]["audit"])
        timeout = settings.service_timeout_seconds
        app.state.connector = ConnectorClient(
            str(settings.xero_connector_url),
            settings.xero_connector_api_key,
            timeout,
            transports.get("xero-connector"),
        )
        app.state.invoices = InvoicesClient(
            str(settings.invoice_events_url),
            settings.invoice_events_api_key,
            timeout,
            transports.get("invoice-events"),
        )
        app.state.sync_log = SyncLogClient(
            str(settings.sync_log_url),
            settings.sync_log_api_key,
            timeout,
            transports.get("sync-log"),
        )
        try:
            try:
                await app.state.audit.ensure_indexes()
            except PyMongoError as exc:  # MongoDB away at start: /readyz says so
                _log.warning("audit.indexes_not_created", error=type(exc).__name__)
            yield
        finally:
            for client in (app.state.connector, app.state.invoices, app.state.sync_log):
                await client.close()
            await app.state.mongo.close()

    app: FastAPI

    def service_up(name: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            client: Any = getattr(app.state, name)
            reachable: bool = await client.reachable()
            return reachable

        return check

    async def mongo_ready() -> bool:
        return await mongo_reachable(app.state.mongo)

    app = service_app(
        "console",
        version=__version__,
        description="The operator console: Settings > Integrations > Xero.",
        readiness={
            "mongodb": mongo_ready,
            "invoice-events": service_up("invoices"),
            "xero-connector": service_up("connector"),
            "sync-log": service_up("sync_log"),
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    # The pages are the product; the OpenAPI pages would only list them.
    app.openapi_url = None
    add_error_pages(app)
    for router in ROUTERS:
        app.include_router(router, dependencies=[csrf.PROTECT])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    assets = settings.assets_dir or DEFAULT_ASSETS
    app.mount("/vendor", StaticFiles(directory=assets, check_dir=False), name="vendor")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    secret = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="console_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/static", "/vendor")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def run() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    run()
