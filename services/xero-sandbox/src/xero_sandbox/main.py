"""Entrypoint: ``xero-sandbox`` serves the emulator on the configured host and port."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import Settings


def run() -> None:
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    run()
