"""The front door for the invoicing system: invoice ingest, snapshots, manual sync and bulk
resync. Publishes to ``invoices.events``; keeps the latest snapshot of every invoice."""

from fastapi import FastAPI

from invoice_events import __version__
from invoice_events.api import add_routes
from invoice_events.bootstrap import wiring
from invoice_events.config import Settings
from service_kit.runtime import base_app, serve


def create_app(settings: Settings) -> FastAPI:
    app = base_app("invoice-events", __version__, settings, __doc__ or "", wiring=wiring(settings))
    add_routes(app, settings)
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
