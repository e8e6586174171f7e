"""Entrypoint: builds the app from settings and serves it."""

from fastapi import FastAPI

from invoice_events import __version__
from invoice_events.config import Settings
from service_kit.runtime import base_app, serve


def create_app(settings: Settings) -> FastAPI:
    return base_app("invoice-events", __version__, settings, __doc__ or "")


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
