"""Error pages: what a browser sees when it is not signed in, not allowed, or a service is away.

A request from htmx gets the same status with a small fragment (or ``HX-Redirect`` to the
sign-in page), so a panel shows the problem in place and the rest of the page stays.
"""

from http import HTTPStatus
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.auth import Forbidden, NotSignedIn
from console.clients.base import ServiceError, ServiceUnavailable
from console.csrf import CsrfRefused
from console.web import render

_log = structlog.get_logger(__name__)


async def _page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    template = "_problem.html" if request.headers.get("HX-Request") else "error.html"
    return await render(request, template, status, title=title, message=message)


def add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/login?next={quote(target, safe='')}"
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        _log.info("console.forbidden", path=request.url.path, needed=exc.needed.name)
        return await _page(request, 403, "Not allowed", f"This needs the {exc.needed.name} role.")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        _log.info("console.csrf_refused", path=request.url.path)
        return await _page(
            request,
            403,
            "Request refused",
            "The form had expired or did not come from this console. "
            "Reload the page and try again.",
        )

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return await _page(
            request,
            503,
            f"{exc.service} is not reachable",
            f"The console could not reach {exc.service} ({exc.message}). "
            "Nothing was changed; the other screens still work. Try again shortly.",
        )

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> Response:
        status = exc.status if exc.status in (404, 409, 422) else 400
        fields = [
            f"{d.get('field')}: {d.get('message')}"
            for d in (exc.details if isinstance(exc.details, list) else [])
            if isinstance(d, dict) and d.get("field")
        ]
        message = exc.message + (f" ({'; '.join(fields)})" if fields else "")
        return await _page(request, status, f"{exc.service} refused", message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(_field(e["loc"]) for e in exc.errors())
        return await _page(request, 422, "Invalid request", f"Check these fields: {fields}.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = HTTPStatus(exc.status_code).phrase
        return await _page(request, exc.status_code, title, str(exc.detail))


def _field(loc: tuple[object, ...] | list[object]) -> str:
    """``("query", "since")`` -> ``since``: where it came from is not the user's business."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "body", "path", "form", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "request"
