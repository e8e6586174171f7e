"""The connection card: status, Connect / Reconnect through Xero's OAuth redirect, Disconnect
and Reset with confirmation, and the waiting invoices re-syncing after a Reconnect."""

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import Admin, Viewer
from console.web import ConnectorDep, OrgId, SettingsDep, SyncLogDep, attempt, record, render

router = APIRouter(prefix="/orgs/{org_id}")

# Failed on these, an invoice is parked by the connector and released by the next Connect.
WAITING_CODES = ("connection_expired", "not_connected")


async def _live(org_id: str, connector: ConnectorDep, sync_log: SyncLogDep) -> dict[str, Any]:
    connection, stats = await asyncio.gather(
        attempt(connector.connection(org_id)), attempt(sync_log.stats(org_id))
    )
    return {"org_id": org_id, "connection": connection, "stats": stats, "codes": WAITING_CODES}


@router.get("", response_class=HTMLResponse)
async def card(
    request: Request,
    org_id: OrgId,
    user: Viewer,
    connector: ConnectorDep,
    sync_log: SyncLogDep,
    xero: Annotated[str | None, Query(max_length=20)] = None,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if xero is not None:
        # Back from Xero's consent (the connector's callback sent the browser here): recorded
        # once, then the card without the parameters, so a reload records nothing again.
        outcome = "ok" if xero == "connected" else f"error: {reason or 'unknown'}"
        await record(request, user, "connect_returned", org_id, outcome=outcome)
        done = {"done": "connected"} if xero == "connected" else {"done": "xero_error"}
        query = urlencode(done | ({"reason": reason} if reason and xero != "connected" else {}))
        return RedirectResponse(f"/orgs/{org_id}?{query}", status_code=303)
    live = await _live(org_id, connector, sync_log)
    return await render(request, "connection.html", tab="connection", reason=reason, **live)


@router.get("/connection/live", response_class=HTMLResponse)
async def live(
    request: Request, org_id: OrgId, user: Viewer, connector: ConnectorDep, sync_log: SyncLogDep
) -> Response:
    """The card's live part, polled by htmx while invoices wait or re-sync."""
    return await render(
        request, "_connection_live.html", **await _live(org_id, connector, sync_log)
    )


@router.post("/connect")
async def connect(
    request: Request, org_id: OrgId, user: Admin, connector: ConnectorDep, settings: SettingsDep
) -> Response:
    """Connect / Reconnect: the connector gives Xero's consent URL; its callback sends the
    browser back to this card."""
    return_to = f"{settings.public_url.rstrip('/')}/orgs/{org_id}"
    authorize_url = await connector.connect(org_id, return_to)
    await record(request, user, "connect_started", org_id)
    return RedirectResponse(authorize_url, status_code=303)


@router.get("/disconnect", response_class=HTMLResponse)
async def confirm_disconnect(
    request: Request, org_id: OrgId, user: Admin, connector: ConnectorDep
) -> Response:
    connection = await attempt(connector.connection(org_id))
    return await render(
        request, "confirm_disconnect.html", tab="connection", org_id=org_id, connection=connection
    )


@router.post("/disconnect")
async def disconnect(
    request: Request, org_id: OrgId, user: Admin, connector: ConnectorDep
) -> Response:
    await connector.disconnect(org_id)
    await record(request, user, "disconnect", org_id)
    return RedirectResponse(f"/orgs/{org_id}?" + urlencode({"done": "disconnected"}), 303)


@router.get("/reset", response_class=HTMLResponse)
async def confirm_reset(request: Request, org_id: OrgId, user: Admin) -> Response:
    return await render(request, "confirm_reset.html", tab="connection", org_id=org_id, error=None)


@router.post("/reset")
async def reset(
    request: Request,
    org_id: OrgId,
    user: Admin,
    connector: ConnectorDep,
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Reset asks for the organisation's id typed out: it clears mappings and settings."""
    if confirm.strip() != org_id:
        return await render(
            request,
            "confirm_reset.html",
            422,
            tab="connection",
            org_id=org_id,
            error=f"Type {org_id} exactly to confirm the reset.",
        )
    await connector.reset(org_id)
    await record(request, user, "reset", org_id)
    return RedirectResponse(f"/orgs/{org_id}?" + urlencode({"done": "reset"}), 303)
