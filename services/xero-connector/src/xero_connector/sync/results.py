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
from xero_connector.sync.model import SyncAsk, SyncResult

SOURCE = "/xero-connector"


def result(ask: SyncAsk, ended: SyncResult, started: float) -> CloudEvent[Any]:
    invoice = ask.invoice
    org_id = invoice.org_id
    if ended.code is None:
        assert ended.outcome is not None and ended.xero_id is not None
        INVOICES_SYNCED.labels(ended.outcome.value).inc()
        data: Any = InvoiceSyncSucceeded(
            org_id=org_id,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.invoice_number,
            version=invoice.version,
            xero_invoice_id=ended.xero_id,
            outcome=ended.outcome,
            attempt=ask.attempt,
            batch_id=ask.batch_id,
            cause_event_id=ask.event_id,
            duration_ms=int((time.monotonic() - started) * 1000),
            xero_total=ended.total,
            message=ended.message or None,
        )
        return new_event(EventType.INVOICE_SYNC_SUCCEEDED, data, source=SOURCE, subject=org_id)
    return failure(ask, ended.code, ended.message, ended.xero_messages)


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
