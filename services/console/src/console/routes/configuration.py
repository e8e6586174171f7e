"""Settings and the Mapping screen. A save that can fix failed invoices ends with the offer to
re-sync them: "12 invoices failed on causes this fixes: re-sync them?"."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from console.auth import Admin, Viewer
from console.clients.connector import Check, ConnectorClient, Mappings
from console.clients.invoices import InvoicesClient, Preview, ResyncFilter
from console.forms import mappings_from_form, settings_from_form
from console.mapping_view import banner, sections
from console.remediation import codes_fixed_by_mappings, codes_fixed_by_settings
from console.web import ConnectorDep, InvoicesDep, OrgId, attempt, record, render

router = APIRouter(prefix="/orgs/{org_id}")


async def _fixable(invoices: InvoicesClient, org_id: str, codes: list[str]) -> Preview | None:
    """How many failed invoices the change may fix (a dry-run count), or None for none."""
    if not codes:
        return None
    counted = await attempt(invoices.preview(org_id, ResyncFilter(error_codes=codes)))
    return counted.value if counted.value and counted.value.count else None


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(
    request: Request, org_id: OrgId, user: Viewer, connector: ConnectorDep
) -> Response:
    current, choices = await asyncio.gather(
        connector.settings(org_id), attempt(connector.choices(org_id))
    )
    return await render(
        request,
        "settings.html",
        tab="settings",
        org_id=org_id,
        current=current,
        accounts=choices.value.accounts if choices.value else None,
        fixable=None,
        codes=[],
        saved=False,
    )


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request, org_id: OrgId, user: Admin, connector: ConnectorDep, invoices: InvoicesDep
) -> Response:
    before = await connector.settings(org_id)
    after = await connector.put_settings(org_id, settings_from_form(await request.form()))
    await record(request, user, "settings_saved", org_id, settings=after.model_dump())
    codes = codes_fixed_by_settings(
        before.auto_create_contacts,
        after.auto_create_contacts,
        before.default_account_code,
        after.default_account_code,
    )
    choices = await attempt(connector.choices(org_id))
    return await render(
        request,
        "settings.html",
        tab="settings",
        org_id=org_id,
        current=after,
        accounts=choices.value.accounts if choices.value else None,
        fixable=await _fixable(invoices, org_id, codes),
        codes=codes,
        saved=True,
    )


async def _mapping_context(
    connector: ConnectorClient, org_id: str, refresh: bool
) -> dict[str, object]:
    seen, choices, mappings = await asyncio.gather(
        attempt(connector.seen(org_id)),
        attempt(connector.choices(org_id, refresh=refresh)),
        attempt(connector.mappings(org_id)),
    )
    return {"seen": seen, "choices": choices, "mappings": mappings}


def _screen(context: dict[str, Any], proposal: Mappings | None = None) -> dict[str, Any]:
    """The sections and banner from what was fetched (or the refused proposal)."""
    current = proposal or context["mappings"].value or Mappings()
    parts = sections(context["seen"].value, context["choices"].value, current)
    return {**context, "sections": parts, "banner": banner(parts)}


@router.get("/mappings", response_class=HTMLResponse)
async def mappings_page(
    request: Request,
    org_id: OrgId,
    user: Viewer,
    connector: ConnectorDep,
    refresh: Annotated[bool, Query()] = False,
) -> Response:
    context = _screen(await _mapping_context(connector, org_id, refresh))
    return await render(
        request,
        "mappings.html",
        tab="mappings",
        org_id=org_id,
        problems=[],
        fixable=None,
        codes=[],
        saved=False,
        **context,
    )


@router.post("/mappings", response_class=HTMLResponse)
async def save_mappings(
    request: Request, org_id: OrgId, user: Admin, connector: ConnectorDep, invoices: InvoicesDep
) -> Response:
    """Check the proposal against the live organisation first; save only when it passes."""
    before = await connector.mappings(org_id)
    proposal = mappings_from_form(await request.form(), before)
    check: Check = await connector.check(org_id, proposal)
    if not check.ok:
        await record(
            request,
            user,
            "mappings_refused",
            org_id,
            outcome="refused",
            problems=[p.message for p in check.problems],
        )
        context = _screen(await _mapping_context(connector, org_id, False), proposal)
        return await render(
            request,
            "mappings.html",
            422,
            tab="mappings",
            org_id=org_id,
            problems=check.problems,
            fixable=None,
            codes=[],
            saved=False,
            **context,
        )
    saved = await connector.put_mappings(org_id, proposal)
    await record(request, user, "mappings_saved", org_id, mappings=saved.model_dump())
    codes = codes_fixed_by_mappings(before.model_dump(), saved.model_dump())
    context = _screen(await _mapping_context(connector, org_id, False))
    return await render(
        request,
        "mappings.html",
        tab="mappings",
        org_id=org_id,
        problems=[],
        fixable=await _fixable(invoices, org_id, codes),
        codes=codes,
        saved=True,
        **context,
    )
