"""The query API and the Sync Log page: thin routes over the reader port (``ports.py``),
which answers in the API's models."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import WithJsonSchema

from service_kit.http import ApiError, ApiKeyAuth, app_state
from service_kit.openapi import error_responses
from sync_log.api_models import (
    BatchReport,
    Connection,
    EntryPage,
    InvoiceDetail,
    InvoicePage,
    LogEntry,
    OrgStatsPage,
    Stats,
)
from sync_log.config import Settings
from sync_log.domain import Status
from sync_log.ports import SyncLogReader
from sync_log.queries import Cursor, Filters, InvalidCursor
from sync_schemas import ErrorCode

PAGE = FilePath(__file__).parent / "static" / "index.html"
CSV_FIELDS = list(LogEntry.model_fields)
# Nothing stored is longer (identifiers are at most 100 characters, invoice numbers and what a
# dead-lettered record names at most 255): a longer filter is an invalid request, not a query.
MAX_FILTER_LENGTH = 255


ReaderDep = Annotated[SyncLogReader, Depends(app_state("reader"))]


TextFilter = Annotated[str | None, Query(max_length=MAX_FILTER_LENGTH)]
TextPath = Annotated[str, Path(max_length=MAX_FILTER_LENGTH)]


# Checked by ``error_codes`` below (to name the field as a single code did); documented as
# the enum it is.
CodeText = Annotated[str, WithJsonSchema({"type": "string", "enum": [c.value for c in ErrorCode]})]
ErrorCodes = Annotated[
    list[CodeText] | None,
    Query(
        max_length=len(ErrorCode),
        description="An error code; repeat the parameter for any of several",
    ),
]


def error_codes(error_code: ErrorCodes = None) -> tuple[str, ...]:
    """The error codes asked for, each checked (a bad one is named ``query.error_code``, as
    when the parameter took a single code)."""
    known = {c.value for c in ErrorCode}
    for value in error_code or []:
        if value not in known:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "error_code"),
                        "msg": f"Input should be one of: {', '.join(sorted(known))}",
                        "type": "enum",
                    }
                ]
            )
    return tuple(dict.fromkeys(error_code or []))


def filters(
    codes: Annotated[tuple[str, ...], Depends(error_codes)],
    org_id: TextFilter = None,
    status: Status | None = None,
    invoice_id: TextFilter = None,
    invoice_number: TextFilter = None,
    batch_id: TextFilter = None,
    since: Annotated[datetime | None, Query(description="inclusive, ISO 8601")] = None,
    until: Annotated[datetime | None, Query(description="exclusive, ISO 8601")] = None,
) -> Filters:
    return Filters(
        org_id=org_id,
        status=status,
        error_codes=codes,
        invoice_id=invoice_id,
        invoice_number=invoice_number,
        batch_id=batch_id,
        since=since,
        until=until,
    )


FiltersDep = Annotated[Filters, Depends(filters)]
Limit = Annotated[int, Query(ge=1, le=500)]


def parse_cursor(cursor: str | None = None) -> Cursor | None:
    if cursor is None:
        return None
    try:
        return Cursor.decode(cursor)
    except InvalidCursor as exc:
        raise ApiError(
            422,
            "invalid_request",
            "the request is invalid",
            [{"field": "query.cursor", "message": str(exc), "type": "value_error"}],
        ) from None


CursorDep = Annotated[Cursor | None, Depends(parse_cursor)]


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(ApiKeyAuth(settings.api_keys))])

    @router.get(
        "/sync-log",
        response_model=EntryPage,
        summary="Log entries, newest first",
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def sync_log(
        request: Request, reader: ReaderDep, f: FiltersDep, cursor: CursorDep, limit: Limit = 50
    ) -> EntryPage | Response:
        if wants_csv(request):
            return _csv_response(_all_entries(reader, f, settings.csv_max_rows), "sync-log.csv")
        return await reader.entries(f, limit, cursor)

    @router.get("/invoices", response_model=InvoicePage, summary="Invoices by current status")
    async def invoices(
        reader: ReaderDep, f: FiltersDep, cursor: CursorDep, limit: Limit = 50
    ) -> InvoicePage:
        return await reader.invoices(f, limit, cursor)

    @router.get(
        "/invoices/{org_id}/{invoice_id}",
        response_model=InvoiceDetail,
        summary="One invoice's current status and timeline",
        responses=error_responses(404),
    )
    async def invoice(org_id: TextPath, invoice_id: TextPath, reader: ReaderDep) -> InvoiceDetail:
        if (detail := await reader.invoice(org_id, invoice_id)) is None:
            raise ApiError(404, "not_found", f"no sync-log record of invoice {org_id}/{invoice_id}")
        return detail

    @router.get("/stats", response_model=Stats, summary="Invoices by current status and error")
    async def stats(
        reader: ReaderDep, org_id: TextFilter = None, since: datetime | None = None
    ) -> Stats:
        return await reader.stats(org_id, since)

    @router.get(
        "/stats/orgs",
        response_model=OrgStatsPage,
        summary="Invoices by current status, per organisation",
    )
    async def stats_by_org(reader: ReaderDep) -> OrgStatsPage:
        """One row per organisation that has invoices, sorted by ``org_id``, with its
        invoices counted by current status (one aggregation, whatever the number of
        organisations)."""
        return await reader.stats_by_org()

    @router.get(
        "/batches/{batch_id}",
        response_model=BatchReport,
        summary="A bulk resync's report",
        responses=error_responses(404),
    )
    async def batch(batch_id: TextPath, reader: ReaderDep) -> BatchReport:
        if (report := await reader.batch(batch_id)) is None:
            raise ApiError(404, "not_found", f"no invoice has been recorded for batch {batch_id}")
        return report

    @router.get("/connections", response_model=list[Connection], summary="Xero connection status")
    async def connections(reader: ReaderDep, org_id: TextFilter = None) -> list[Connection]:
        return await reader.connections(org_id)

    return router


def page_router(console_url: str = "") -> APIRouter:
    """The Sync Log page, or, once the operator console serves it (``console_url``), a
    redirect to the console's Sync Log."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def page() -> Response:
        if console_url:
            return RedirectResponse(f"{console_url}/sync-log", status_code=307)
        # The page holds no data; it asks the API, with the key the operator enters.
        return HTMLResponse(_page_html())

    return router


@cache
def _page_html() -> str:
    return PAGE.read_text()


async def _all_entries(reader: SyncLogReader, f: Filters, cap: int) -> AsyncIterator[LogEntry]:
    cursor: Cursor | None = None
    sent = 0
    while sent < cap:
        page = await reader.entries(f, min(500, cap - sent), cursor)
        for entry in page.items:
            yield entry
        sent += len(page.items)
        if page.next_cursor is None:
            return
        cursor = Cursor.decode(page.next_cursor)


def _csv_response(rows: AsyncIterator[LogEntry], filename: str) -> Response:
    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
        writer.writeheader()
        async for row in rows:
            data = row.model_dump(mode="json")
            data["xero_messages"] = " | ".join(data["xero_messages"] or [])
            writer.writerow(data)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
