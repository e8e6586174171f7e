"""The invoice-events API: snapshots, manual sync and (bulk) re-sync."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from console.clients.base import ServiceClient


class Line(BaseModel):
    description: str = ""
    quantity: str = "1"
    unit_price: str = "0"
    tax_code: str | None = None
    revenue_category: str | None = None


class Customer(BaseModel):
    id: str = ""
    name: str = ""
    email: str | None = None


class Snapshot(BaseModel):
    """The latest version of an invoice as the invoicing system sent it."""

    org_id: str
    invoice_id: str
    invoice_number: str | None = None
    version: int = 0
    customer: Customer = Field(default_factory=Customer)
    currency: str = ""
    issue_date: str | None = None
    due_date: str | None = None
    status: str = ""
    line_amount_type: str = ""
    reference: str | None = None
    lines: list[Line] = Field(default_factory=list)


class ResyncFilter(BaseModel):
    """Which invoices a bulk re-sync takes, by their current state in the sync log."""

    status: Literal["failed", "pending", "synced"] = "failed"
    error_codes: list[str] = Field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    invoice_number: str | None = None


class Preview(BaseModel):
    count: int
    sample: list[str] = Field(default_factory=list)


class Accepted(BaseModel):
    batch_id: str
    count: int


class InvoicesClient(ServiceClient):
    service = "invoice-events"

    async def snapshot(self, org_id: str, invoice_id: str) -> Snapshot:
        return await self.get(f"/v1/invoices/{org_id}/{invoice_id}", Snapshot)

    async def sync(self, org_id: str, invoice_id: str) -> None:
        await self.send("POST", f"/v1/invoices/{org_id}/{invoice_id}/sync")

    async def preview(self, org_id: str, selection: ResyncFilter) -> Preview:
        body = {"org_id": org_id, "filter": _filter(selection), "dry_run": True}
        return await self.call("POST", "/v1/resync", Preview, body)

    async def resync(self, org_id: str, selection: ResyncFilter, requested_by: str) -> Accepted:
        body = {"org_id": org_id, "filter": _filter(selection), "requested_by": requested_by}
        return await self.call("POST", "/v1/resync", Accepted, body)

    async def resync_ids(self, org_id: str, invoice_ids: list[str], requested_by: str) -> Accepted:
        body = {"org_id": org_id, "invoice_ids": invoice_ids, "requested_by": requested_by}
        return await self.call("POST", "/v1/resync", Accepted, body)


def _filter(selection: ResyncFilter) -> dict[str, Any]:
    body = selection.model_dump(mode="json", exclude_none=True)
    if not body.get("error_codes"):
        body.pop("error_codes", None)
    return body
