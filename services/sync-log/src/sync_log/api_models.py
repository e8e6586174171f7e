"""The query API's response shapes (docs/contract.md, "sync-log")."""

from datetime import datetime

from pydantic import BaseModel, Field


class LastErrorOut(BaseModel):
    error_code: str
    message: str
    xero_messages: list[str] = Field(default_factory=list)
    remediation: str
    occurred_at: datetime


class LogEntry(BaseModel):
    event_id: str
    occurred_at: datetime
    org_id: str | None
    invoice_id: str | None
    invoice_number: str | None
    version: int
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


class InvoiceRow(BaseModel):
    org_id: str
    invoice_id: str
    invoice_number: str | None
    version: int
    status: str
    xero_invoice_id: str | None
    last_error: LastErrorOut | None
    updated_at: datetime = Field(description="When the current status was reached")
    batch_ids: list[str] = Field(default_factory=list)


class InvoiceDetail(InvoiceRow):
    history: list[LogEntry] = Field(description="Every recorded event, oldest first")


class EntryPage(BaseModel):
    items: list[LogEntry]
    next_cursor: str | None


class InvoicePage(BaseModel):
    items: list[InvoiceRow]
    next_cursor: str | None


class Stats(BaseModel):
    by_status: dict[str, int]
    by_error_code: dict[str, int]


class OrgStats(BaseModel):
    org_id: str
    by_status: dict[str, int] = Field(description="synced, failed and pending, each present")


class OrgStatsPage(BaseModel):
    """One row per organisation that has invoices, sorted by org_id."""

    items: list[OrgStats]


class BatchReport(BaseModel):
    batch_id: str
    total: int
    synced: int
    failed: int
    pending: int
    by_error_code: dict[str, int]


class Connection(BaseModel):
    org_id: str
    status: str
    tenant_id: str | None
    tenant_name: str | None
    reason: str
    changed_at: datetime
