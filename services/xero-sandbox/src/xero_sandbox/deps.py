"""Typed FastAPI dependencies: routes read as plain functions of the sandbox and gateway."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .gateway import Gateway
from .sandbox import Sandbox


async def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
