"""The read side of the sync log in MongoDB: the :class:`~sync_log.ports.SyncLogReader` the
query API uses, answering in the API's own models.

The filters and cursors are built in ``queries.py`` (pure, tested without a server); this
module runs them and shapes what comes back. Aggregations group on the server, so a count
costs one round trip whatever the number of invoices.
"""

from collections import Counter
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service_kit.errors import retry_later_on
from service_kit.keys import invoice_key
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
from sync_log.domain import Status
from sync_log.queries import (
    ENTRY_TIME,
    INVOICE_TIME,
    Cursor,
    Filters,
    entry_filter,
    invoice_filter,
    sort_spec,
)

Doc = dict[str, Any]


@retry_later_on(PyMongoError)
class MongoSyncLogReader:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._entries = db["entries"]
        self._invoices = db["invoices"]
        self._connections = db["connections"]

    async def entries(self, filters: Filters, limit: int, cursor: Cursor | None) -> EntryPage:
        query = entry_filter(filters, cursor)
        found = self._entries.find(query).sort(sort_spec(ENTRY_TIME)).limit(limit + 1)
        docs, next_cursor = _page(await found.to_list(), limit, ENTRY_TIME)
        return EntryPage(items=[_entry(d) for d in docs], next_cursor=_encoded(next_cursor))

    async def invoices(self, filters: Filters, limit: int, cursor: Cursor | None) -> InvoicePage:
        query = invoice_filter(filters, cursor)
        found = self._invoices.find(query).sort(sort_spec(INVOICE_TIME)).limit(limit + 1)
        docs, next_cursor = _page(await found.to_list(), limit, INVOICE_TIME)
        return InvoicePage(items=[_invoice(d) for d in docs], next_cursor=_encoded(next_cursor))

    async def invoice(self, org_id: str, invoice_id: str) -> InvoiceDetail | None:
        doc = await self._invoices.find_one({"_id": invoice_key(org_id, invoice_id)})
        if doc is None:
            return None
        query = {"org_id": org_id, "invoice_id": invoice_id}
        entries = self._entries.find(query).sort([(ENTRY_TIME, 1), ("_id", 1)])
        history = [_entry(d) for d in await entries.to_list()]
        return InvoiceDetail(**_invoice(doc).model_dump(), history=history)

    async def stats(self, org_id: str | None, since: datetime | None) -> Stats:
        match: Doc = {}
        if org_id:
            match["org_id"] = org_id
        if since:
            match[INVOICE_TIME] = {"$gte": since}
        by = {"status": "$status", "error_code": "$error_code"}
        by_status: Counter[str] = Counter({s.value: 0 for s in Status})
        by_error: Counter[str] = Counter()
        for group in await self._count(by, match):
            by_status[group["_id"]["status"]] += group["n"]
            if group["_id"].get("error_code"):
                by_error[group["_id"]["error_code"]] += group["n"]
        return Stats(by_status=dict(by_status), by_error_code=dict(by_error))

    async def stats_by_org(self) -> OrgStatsPage:
        groups = await self._count({"org_id": "$org_id", "status": "$status"})
        return OrgStatsPage(items=org_stats(groups))

    async def batch(self, batch_id: str) -> BatchReport | None:
        projection = {"status": 1, "error_code": 1}
        members = await self._invoices.find({"batch_ids": batch_id}, projection).to_list()
        if not members:
            return None
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

    async def connections(self, org_id: str | None) -> list[Connection]:
        query = {"_id": org_id} if org_id else {}
        docs = await self._connections.find(query).sort("_id", 1).to_list()
        return [Connection(**d) for d in docs]

    async def _count(self, by: Doc, match: Doc | None = None) -> list[Doc]:
        """Invoices counted per ``by`` group: ``[{_id: {...}, n}]``."""
        pipeline: list[Doc] = [] if match is None else [{"$match": match}]
        pipeline.append({"$group": {"_id": by, "n": {"$sum": 1}}})
        return await (await self._invoices.aggregate(pipeline)).to_list()


def org_stats(groups: list[Doc]) -> list[OrgStats]:
    """Groups of ``{_id: {org_id, status}, n}`` as one row per organisation, sorted by
    org_id, every status present (zero when none)."""
    by_org: dict[str, Counter[str]] = {}
    for group in groups:
        org_id = group["_id"].get("org_id")
        if org_id is None:
            continue
        counts = by_org.setdefault(org_id, Counter({s.value: 0 for s in Status}))
        counts[group["_id"]["status"]] += group["n"]
    return [OrgStats(org_id=o, by_status=dict(by_org[o])) for o in sorted(by_org)]


def _page(docs: list[Doc], limit: int, time_field: str) -> tuple[list[Doc], Cursor | None]:
    if len(docs) <= limit:
        return docs, None
    last = docs[limit - 1]
    return docs[:limit], Cursor(last[time_field], str(last["_id"]))


def _encoded(cursor: Cursor | None) -> str | None:
    return cursor.encode() if cursor else None


def _entry(doc: Doc) -> LogEntry:
    return LogEntry(event_id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


def _invoice(doc: Doc) -> InvoiceRow:
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
