"""The sync-log API: the worklist, an invoice's history, counts and batch reports."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from console.clients.base import ServiceClient, ServiceUnavailable


class LastError(BaseModel):
    error_code: str
    message: str = ""
    xero_messages: list[str] = Field(default_factory=list)
    remediation: str = ""
    occurred_at: datetime | None = None


class Entry(BaseModel):
    event_id: str
    occurred_at: datetime
    invoice_number: str | None = None
    version: int = 0
    status: str
    type: str | None = None
    error_code: str | None = None
    message: str | None = None
    xero_messages: list[str] | None = None
    remediation: str | None = None
    xero_invoice_id: str | None = None
    outcome: str | None = None
    batch_id: str | None = None
    reason: str | None = None


class Row(BaseModel):
    org_id: str
    invoice_id: str
    invoice_number: str | None = None
    version: int = 0
    status: str
    xero_invoice_id: str | None = None
    last_error: LastError | None = None
    updated_at: datetime | None = None


class Page(BaseModel):
    items: list[Row]
    next_cursor: str | None = None


class History(Row):
    history: list[Entry] = Field(default_factory=list)


class Stats(BaseModel):
    by_status: dict[str, int] = Field(default_factory=dict)
    by_error_code: dict[str, int] = Field(default_factory=dict)


class OrgStats(BaseModel):
    org_id: str
    by_status: dict[str, int] = Field(default_factory=dict)


class OrgStatsList(BaseModel):
    items: list[OrgStats]


class BatchReport(BaseModel):
    batch_id: str
    total: int
    synced: int
    failed: int
    pending: int
    by_error_code: dict[str, int] = Field(default_factory=dict)


class SyncLogClient(ServiceClient):
    service = "sync-log"

    async def invoices(self, **filters: Any) -> Page:
        return await self.get("/v1/invoices", Page, **filters)

    async def history(self, org_id: str, invoice_id: str) -> History:
        return await self.get(f"/v1/invoices/{org_id}/{invoice_id}", History)

    async def stats(self, org_id: str) -> Stats:
        return await self.get("/v1/stats", Stats, org_id=org_id)

    async def org_stats(self) -> dict[str, dict[str, int]]:
        items = (await self.get("/v1/stats/orgs", OrgStatsList)).items
        return {item.org_id: item.by_status for item in items}

    async def batch(self, batch_id: str) -> BatchReport:
        return await self.get(f"/v1/batches/{batch_id}", BatchReport)

    async def csv(self, **filters: Any) -> bytes:
        """The log entries matching ``filters`` as CSV (``Accept: text/csv`` on /v1/sync-log;
        the sync log serves CSV for entries, not for the invoice rows)."""
        response = await self.send(
            "GET", "/v1/sync-log", params=filters, headers={"Accept": "text/csv"}
        )
        if not response.headers.get("content-type", "").startswith("text/csv"):
            raise ServiceUnavailable(self.service, "did not answer CSV")
        return response.content
