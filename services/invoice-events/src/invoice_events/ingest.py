"""Ingest as the API offers it: one invoice, or a batch whose items stand or fall alone.

    ingest.refuse_if_too_large(invoice)            # InvoiceTooLarge: 413 for a single invoice
    result = await ingest.one(invoices, invoice)
    items = await ingest.batch(invoices, raw_items)  # an IngestResult or ItemRefused per item

A batch validates each item on its own (one bad invoice never sinks the others), ingests the
valid ones together (``InvoiceService.ingest_many``: one read and one insert for all first
sights), and answers every item in request order. When nothing could be accepted because a
dependency is down, it raises that :class:`RetryLater` instead: the client retries the whole
batch (503) rather than resubmitting items one by one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from invoice_events import metrics
from invoice_events.service import IngestResult, InvoiceService
from service_kit.errors import RetryLater
from sync_schemas import Invoice

# An invoice travels as one Kafka record, and again inside a sync request. Kafka takes about
# 1 MiB a record unless told otherwise; a record it refuses would be answered 503 and retried
# for ever, so a larger invoice (10,000 lines, say) is refused up front.
MAX_INVOICE_BYTES = 900_000

log = structlog.get_logger(__name__)


class InvoiceTooLarge(Exception):
    """The invoice would not fit in one Kafka record."""

    code = "invoice_too_large"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the invoice is {size} bytes as an event; at most {MAX_INVOICE_BYTES} fit in one "
            "Kafka record: split it"
        )
        self.details = {"bytes": size, "max_bytes": MAX_INVOICE_BYTES}


@dataclass(frozen=True, slots=True)
class ItemRefused:
    """A batch item not accepted: ``code`` is the contract's error code; ``details`` for
    invalid_request the field errors (``body.invoices.<index>.<field>``)."""

    invoice_id: str | None
    code: str
    message: str
    details: Any = None


BatchItem = IngestResult | ItemRefused


def _too_large(invoice: Invoice) -> InvoiceTooLarge | None:
    size = len(invoice.model_dump_json())
    return InvoiceTooLarge(size) if size > MAX_INVOICE_BYTES else None


def refuse_if_too_large(invoice: Invoice) -> None:
    if (error := _too_large(invoice)) is not None:
        metrics.INVOICES_REJECTED.labels("single", "too_large").inc()
        raise error


async def one(invoices: InvoiceService, invoice: Invoice) -> IngestResult:
    with structlog.contextvars.bound_contextvars(
        org_id=invoice.org_id, invoice_id=invoice.invoice_id
    ):
        result = await invoices.ingest(invoice)
    metrics.INVOICES_ACCEPTED.labels("single", result.outcome.value).inc()
    return result


async def batch(invoices: InvoiceService, items: Sequence[Any]) -> list[BatchItem]:
    answers: list[BatchItem | None] = [None] * len(items)
    valid: list[tuple[int, Invoice]] = []
    for index, item in enumerate(items):
        try:
            invoice = Invoice.model_validate(item)
        except ValidationError as error:
            answers[index] = _invalid(index, item, error)
            metrics.INVOICES_REJECTED.labels("batch", "invalid").inc()
            continue
        if (too_large := _too_large(invoice)) is not None:
            answers[index] = ItemRefused(
                invoice.invoice_id, too_large.code, str(too_large), too_large.details
            )
            metrics.INVOICES_REJECTED.labels("batch", "too_large").inc()
            continue
        valid.append((index, invoice))
    outcomes = await invoices.ingest_many([invoice for _, invoice in valid])
    for (index, invoice), outcome in zip(valid, outcomes, strict=True):
        answers[index] = _answer(invoice, outcome)
    unavailable = [outcome for outcome in outcomes if isinstance(outcome, RetryLater)]
    if unavailable and not any(isinstance(outcome, IngestResult) for outcome in outcomes):
        raise unavailable[0]  # nothing went out: answer 503 and let the client retry
    assert all(answer is not None for answer in answers)  # every index answered above
    return [answer for answer in answers if answer is not None]


def _answer(invoice: Invoice, outcome: IngestResult | Exception) -> BatchItem:
    if isinstance(outcome, IngestResult):
        metrics.INVOICES_ACCEPTED.labels("batch", outcome.outcome.value).inc()
        return outcome
    if isinstance(outcome, RetryLater):
        code, message = "unavailable", "not accepted: a dependency is unavailable; retry it"
    else:
        log.error("invoice.failed", invoice_id=invoice.invoice_id, error=repr(outcome))
        code, message = "internal_error", "not accepted: an unexpected error"
    metrics.INVOICES_REJECTED.labels("batch", code).inc()
    return ItemRefused(invoice.invoice_id, code, message)


def _invalid(index: int, item: Any, error: ValidationError) -> ItemRefused:
    invoice_id = item.get("invoice_id") if isinstance(item, dict) else None
    details = [
        {
            "field": ".".join(str(p) for p in ("body", "invoices", index, *e["loc"])),
            "message": e["msg"],
            "type": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)
    ]
    return ItemRefused(_sendable(invoice_id), "invalid_request", "the invoice is invalid", details)


def _sendable(value: Any) -> str | None:
    """An item's own string, to echo back if it can be sent: JSON allows a lone surrogate
    (``"\\ud800"``), UTF-8 does not, and the answer would fail to render (a 500)."""
    if not isinstance(value, str):
        return None
    try:
        value.encode()
    except UnicodeEncodeError:
        return None
    return value
