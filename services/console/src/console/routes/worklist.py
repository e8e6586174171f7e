"""The Sync Log as a worklist: health strip, filtered table with keyset paging, CSV export,
row re-sync, and a bulk re-sync by filter with its preview and batch report."""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from console.auth import Operator, Viewer
from console.clients.base import ServiceError
from console.clients.invoices import ResyncFilter
from console.web import (
    InvoiceId,
    InvoicesDep,
    OrgId,
    Outcome,
    SettingsDep,
    SyncLogDep,
    attempt,
    record,
    render,
)

router = APIRouter(prefix="/orgs/{org_id}")
Status = Literal["pending", "synced", "failed"]
ERROR_CODE = r"^[a-z_]{1,40}$"


class Filters(BaseModel):
    """The worklist's filters, from the query string (the table) or a form (bulk re-sync)."""

    status: Status | None = None
    error_code: str | None = Field(default=None, pattern=ERROR_CODE)
    since: date | None = None
    until: date | None = None
    invoice_number: str | None = Field(default=None, max_length=255)

    def query(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump(exclude_none=True).items() if v != ""}

    def api(self) -> dict[str, Any]:
        """For sync-log: dates as the whole days they name (``until`` inclusive)."""
        return {
            "status": self.status,
            "error_code": self.error_code,
            "invoice_number": self.invoice_number,
            "since": _day(self.since),
            "until": _day(self.until + timedelta(days=1)) if self.until else None,
        }

    def resync(self) -> ResyncFilter:
        return ResyncFilter(
            status=self.status or "failed",
            error_codes=[self.error_code] if self.error_code else [],
            since=_instant(self.since),
            until=_instant(self.until + timedelta(days=1)) if self.until else None,
            invoice_number=self.invoice_number,
        )


def _instant(value: date | None) -> datetime | None:
    """The start of the day, UTC: the filters name whole days."""
    return datetime.combine(value, time(), tzinfo=UTC) if value else None


def _day(value: date | None) -> str | None:
    instant = _instant(value)
    return instant.isoformat() if instant else None


def query_filters(
    status: Annotated[str | None, Query()] = None,
    error_code: Annotated[str | None, Query()] = None,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    invoice_number: Annotated[str | None, Query(max_length=255)] = None,
) -> Filters:
    # An empty field of the filter form means "any".
    values = {
        "status": status,
        "error_code": error_code,
        "since": since,
        "until": until,
        "invoice_number": invoice_number,
    }
    try:
        return Filters.model_validate({k: v or None for k, v in values.items()})
    except ValidationError as invalid:
        raise RequestValidationError(invalid.errors()) from invalid


def form_filters(
    status: Annotated[str | None, Form()] = None,
    error_code: Annotated[str | None, Form()] = None,
    since: Annotated[str | None, Form()] = None,
    until: Annotated[str | None, Form()] = None,
    invoice_number: Annotated[str | None, Form(max_length=255)] = None,
) -> Filters:
    return query_filters(status, error_code, since, until, invoice_number)


QueryFilters = Annotated[Filters, Depends(query_filters)]
FormFilters = Annotated[Filters, Depends(form_filters)]


@router.get("/sync-log", response_class=HTMLResponse)
async def worklist(
    request: Request,
    org_id: OrgId,
    user: Viewer,
    sync_log: SyncLogDep,
    settings: SettingsDep,
    filters: QueryFilters,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    stats, page = await asyncio.gather(
        attempt(sync_log.stats(org_id)),
        attempt(
            sync_log.invoices(
                org_id=org_id, limit=settings.page_size, cursor=cursor, **filters.api()
            )
        ),
    )
    query = filters.query()
    return await render(
        request,
        "worklist.html",
        tab="sync-log",
        org_id=org_id,
        stats=stats,
        page=page,
        filters=filters,
        query=urlencode(query),
        next_query=urlencode(query | {"cursor": page.value.next_cursor})
        if page.value and page.value.next_cursor
        else None,
        paged=cursor is not None,
        xero_url=settings.xero_invoice_url,
    )


@router.get("/sync-log.csv")
async def export(
    org_id: OrgId, user: Viewer, sync_log: SyncLogDep, filters: QueryFilters
) -> Response:
    """The matching log entries as CSV, fetched with the console's key and passed through."""
    body = await sync_log.csv(org_id=org_id, **filters.api())
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sync-log-{org_id}.csv"'},
    )


@router.post("/invoices/{invoice_id}/sync")
async def resync_one(
    request: Request,
    org_id: OrgId,
    invoice_id: InvoiceId,
    user: Operator,
    invoices: InvoicesDep,
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Re-sync one invoice (a manual sync request); Xero never gets it twice."""
    await invoices.sync(org_id, invoice_id)
    await record(request, user, "resync_invoice", org_id, invoice_id=invoice_id)
    target = (
        back if back.startswith(f"/orgs/{org_id}/") else f"/orgs/{org_id}/invoices/{invoice_id}"
    )
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}requested={invoice_id}", status_code=303)


@router.get("/resync", response_class=HTMLResponse)
async def preview(
    request: Request, org_id: OrgId, user: Operator, invoices: InvoicesDep, filters: QueryFilters
) -> Response:
    """What a bulk re-sync would take, counted by invoice-events (``dry_run``): nothing sent."""
    counted = await invoices.preview(org_id, filters.resync())
    return await render(
        request,
        "resync_preview.html",
        tab="sync-log",
        org_id=org_id,
        filters=filters,
        preview=counted,
    )


@router.post("/resync")
async def resync(
    request: Request,
    org_id: OrgId,
    user: Operator,
    invoices: InvoicesDep,
    filters: FormFilters,
    error_codes: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 (FastAPI reads it)
) -> Response:
    """Start the bulk re-sync; the browser goes to the batch's report."""
    selection = filters.resync()
    if error_codes:
        selection = selection.model_copy(update={"error_codes": [c for c in error_codes if c]})
    accepted = await invoices.resync(org_id, selection, requested_by=f"console:{user.name}")
    await record(
        request,
        user,
        "bulk_resync",
        org_id,
        batch_id=accepted.batch_id,
        count=accepted.count,
        filter=selection.model_dump(mode="json", exclude_none=True),
    )
    return RedirectResponse(f"/orgs/{org_id}/batches/{accepted.batch_id}", status_code=303)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch(
    request: Request, org_id: OrgId, batch_id: InvoiceId, user: Viewer, sync_log: SyncLogDep
) -> Response:
    report = await attempt(sync_log.batch(batch_id))
    if isinstance(report.problem, ServiceError) and report.problem.status == 404:
        report = Outcome()  # nothing recorded for the batch yet: the page keeps polling
    template = "_batch.html" if request.headers.get("HX-Request") else "batch.html"
    return await render(
        request, template, tab="sync-log", org_id=org_id, batch_id=batch_id, report=report
    )
