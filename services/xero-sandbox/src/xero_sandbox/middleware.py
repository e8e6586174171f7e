"""ASGI middleware: Xero's case-insensitive paths, and the request log and stats."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observe import mask_body, mask_headers, mask_query
from .sandbox import Sandbox
from .xero_json import utc_string

_CANONICAL = {
    segment.casefold(): segment
    for segment in (
        "api.xro",
        "Invoices",
        "Contacts",
        "Currencies",
        "TaxRates",
        "Accounts",
        "Organisation",
        "connections",
        "connect",
        "token",
        "revocation",
        "identity",
        "authorize",
    )
}
_UNRECORDED = ("/_sandbox", "/docs", "/openapi.json", "/redoc", "/healthz")
_API_PREFIX = "/api.xro/2.0"


def canonical_path(path: str) -> str:
    """Xero answers ``/api.xro/2.0/invoices`` like ``/Invoices`` (and the SDK asks for
    ``/Connections``); only the leading, fixed segments are rewritten, never IDs."""
    parts = path.split("/")
    for index in range(1, min(len(parts), 4)):
        parts[index] = _CANONICAL.get(parts[index].casefold(), parts[index])
    return "/".join(parts)


class XeroPathsAndRecording:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = canonical_path(scope["path"])
        scope["path"] = path
        scope["raw_path"] = path.encode()
        if path.startswith(_UNRECORDED):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        status = 500
        recorded = False
        started = time.perf_counter()

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self._record(scope, b"".join(chunks), status, time.perf_counter() - started)

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last byte leaves, so a client that reads the log right
                # after its answer always finds its call there.
                record()
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        finally:
            record()

    def _record(self, scope: Scope, body: bytes, status: int, seconds: float) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        masked = mask_headers(headers)
        tenant_id = masked.get("xero-tenant-id") or None
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or scope["path"]
        endpoint = f"{scope['method']} {template.removeprefix(_API_PREFIX)}"
        self.sandbox.stats.record(endpoint, status, tenant_id)
        self.sandbox.log.add(
            {
                "at": utc_string(self.sandbox.clock()) + "Z",
                "method": scope["method"],
                "path": scope["path"],
                "query": mask_query(scope.get("query_string", b"").decode("latin-1")),
                "headers": masked,
                "body": mask_body(body, masked.get("content-type", "")),
                "status": status,
                "tenant_id": tenant_id,
                "endpoint": endpoint,
                "duration_ms": round(seconds * 1000, 2),
            }
        )
