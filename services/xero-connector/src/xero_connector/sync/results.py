"""Outcomes as the events the connector publishes: one result per consumed event."""

import time
from typing import Any

from sync_schemas import (
    CloudEvent,
    ErrorCode,
    EventType,
    InvoiceSyncFailed,
    InvoiceSyncSucceeded,
    new_event,
)
from xero_connector.metrics import INVOICES_FAILED, INVOICES_SYNCED
from xero_connector.sync.model import Outcome, SyncAsk

SOURCE = "/xero-connector"


def result(ask: SyncAsk, outcome: Outcome, started: float) -> CloudEvent[Any]:
    invoice = ask.invoice
    org_id = invoice.org_id
    if outcome.code is None:
        assert outcome.outcome is not None and outcome.xero_id is not None
        INVOICES_SYNCED.labels(outcome.outcome.value).inc()
        data: Any = InvoiceSyncSucceeded(
            org_id=org_id,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.invoice_number,
            version=invoice.version,
            xero_invoice_id=outcome.xero_id,
            outcome=outcome.outcome,
            attempt=ask.attempt,
            batch_id=ask.batch_id,
            cause_event_id=ask.event_id,
            duration_ms=int((time.monotonic() - started) * 1000),
            xero_total=outcome.total,
            message=outcome.message or None,
        )
        return new_event(EventType.INVOICE_SYNC_SUCCEEDED, data, source=SOURCE, subject=org_id)
    return failure(ask, outcome.code, outcome.message, outcome.xero_messages)


def failure(
    ask: SyncAsk, code: ErrorCode, message: str, xero_messages: tuple[str, ...] = ()
) -> CloudEvent[Any]:
    invoice = ask.invoice
    INVOICES_FAILED.labels(code.value).inc()
    data = InvoiceSyncFailed(
        org_id=invoice.org_id,
        invoice_id=invoice.invoice_id,
        invoice_number=invoice.invoice_number,
        version=invoice.version,
        error_code=code,
        message=message,
        xero_messages=list(xero_messages),
        retryable=code.retryable,
        remediation=code.remediation(invoice.org_id, invoice.invoice_id),
        attempt=ask.attempt,
        batch_id=ask.batch_id,
        cause_event_id=ask.event_id,
    )
    return new_event(EventType.INVOICE_SYNC_FAILED, data, source=SOURCE, subject=invoice.org_id)
