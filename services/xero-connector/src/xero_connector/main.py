"""Entrypoint: builds the app from settings and serves it."""

from fastapi import FastAPI

from service_kit.runtime import base_app, serve
from xero_connector import __version__
from xero_connector.api import CALLBACK_PATH, add_error_handlers, build_router, callback_router
from xero_connector.bootstrap import wiring
from xero_connector.config import Settings

DESCRIPTION = (
    "Connects organisations to Xero (OAuth 2.0 with PKCE), keeps their tokens fresh and "
    "encrypted, and holds their settings and mappings. Every /v1 endpoint but the OAuth "
    "callback needs `Authorization: Bearer <key>`."
)


def create_app(settings: Settings) -> FastAPI:
    app = base_app(
        "xero-connector",
        __version__,
        settings,
        DESCRIPTION,
        wiring=wiring(settings),
        # A browser redirect from Xero: it carries no key; the one-time state guards it.
        public_paths={CALLBACK_PATH},
    )
    add_error_handlers(app)
    app.include_router(build_router(settings))
    app.include_router(callback_router())
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
