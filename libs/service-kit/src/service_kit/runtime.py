"""Composition helpers: the base app of a service with its MongoDB client, and serving it.

@asynccontextmanager
async def wiring(app: FastAPI) -> AsyncIterator[None]:
    app.state.service = MyService(app.state.mongo[settings.mongodb_database], ...)
    async with running(broker):        # e.g. start a FastStream broker
        yield

app = base_app("sync-log", __version__, settings, __doc__, wiring=wiring)
"""

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service_kit.body_limit import BodySizeLimit
from service_kit.collector import tune_collector
from service_kit.gate import ApiKeyGate
from service_kit.http import OPS_PATHS, create_app
from service_kit.logging import configure_logging
from service_kit.mongo import BULK_CHUNK, learn_bulk_limit
from service_kit.mongo_metrics import StoreCommands
from service_kit.openapi import document_errors
from service_kit.probes import kafka_reachable, mongo_reachable
from service_kit.settings import ServiceSettings

log = structlog.get_logger(__name__)
MongoClient = AsyncMongoClient[dict[str, Any]]
Wiring = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def mongo_client(settings: ServiceSettings) -> MongoClient:
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        serverSelectionTimeoutMS=5000,
        tz_aware=True,
        event_listeners=[StoreCommands()],
    )


async def _learn_bulk_limit(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Commands of the size the server takes; the safe small ones while it cannot be asked
    (a service starts before its MongoDB: readiness says so)."""
    try:
        chunk = await learn_bulk_limit(db)
    except PyMongoError as error:
        log.warning("mongo.bulk_limit_unknown", chunk=BULK_CHUNK, error=type(error).__name__)
        return
    log.info("mongo.bulk_limit", chunk=chunk)


def base_app(
    service: str,
    version: str,
    settings: ServiceSettings,
    description: str,
    wiring: Wiring | None = None,
    public_paths: Collection[str] = (),
) -> FastAPI:
    """A service's app: health, readiness, metrics, ``app.state.mongo``, then ``wiring``.

    Every path but the ops and docs ones and ``public_paths`` needs one of
    ``settings.api_keys`` (checked first of all: see ``service_kit.gate``); request bodies over
    ``settings.max_body_bytes`` get 413."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.mongo = mongo_client(settings)
        try:
            await _learn_bulk_limit(app.state.mongo[settings.mongodb_database])
            async with wiring(app) if wiring else nullcontext():
                yield
        finally:
            await app.state.mongo.close()

    app: FastAPI

    async def kafka_ready() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    async def mongo_ready() -> bool:
        return await mongo_reachable(app.state.mongo)

    app = create_app(
        service,
        version=version,
        description=description,
        readiness={"kafka": kafka_ready, "mongodb": mongo_ready},
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: a caller without a key is refused before its body is read.
    app.add_middleware(
        ApiKeyGate,
        service=service,
        keys=settings.api_keys,
        public_paths={*OPS_PATHS, *docs_paths(app), *public_paths},
    )
    document_errors(app, public_paths)
    return app


def docs_paths(app: FastAPI) -> set[str]:
    """The OpenAPI document and the pages that show it."""
    urls = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    return {url for url in urls if url}


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.log_level, settings.log_json)
    tune_collector(tuned=settings.gc_tuned)  # the app is built: freeze what it left
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
