"""ASGI middleware that asks for an API key before anything else looks at the request.

    app.add_middleware(ApiKeyGate, service="sync-log", keys=settings.api_keys,
                       public_paths={"/healthz", "/readyz", "/metrics", "/docs", ...})

Every path not listed public needs ``Authorization: Bearer <key>`` with one of ``keys``:
default deny, so a route added later is protected until someone lists it public. The key is
checked before the body is read or a parameter validated, so a caller without one gets 401 and
learns nothing else (FastAPI parses a JSON body before it solves the route's dependencies: a
route's own ``ApiKeyAuth`` alone answers 422 or 400 to a malformed body sent with no key).
Routes keep their ``ApiKeyAuth`` dependency; it guards an app built without the gate.
"""

from collections.abc import Collection, Sequence
from http import HTTPStatus

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service_kit.http import HTTP_REQUESTS, UNAUTHORIZED_MESSAGE, admits, error_response


class ApiKeyGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        keys: Sequence[SecretStr],
        public_paths: Collection[str],
    ) -> None:
        self.app = app
        self.service = service
        self.keys = [k.get_secret_value().encode() for k in keys if k.get_secret_value()]
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in self.public_paths
            and not admits(self.keys, Headers(scope=scope).get("authorization"))
        ):
            HTTP_REQUESTS.labels(self.service, scope["method"], "<unauthenticated>", 401).inc()
            response = error_response(
                HTTPStatus.UNAUTHORIZED,
                "unauthorized",
                UNAUTHORIZED_MESSAGE,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
