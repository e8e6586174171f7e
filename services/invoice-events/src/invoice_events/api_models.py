"""The invoice-events API's request and response shapes (docs/contract.md, "invoice-events").

Each route returns one of these; what a batch answers per item is built here from the
batch ingest's typed outcomes (``ingest.py``).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from invoice_events.ingest import BatchItem, ItemRefused
from invoice_events.ports import InvoiceQuery, ResyncBatch, ResyncPreview
from invoice_events.resync import PREVIEW_SAMPLE
from invoice_events.service import IngestResult
from sync_schemas import ErrorCode, EventType
from sync_schemas.invoice import Identifier

MAX_BATCH = 1000
MAX_RESYNC_IDS = 10_000
# An invoice nests four levels deep; a batch item far deeper is hostile, and would fail the
# request's serialisation (pydantic and json stop at a few hundred levels) with a 500.
MAX_ITEM_DEPTH = 32


class Accepted(BaseModel):
    invoice_id: str
    event_id: str
    type: EventType
    outcome: Literal["published", "in_flight", "duplicate", "stale"] = Field(
        description="published: this request published the event; in_flight, duplicate, stale: "
        "the version was being or had been published, or a newer one is known; event_id and "
        "type then name the event that carries the current snapshot"
    )
    version: int = Field(description="the snapshot's current version")

    @classmethod
    def of(cls, result: IngestResult) -> "Accepted":
        return cls(
            invoice_id=result.invoice_id,
            event_id=result.event_id,
            type=result.event_type,
            outcome=result.outcome.value,
            version=result.version,
        )


class InvoiceBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoices: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Invoices (see POST /v1/invoices); each is validated on its own",
    )

    @field_validator("invoices")
    @classmethod
    def _not_too_deep(cls, items: list[Any]) -> list[Any]:
        for index, item in enumerate(items):
            if nesting_exceeds(item, MAX_ITEM_DEPTH):
                raise ValueError(f"invoice {index} is nested more than {MAX_ITEM_DEPTH} levels")
        return items


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``limit`` levels deep (without
    recursion, so any depth is safe to ask about)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in node)
    return False


class BatchAccepted(BaseModel):
    accepted: int
    results: list[dict[str, Any]] = Field(
        description='in request order: {"index", "invoice_id", "event_id", "type", "outcome", '
        '"version"} or {"index", "invoice_id", "error": {"code", "message", "details"}}'
    )

    @classmethod
    def of(cls, items: list[BatchItem]) -> "BatchAccepted":
        results = [_item(index, item) for index, item in enumerate(items)]
        accepted = sum(isinstance(item, IngestResult) for item in items)
        return cls(accepted=accepted, results=results)


def _item(index: int, item: BatchItem) -> dict[str, Any]:
    if isinstance(item, ItemRefused):
        error = {"code": item.code, "message": item.message, "details": item.details}
        return {"index": index, "invoice_id": item.invoice_id, "error": error}
    return {"index": index, **Accepted.of(item).model_dump(mode="json")}


class ManualSyncBody(BaseModel):
    """The optional body of a manual sync: who asked, carried into the sync request."""

    model_config = ConfigDict(extra="forbid")

    requested_by: str | None = Field(default=None, min_length=1, max_length=255)


class SyncRequested(BaseModel):
    event_id: str
    type: EventType


class ResyncFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["failed", "pending", "synced"] = "failed"
    error_code: ErrorCode | None = None
    error_codes: list[ErrorCode] | None = Field(
        default=None,
        min_length=1,
        max_length=len(ErrorCode),
        description="Any of these error codes (with error_code, if given, too)",
    )
    invoice_number: str | None = Field(
        default=None, min_length=1, max_length=255, description="Exactly this invoice number"
    )
    since: datetime | None = None
    until: datetime | None = None

    def query(self, org_id: str) -> InvoiceQuery:
        return InvoiceQuery(
            org_id,
            self.status,
            self.error_code.value if self.error_code else None,
            self.since,
            self.until,
            error_codes=tuple(code.value for code in self.error_codes or ()),
            invoice_number=self.invoice_number,
        )


class Resync(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: Identifier
    invoice_ids: list[Identifier] | None = Field(
        default=None, min_length=1, max_length=MAX_RESYNC_IDS
    )
    filter: ResyncFilter | None = None
    requested_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Who asked (a free label, put on every sync request's requested_by); "
        "default: a fingerprint of the API key",
    )
    dry_run: bool = Field(
        default=False,
        description="Resolve the selection exactly as a real run would, publish nothing, and "
        "answer 200 with the count and a sample",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> "Resync":
        if (self.invoice_ids is None) == (self.filter is None):
            raise ValueError("give exactly one of invoice_ids and filter")
        return self


class ResyncPreviewOut(BaseModel):
    """A dry run: what a real run of the same request would request."""

    count: int = Field(description="How many sync requests a real run would publish")
    sample: list[str] = Field(description=f"The first invoice ids, at most {PREVIEW_SAMPLE}")

    @classmethod
    def of(cls, preview: ResyncPreview) -> "ResyncPreviewOut":
        return cls(count=preview.count, sample=preview.sample)


class ResyncAccepted(BaseModel):
    batch_id: str
    count: int
    not_found: list[str] = Field(description="ids with no known snapshot: nothing was requested")

    @classmethod
    def of(cls, batch: ResyncBatch) -> "ResyncAccepted":
        return cls(batch_id=batch.batch_id, count=len(batch.invoice_ids), not_found=batch.not_found)
