"""The HTTP shell every service shares.

    app = create_app("sync-log", version="0.1.0", readiness={"kafka": ..., "mongodb": ...})
    app.include_router(router, dependencies=[Depends(ApiKeyAuth(settings.api_keys))])

Gives ``/healthz``, ``/readyz``, ``/metrics`` and ``/docs`` without a key, request metrics,
and the contract's error body ``{"error": {"code", "message", "details"}}`` for every error,
422 with one entry per offending field.
"""

import hmac
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from service_kit.errors import OUTAGES, RetryLater

ReadinessCheck = Callable[[], Awaitable[bool]]
_log = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)

# Health, readiness and metrics: probes and scrapers carry no key (docs/contract.md).
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNAUTHORIZED_MESSAGE = "missing or invalid API key: send Authorization: Bearer <key>"


class ApiError(Exception):
    """An error a route raises to answer with the contract's error body."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def admits(keys: Sequence[bytes], authorization: str | None) -> bool:
    """True when ``authorization`` is ``Bearer <one of keys>``. Every key is compared, in
    constant time, also after a match, so timing says nothing about the keys."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    presented = credentials.encode() if scheme.lower() == "bearer" else b""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    return bool(presented) and matched


class ApiKeyAuth:
    """Dependency that admits ``Authorization: Bearer <key>`` for one of the configured keys.

    ``base_app`` also checks the key ahead of everything (``service_kit.gate``); this guards a
    router wherever it is included."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._keys = [k.get_secret_value().encode() for k in keys if k.get_secret_value()]

    async def __call__(self, request: Request) -> None:
        if not admits(self._keys, request.headers.get("authorization")):
            raise ApiError(HTTPStatus.UNAUTHORIZED, "unauthorized", UNAUTHORIZED_MESSAGE)


def app_state(name: str) -> Callable[[Request], Any]:
    """A dependency that returns what the lifespan put on ``app.state.<name>``:

    InvoicesDep = Annotated[InvoiceService, Depends(app_state("invoices"))]
    """

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"app_state_{name}"
    return get


def create_app(
    service: str,
    *,
    version: str,
    readiness: Mapping[str, ReadinessCheck],
    description: str = "",
    lifespan: Any = None,
) -> FastAPI:
    app = FastAPI(title=service, version=version, description=description, lifespan=lifespan)
    _add_error_handlers(app)
    _add_metrics_middleware(app, service)

    @app.get("/healthz", tags=["ops"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Kafka and MongoDB are reachable",
        responses={503: {"description": "Kafka or MongoDB is not reachable (same body)"}},
    )
    async def readyz() -> JSONResponse:
        checks = {name: await check() for name, check in readiness.items()}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def answer_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 for a server the service depends on being away (Kafka, MongoDB): the client may
    retry; a 500 would say "our bug". Services register it for their own such errors too."""
    _log.warning("request.unavailable", path=request.url.path, error=type(exc).__name__)
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "unavailable",
        "a dependency is unavailable; retry shortly",
        None,
        {"Retry-After": "1"},
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err["loc"]),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        return error_response(422, "invalid_request", "the request is invalid", details)

    unavailable: tuple[type[Exception], ...] = (RetryLater, *OUTAGES)
    for error in unavailable:
        app.add_exception_handler(error, answer_unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        return error_response(exc.status_code, code, str(exc.detail), None, exc.headers)


def _add_metrics_middleware(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def record(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "<unmatched>")
        if route not in OPS_PATHS:
            HTTP_REQUESTS.labels(service, request.method, route, response.status_code).inc()
            HTTP_LATENCY.labels(service, request.method, route).observe(
                time.perf_counter() - started
            )
        return response
