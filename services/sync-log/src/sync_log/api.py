"""The query API and the Sync Log page: thin routes over the store."""

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import WithJsonSchema

from service_kit.http import ApiError, ApiKeyAuth
from service_kit.keys import invoice_key
from service_kit.openapi import error_responses
from sync_log.adapters.mongo import Doc, MongoSyncLog
from sync_log.api_models import (
    BatchReport,
    Connection,
    EntryPage,
    InvoiceDetail,
    InvoicePage,
    InvoiceRow,
    LogEntry,
    OrgStats,
    OrgStatsPage,
    Stats,
)
from sync_log.config import Settings
from sync_log.domain import Status
from sync_log.queries import Cursor, Filters, InvalidCursor
from sync_schemas import ErrorCode

PAGE = FilePath(__file__).parent / "static" / "index.html"
CSV_FIELDS = list(LogEntry.model_fields)
# Nothing stored is longer (identifiers are at most 100 characters, invoice numbers and what a
# dead-lettered record names at most 255): a longer filter is an invalid request, not a query.
MAX_FILTER_LENGTH = 255


def get_store(request: Request) -> MongoSyncLog:
    store: MongoSyncLog = request.app.state.store
    return store


StoreDep = Annotated[MongoSyncLog, Depends(get_store)]


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
        request: Request, store: StoreDep, f: FiltersDep, cursor: CursorDep, limit: Limit = 50
    ) -> Any:
        if wants_csv(request):
            return _csv_response(_all_entries(store, f, settings.csv_max_rows), "sync-log.csv")
        docs, next_cursor = await store.list_entries(f, limit, cursor)
        return EntryPage(
            items=[entry_out(d) for d in docs],
            next_cursor=next_cursor.encode() if next_cursor else None,
        )

    @router.get("/invoices", response_model=InvoicePage, summary="Invoices by current status")
    async def invoices(store: StoreDep, f: FiltersDep, cursor: CursorDep, limit: Limit = 50) -> Any:
        docs, next_cursor = await store.list_invoices(f, limit, cursor)
        return InvoicePage(
            items=[invoice_out(d) for d in docs],
            next_cursor=next_cursor.encode() if next_cursor else None,
        )

    @router.get(
        "/invoices/{org_id}/{invoice_id}",
        response_model=InvoiceDetail,
        summary="One invoice's current status and timeline",
        responses=error_responses(404),
    )
    async def invoice(org_id: TextPath, invoice_id: TextPath, store: StoreDep) -> Any:
        doc = await store.get_invoice(invoice_key(org_id, invoice_id))
        if doc is None:
            raise ApiError(404, "not_found", f"no sync-log record of invoice {org_id}/{invoice_id}")
        history = [entry_out(d) for d in await store.history(org_id, invoice_id)]
        return InvoiceDetail(**invoice_out(doc).model_dump(), history=history)

    @router.get("/stats", response_model=Stats, summary="Invoices by current status and error")
    async def stats(
        store: StoreDep, org_id: TextFilter = None, since: datetime | None = None
    ) -> Stats:
        by_status: Counter[str] = Counter({s.value: 0 for s in Status})
        by_error: Counter[str] = Counter()
        for group in await store.count_invoices(org_id, since):
            by_status[group["_id"]["status"]] += group["n"]
            if group["_id"].get("error_code"):
                by_error[group["_id"]["error_code"]] += group["n"]
        return Stats(by_status=dict(by_status), by_error_code=dict(by_error))

    @router.get(
        "/stats/orgs",
        response_model=OrgStatsPage,
        summary="Invoices by current status, per organisation",
    )
    async def stats_by_org(store: StoreDep) -> OrgStatsPage:
        """One row per organisation that has invoices, sorted by ``org_id``, with its
        invoices counted by current status (one aggregation, whatever the number of
        organisations)."""
        return OrgStatsPage(items=org_stats(await store.count_by_org()))

    @router.get(
        "/batches/{batch_id}",
        response_model=BatchReport,
        summary="A bulk resync's report",
        responses=error_responses(404),
    )
    async def batch(batch_id: TextPath, store: StoreDep) -> BatchReport:
        members = await store.batch_members(batch_id)
        if not members:
            raise ApiError(404, "not_found", f"no invoice has been recorded for batch {batch_id}")
        statuses = Counter(m["status"] for m in members)
        errors = Counter(m["error_code"] for m in members if m.get("error_code"))
        return BatchReport(
            batch_id=batch_id,
            total=len(members),
            synced=statuses[Status.SYNCED],
            failed=statuses[Status.FAILED],
            pending=statuses[Status.PENDING],
            by_error_code=dict(errors),
        )

    @router.get("/connections", response_model=list[Connection], summary="Xero connection status")
    async def connections(store: StoreDep, org_id: TextFilter = None) -> list[Connection]:
        return [Connection(**d) for d in await store.connections(org_id)]

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


def org_stats(groups: list[Doc]) -> list[OrgStats]:
    """Groups of ``{_id: {org_id, status}, n}`` as one row per organisation, every status
    present (zero when none)."""
    by_org: dict[str, Counter[str]] = {}
    for group in groups:
        org_id = group["_id"].get("org_id")
        if org_id is None:
            continue
        counts = by_org.setdefault(org_id, Counter({s.value: 0 for s in Status}))
        counts[group["_id"]["status"]] += group["n"]
    return [OrgStats(org_id=o, by_status=dict(by_org[o])) for o in sorted(by_org)]


def entry_out(doc: Doc) -> LogEntry:
    return LogEntry(event_id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


def invoice_out(doc: Doc) -> InvoiceRow:
    return InvoiceRow(
        org_id=doc["org_id"],
        invoice_id=doc["invoice_id"],
        invoice_number=doc.get("invoice_number"),
        version=doc["version"],
        status=doc["status"],
        xero_invoice_id=doc.get("xero_invoice_id"),
        last_error=doc.get("last_error"),
        updated_at=doc["status_at"],
        batch_ids=doc.get("batch_ids", []),
    )


async def _all_entries(store: MongoSyncLog, f: Filters, cap: int) -> AsyncIterator[LogEntry]:
    cursor: Cursor | None = None
    sent = 0
    while sent < cap:
        docs, cursor = await store.list_entries(f, min(500, cap - sent), cursor)
        for doc in docs:
            yield entry_out(doc)
        sent += len(docs)
        if cursor is None:
            return


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
