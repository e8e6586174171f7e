"""The composition root: one Sandbox, its gateway, the routers and the middleware."""

from __future__ import annotations

import random

from fastapi import FastAPI

from . import routes_accounting, routes_control, routes_control_org, routes_oauth
from .clock import Clock, system_clock
from .config import Settings
from .gateway import Gateway
from .middleware import XeroPathsAndRecording
from .sandbox import Sandbox


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    rng: random.Random | None = None,
) -> FastAPI:
    settings = settings or Settings()
    sandbox = Sandbox(settings, clock=clock, rng=rng)
    app = FastAPI(
        title="Xero sandbox",
        description="Development and test emulator of the Xero API slice the connector uses. "
        "Never deployed.",
        version="0.1.0",
    )
    app.state.sandbox = sandbox
    app.state.gateway = Gateway(sandbox)
    app.include_router(routes_oauth.router)
    app.include_router(routes_accounting.router)
    app.include_router(routes_control.router)
    app.include_router(routes_control_org.router)

    @app.get("/healthz", tags=["sandbox control"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(XeroPathsAndRecording, sandbox=sandbox)
    return app
