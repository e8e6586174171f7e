"""Valid sample payloads of every event type, built from the contract's example invoice."""

from typing import Any

from pydantic import BaseModel

from sync_schemas import (
    ConnectionStatus,
    ErrorCode,
    EventType,
    Invoice,
    InvoiceSyncFailed,
    InvoiceSyncRequested,
    InvoiceSyncSucceeded,
    SyncOutcome,
    SyncReason,
    XeroConnectionChanged,
)

# The example invoice of docs/contract.md ("Event data"), verbatim; a contract test keeps
# the two equal.
CONTRACT_INVOICE: dict[str, Any] = {
    "org_id": "org_acme",
    "invoice_id": "inv_000123",
    "invoice_number": "INV-000123",
    "version": 1,
    "customer": {"id": "cus_42", "name": "Harbour Cafe Ltd", "email": "accounts@harbour.example"},
    "currency": "NZD",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "status": "issued",
    "line_amount_type": "exclusive",
    "reference": "PO-7781",
    "lines": [
        {
            "description": "Consulting, November",
            "quantity": "10",
            "unit_price": "150.00",
            "tax_code": "GST15",
            "revenue_category": "consulting",
        }
    ],
}


def invoice(**changes: Any) -> Invoice:
    return Invoice.model_validate({**CONTRACT_INVOICE, **changes})


def sample_data(event_type: EventType) -> BaseModel:
    inv = invoice()
    samples: dict[EventType, BaseModel] = {
        EventType.INVOICE_CREATED: inv,
        EventType.INVOICE_UPDATED: invoice(version=2),
        EventType.INVOICE_SYNC_REQUESTED: InvoiceSyncRequested(
            org_id=inv.org_id,
            invoice_id=inv.invoice_id,
            reason=SyncReason.RESYNC,
            batch_id="bat_1",
            requested_by="ops@acme.example",
            invoice=inv,
        ),
        EventType.INVOICE_SYNC_SUCCEEDED: InvoiceSyncSucceeded(
            org_id=inv.org_id,
            invoice_id=inv.invoice_id,
            invoice_number=inv.invoice_number,
            version=1,
            xero_invoice_id="5b7ae5d6-1a3b-4a2e-9e1f-6c0d3f2b8a11",
            outcome=SyncOutcome.CREATED,
            attempt=1,
            cause_event_id="evt_1",
            duration_ms=412,
        ),
        EventType.INVOICE_SYNC_FAILED: InvoiceSyncFailed(
            org_id=inv.org_id,
            invoice_id=inv.invoice_id,
            invoice_number=inv.invoice_number,
            version=1,
            error_code=ErrorCode.CURRENCY_NOT_ENABLED,
            message="NZD is enabled, EUR is not",
            xero_messages=["Organisation is not subscribed to currency EUR"],
            retryable=False,
            remediation=ErrorCode.CURRENCY_NOT_ENABLED.remediation("org_acme"),
            attempt=1,
            batch_id="bat_1",
            cause_event_id="evt_1",
        ),
        EventType.XERO_CONNECTION_CHANGED: XeroConnectionChanged(
            org_id=inv.org_id,
            status=ConnectionStatus.EXPIRED,
            tenant_id="9d3f1c2e-0000-4000-8000-000000000001",
            tenant_name="Acme Ltd",
            reason="refresh token refused (invalid_grant)",
        ),
    }
    return samples[event_type]
