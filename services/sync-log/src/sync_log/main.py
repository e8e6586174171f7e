"""Entrypoint: builds the app from settings and serves it.

``SYNC_LOG_API_ENABLED=false`` runs only the consumer, ``SYNC_LOG_CONSUMER_ENABLED=false``
only the read API; both serve /healthz, /readyz and /metrics.
"""

from fastapi import FastAPI

from service_kit.runtime import base_app, serve
from sync_log import __version__
from sync_log.api import build_router, page_router
from sync_log.bootstrap import wiring
from sync_log.config import Settings

DESCRIPTION = (
    "Stores every sync outcome and serves the sync-log query API and the Sync Log page. "
    "Every /v1 endpoint needs `Authorization: Bearer <key>`."
)


def create_app(settings: Settings) -> FastAPI:
    app = base_app(
        "sync-log",
        __version__,
        settings,
        DESCRIPTION,
        wiring=wiring(settings),
        # The page holds no data: it asks the API with the key the operator enters.
        public_paths={"/"},
    )
    if settings.api_enabled:
        app.include_router(build_router(settings))
        app.include_router(page_router(settings.console_url))
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
