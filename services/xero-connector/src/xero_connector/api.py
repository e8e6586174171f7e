"""Thin HTTP routes: Settings > Integrations > Xero. Every route but the OAuth callback needs
an API key (the callback is a browser redirect from Xero; its one-time state guards it)."""

import html
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from service_kit.http import ApiKeyAuth, error_response
from service_kit.openapi import error_responses
from sync_schemas.invoice import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN
from xero_connector import oauth
from xero_connector.api_models import (
    AuthorizeOut,
    CheckOut,
    ChoicesOut,
    ConnectedOut,
    ConnectIn,
    ConnectionOut,
    LinkIn,
    LinkOut,
    OrgOut,
    OrgsOut,
    ProblemOut,
    SeenCodesOut,
)
from xero_connector.config import Settings
from xero_connector.configuration import ConfigService
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.errors import (
    AuthorizationFailed,
    ConnectionExpired,
    ConnectorError,
    InvalidState,
    LinkRefused,
    NotConnected,
    UnknownInvoice,
    XeroNotConfigured,
)
from xero_connector.limiter import DailyLimitSpent
from xero_connector.links import LinkService
from xero_connector.orgs import OrgDirectory
from xero_connector.service import ConnectionService
from xero_connector.xero_errors import XeroError, XeroRateLimited, XeroUnavailable

OrgId = Annotated[
    str,
    Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN),
]


def get_connections(request: Request) -> ConnectionService:
    service: ConnectionService = request.app.state.connections
    return service


def get_config(request: Request) -> ConfigService:
    service: ConfigService = request.app.state.config
    return service


def get_links(request: Request) -> LinkService:
    service: LinkService = request.app.state.links
    return service


def get_orgs(request: Request) -> OrgDirectory:
    directory: OrgDirectory = request.app.state.orgs
    return directory


