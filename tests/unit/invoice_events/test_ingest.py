"""Batch ingest over in-memory fakes: each item stands or falls alone, in request order, and
a batch of which nothing could be accepted for an outage is refused whole (503)."""

from datetime import timedelta
from typing import Any

import pytest

from invoice_events import ingest
from invoice_events.ingest import MAX_INVOICE_BYTES, InvoiceTooLarge, ItemRefused
from invoice_events.service import IngestOutcome, IngestResult, InvoiceService
from service_kit.errors import RetryLater
from sync_schemas import Invoice
from tests.support.samples import invoice
from tests.unit.invoice_events.fakes import Clock, FakePublisher, FakeSnapshots


def service(publisher: FakePublisher | None = None) -> InvoiceService:
    return InvoiceService(
        FakeSnapshots(), publisher or FakePublisher(), lease=timedelta(seconds=15), clock=Clock()
    )


def item(invoice_id: str) -> dict[str, Any]:
    return invoice(invoice_id=invoice_id).model_dump(mode="json")


def huge(invoice_id: str) -> dict[str, Any]:
    body = item(invoice_id)
    body["lines"] = body["lines"][:1] * 10_000  # about 1.5 MB as an event
    return body


async def test_each_item_is_answered_in_order_valid_invalid_and_too_large_alike() -> None:
    items = [item("inv_a"), {"invoice_id": "inv_bad"}, huge("inv_big"), item("inv_b")]

    answers = await ingest.batch(service(), items)

    a, bad, big, b = answers
    assert isinstance(a, IngestResult) and a.outcome is IngestOutcome.PUBLISHED
    assert isinstance(b, IngestResult) and b.invoice_id == "inv_b"
    assert isinstance(bad, ItemRefused) and bad.code == "invalid_request"
    assert bad.invoice_id == "inv_bad"
    assert all(d["field"].startswith("body.invoices.1.") for d in bad.details)
    assert isinstance(big, ItemRefused) and big.code == "invoice_too_large"


async def test_a_batch_nothing_of_which_went_out_for_an_outage_is_refused_whole() -> None:
    down = FakePublisher()
    down.fail = 10
    with pytest.raises(RetryLater):
        await ingest.batch(service(down), [item("inv_a"), item("inv_b")])


def test_a_single_invoice_too_large_for_one_record_is_refused() -> None:
    too_large = Invoice.model_validate(huge("inv_big"))
    with pytest.raises(InvoiceTooLarge) as refused:
        ingest.refuse_if_too_large(too_large)
    assert refused.value.details["max_bytes"] == MAX_INVOICE_BYTES
