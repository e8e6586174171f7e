"""Entrypoint: builds the app from settings and serves it."""

from fastapi import FastAPI

from service_kit.runtime import base_app, serve
from sync_log import __version__
from sync_log.config import Settings


def create_app(settings: Settings) -> FastAPI:
    return base_app("sync-log", __version__, settings, __doc__ or "")


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
