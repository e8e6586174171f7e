"""The console's screens, one module each."""

from fastapi import APIRouter

from console.routes import audit, configuration, connection, invoice, overview, session, worklist

ROUTERS: list[APIRouter] = [
    session.router,
    overview.router,
    connection.router,
    worklist.router,
    invoice.router,
    configuration.router,
    audit.router,
]
