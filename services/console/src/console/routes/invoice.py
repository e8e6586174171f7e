"""Invoice detail: every attempt's timeline, Xero's messages, and what was sent (the lines
with the account code and tax type the current mappings give them)."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.auth import Viewer
from console.lines import mapped
from console.web import (
    ConnectorDep,
    InvoiceId,
    InvoicesDep,
    OrgId,
    SettingsDep,
    SyncLogDep,
    attempt,
    render,
)

router = APIRouter(prefix="/orgs/{org_id}")


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def detail(
    request: Request,
    org_id: OrgId,
    invoice_id: InvoiceId,
    user: Viewer,
    sync_log: SyncLogDep,
    invoices: InvoicesDep,
    connector: ConnectorDep,
    settings: SettingsDep,
) -> Response:
    history, snapshot, mappings, org_settings = await asyncio.gather(
        attempt(sync_log.history(org_id, invoice_id)),
        attempt(invoices.snapshot(org_id, invoice_id)),
        attempt(connector.mappings(org_id)),
        attempt(connector.settings(org_id)),
    )
    sent = None
    if snapshot.value and mappings.value:
        default = org_settings.value.default_account_code if org_settings.value else None
        sent = mapped(snapshot.value, mappings.value, default)
    return await render(
        request,
        "invoice.html",
        tab="sync-log",
        org_id=org_id,
        invoice_id=invoice_id,
        history=history,
        snapshot=snapshot,
        sent=sent,
        xero_url=settings.xero_invoice_url,
    )