ConnectionsDep = Annotated[ConnectionService, Depends(get_connections)]
OrgsDep = Annotated[OrgDirectory, Depends(get_orgs)]
ConfigDep = Annotated[ConfigService, Depends(get_config)]
LinksDep = Annotated[LinkService, Depends(get_links)]
InvoiceId = OrgId


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1", tags=["xero"], dependencies=[Depends(ApiKeyAuth(settings.api_keys))]
    )

    @router.get("/orgs", response_model=OrgsOut, summary="Every organisation the connector knows")
    async def list_orgs(orgs: OrgsDep) -> OrgsOut:
        """Every organisation with a connection record, settings, mappings or syncs parked on
        its connection, sorted by ``org_id``; ``waiting`` counts the invoices parked until it
        is connected again (released by its next Connect or Reconnect)."""
        return OrgsOut(items=[OrgOut.of(summary) for summary in await orgs.list()])

    @router.get("/orgs/{org_id}/connection", response_model=ConnectionOut)
    async def connection_status(
        org_id: OrgId, connections: ConnectionsDep, orgs: OrgsDep
    ) -> ConnectionOut:
        """The connection's status, tenant and token expiry: never a token. ``waiting``: the
        invoices parked until the organisation is connected again."""
        return ConnectionOut.of(await connections.status(org_id), await orgs.waiting(org_id))

    @router.post("/orgs/{org_id}/connection", response_model=AuthorizeOut)
    async def connect(
        org_id: OrgId,
        connections: ConnectionsDep,
        body: Annotated[ConnectIn | None, Body()] = None,
    ) -> AuthorizeOut:
        """Start Connect / Reconnect: send the user's browser to ``authorize_url``. With
        ``return_to`` (an URL on the operator console), the callback answers 303 there with
        the outcome in the query instead of a page of its own."""
        return_to = body.return_to if body else None
        if return_to is not None and not oauth.may_return_to(return_to, settings.console_origins):
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "return_to"),
                        "msg": "must be an URL on one of XERO_CONNECTOR_CONSOLE_ORIGINS",
                        "type": "value_error",
                    }
                ]
            )
        return AuthorizeOut(authorize_url=await connections.start(org_id, return_to))

    @router.delete("/orgs/{org_id}/connection", response_model=ConnectionOut)
    async def disconnect(
        org_id: OrgId, connections: ConnectionsDep, orgs: OrgsDep
    ) -> ConnectionOut:
        """Disconnect: revoke at Xero, delete the tokens, publish ``disconnected``."""
        return ConnectionOut.of(await connections.disconnect(org_id), await orgs.waiting(org_id))

    @router.post("/orgs/{org_id}/reset", response_model=ConnectionOut)
    async def reset(org_id: OrgId, connections: ConnectionsDep, orgs: OrgsDep) -> ConnectionOut:
        """Reset the integration: disconnect, clear settings and mappings."""
        return ConnectionOut.of(await connections.reset(org_id), await orgs.waiting(org_id))

    @router.get("/orgs/{org_id}/settings", response_model=OrgSettings)
    async def get_settings(org_id: OrgId, config: ConfigDep) -> OrgSettings:
        return await config.settings(org_id)

    @router.put("/orgs/{org_id}/settings", response_model=OrgSettings)
    async def put_settings(org_id: OrgId, body: OrgSettings, config: ConfigDep) -> OrgSettings:
        return await config.put_settings(org_id, body)

    @router.get("/orgs/{org_id}/mappings", response_model=Mappings)
    async def get_mappings(org_id: OrgId, config: ConfigDep) -> Mappings:
        return await config.mappings(org_id)

    @router.put("/orgs/{org_id}/mappings", response_model=Mappings)
    async def put_mappings(org_id: OrgId, body: Mappings, config: ConfigDep) -> Mappings:
        return await config.put_mappings(org_id, body)

    @router.get(
        "/orgs/{org_id}/mappings/seen",
        response_model=SeenCodesOut,
        summary="The codes recent invoices used, and whether each is mapped",
    )
    async def seen_codes(org_id: OrgId, config: ConfigDep) -> SeenCodesOut:
        """The revenue categories, tax codes and currencies of the invoices the connector
        processed in the last ``XERO_CONNECTOR_RECENT_CURRENCY_DAYS``, each list unmapped
        first, then by value. Read from the connector's own records: no Xero call."""
        return SeenCodesOut.of(await config.seen(org_id))

    @router.post(
        "/orgs/{org_id}/mappings/check",
        response_model=CheckOut,
        responses=error_responses(409, 502),  # not connected or expired; Xero refused
    )
    async def check_mappings(
        org_id: OrgId,
        config: ConfigDep,
        proposal: Annotated[Mappings | None, Body()] = None,
    ) -> CheckOut:
        """Check the mappings against the live Xero organisation. With a body (a whole
        Mappings object), that proposal is checked instead of the stored mappings, and not
        saved: the console refuses an invalid choice before it PUTs it."""
        problems = await config.check(org_id, proposal)
        return CheckOut(ok=not problems, problems=[ProblemOut.of(p) for p in problems])

    @router.get(
        "/orgs/{org_id}/xero/choices",
        response_model=ChoicesOut,
        summary="What the mappings may name in the live Xero organisation",
        responses=error_responses(409, 502),  # not connected or expired; Xero refused
    )
    async def xero_choices(
        org_id: OrgId,
        config: ConfigDep,
        refresh: Annotated[bool, Query(description="Read Xero again, not the cache")] = False,
    ) -> ChoicesOut:
        """The organisation's ACTIVE revenue accounts with a Code, ACTIVE tax rates that can
        apply to revenue, and enabled currencies with the base currency: the codes the mapping
        check accepts. Served from the connector's short-lived cache of the organisation's
        settings (``XERO_CONNECTOR_ORG_CACHE_TTL_SECONDS``); ``refresh=true`` reads Xero
        again."""
        return ChoicesOut.of(await config.choices(org_id, refresh=refresh))

    @router.post(
        "/orgs/{org_id}/invoices/{invoice_id}/link",
        response_model=LinkOut,
        responses=error_responses(404, 409, 502),
    )
    async def link_invoice(
        org_id: OrgId, invoice_id: InvoiceId, body: LinkIn, links: LinksDep
    ) -> LinkOut:
        """Adopt an invoice already in Xero (after ``invoice_number_taken``): refused unless
        it is ACCREC, has the invoice's number and is not linked to another invoice. Later
        versions of the invoice update it; re-sync the invoice to write the current one."""
        held = await links.link(org_id, invoice_id, body.xero_invoice_id)
        return LinkOut(
            org_id=org_id,
            invoice_id=invoice_id,
            xero_invoice_id=held.invoice_id,
            xero_invoice_number=held.number,
            xero_status=held.status,
        )

    @router.delete("/orgs/{org_id}/invoices/{invoice_id}/link", status_code=204)
    async def unlink_invoice(org_id: OrgId, invoice_id: InvoiceId, links: LinksDep) -> Response:
        """Forget the link (nothing changes in Xero): the next sync looks the number up."""
        await links.unlink(org_id, invoice_id)
        return Response(status_code=204)

    return router


CALLBACK_PATH = "/v1/oauth/callback"


def callback_router() -> APIRouter:
    router = APIRouter(tags=["xero"])

    @router.get(
        CALLBACK_PATH,
        response_model=ConnectedOut,
        # bad state or code; Xero refused
        responses={
            **error_responses(400, 502),
            303: {"description": "Back to the Connect's return_to, the outcome in the query"},
        },
    )
    async def oauth_callback(
        request: Request,
        connections: ConnectionsDep,
        code: Annotated[str | None, Query(max_length=2048)] = None,
        state: Annotated[str | None, Query(max_length=512)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """Xero redirects the browser here; no API key (the one-time state is the guard). A
        Connect started with ``return_to`` is answered 303 there, with
        ``xero=connected&org_id=...`` or ``xero=error&org_id=...&reason=<error code>``."""
        done = await connections.complete(code=code, state=state, error=error)
        if done.return_to is not None:
            reason = _error_code(done.failure) if done.failure is not None else None
            target = oauth.return_url(done.return_to, done.org_id, reason)
            return RedirectResponse(target, status_code=303)
        if done.failure is not None:
            raise done.failure
        connection = done.connection
        assert connection is not None  # no failure: connected
        out = ConnectedOut(
            org_id=connection.org_id,
            status=connection.status,
            tenant_id=connection.tenant_id,
            tenant_name=connection.tenant_name,
        )
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_connected_page(out))
        return JSONResponse(out.model_dump(mode="json"))

    return router


def _connected_page(out: ConnectedOut) -> str:
    name = html.escape(out.tenant_name or out.tenant_id or "Xero")
    org = html.escape(out.org_id)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Connected to Xero</title>"
        "</head><body style='font-family:sans-serif;margin:3em'>"
        f"<h1>Connected to Xero</h1><p>Organisation <b>{org}</b> is now connected to "
        f"<b>{name}</b>. You can close this window.</p></body></html>"
    )


_STATUS: list[tuple[type[Exception], int, str]] = [
    (NotConnected, 409, "not_connected"),
    (ConnectionExpired, 409, "connection_expired"),
    (InvalidState, 400, "invalid_state"),
    (UnknownInvoice, 404, "unknown_invoice"),
    (LinkRefused, 409, "link_refused"),
    (AuthorizationFailed, 400, "authorization_failed"),
    (XeroNotConfigured, 503, "xero_not_configured"),
    (XeroRateLimited, 503, "rate_limited"),
    (DailyLimitSpent, 503, "rate_limited"),
    (XeroUnavailable, 502, "xero_unavailable"),
    (XeroError, 502, "xero_error"),
]


def add_error_handlers(app: FastAPI) -> None:
    """Use-case and Xero errors as the contract's error body."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                headers = None
                if isinstance(exc, XeroRateLimited | DailyLimitSpent):
                    headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
                details = {"remediation": _remediation(exc)} if _remediation(exc) else None
                return error_response(status, code, str(exc), details, headers)
        raise exc  # pragma: no cover - only registered for the classes above

    app.add_exception_handler(ConnectorError, handle)
    app.add_exception_handler(XeroError, handle)
    app.add_exception_handler(DailyLimitSpent, handle)


def _error_code(exc: Exception) -> str:
    """The error code the API would answer ``exc`` with."""
    return next((code for kind, _, code in _STATUS if isinstance(exc, kind)), "internal_error")


def _remediation(exc: Exception) -> str | None:
    if isinstance(exc, NotConnected | ConnectionExpired):
        return exc.error_code.remediation(exc.org_id)
    return None
