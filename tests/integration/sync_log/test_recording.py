"""The consumer records every event once, keeps the newest version's status, and records
undecodable records as invalid_event."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_schemas import (
    ConnectionStatus,
    ErrorCode,
    EventType,
    InvoiceSyncFailed,
    InvoiceSyncSucceeded,
    SyncOutcome,
    XeroConnectionChanged,
    new_event,
)
from tests.integration.sync_log.conftest import SyncLog
from tests.support.eventually import eventually
from tests.support.samples import invoice


def succeeded(version: int, **extra: Any) -> InvoiceSyncSucceeded:
    fields: dict[str, Any] = {
        "org_id": "org_a",
        "invoice_id": "inv_1",
        "invoice_number": "INV-1",
        "version": version,
        "xero_invoice_id": f"x-{version}",
        "outcome": SyncOutcome.CREATED,
        "attempt": 1,
        "cause_event_id": "c",
        "duration_ms": 5,
    }
    return InvoiceSyncSucceeded(**(fields | extra))


def failed(
    version: int, code: ErrorCode = ErrorCode.TAX_RATE_UNMAPPED, **extra: Any
) -> InvoiceSyncFailed:
    fields: dict[str, Any] = {
        "org_id": "org_a",
        "invoice_id": "inv_1",
        "invoice_number": "INV-1",
        "version": version,
        "error_code": code,
        "message": "Tax code GST15 has no mapping",
        "xero_messages": [],
        "retryable": code.retryable,
        "remediation": code.remediation("org_a"),
        "attempt": 1,
        "cause_event_id": "c",
    }
    return InvoiceSyncFailed(**(fields | extra))


async def test_a_repeated_event_is_stored_once(sync_log: SyncLog) -> None:
    t = datetime.now(UTC)
    created = new_event(
        EventType.INVOICE_CREATED, invoice(org_id="org_a", invoice_id="inv_1"), source="/t", time=t
    )
    result = new_event(
        EventType.INVOICE_SYNC_SUCCEEDED, succeeded(1), source="/t", time=t + timedelta(seconds=1)
    )
    await sync_log.publish(created)
    for _ in range(3):
        await sync_log.publish(result)

    async def synced() -> Any:
        detail = (await sync_log.client.get("/v1/invoices/org_a/inv_1")).json()
        return detail if detail.get("status") == "synced" else None

    detail = await eventually(synced, what="inv_1 synced")
    assert [e["event_id"] for e in detail["history"]] == [created.id, result.id]
    assert detail["xero_invoice_id"] == "x-1"
    page = await sync_log.get("/v1/sync-log", invoice_id="inv_1")
    assert len(page["items"]) == 2


async def test_a_late_result_for_an_older_version_never_wins(sync_log: SyncLog) -> None:
    t = datetime.now(UTC)
    await sync_log.publish(
        new_event(EventType.INVOICE_SYNC_SUCCEEDED, succeeded(3), source="/t", time=t)
    )
    late = new_event(
        EventType.INVOICE_SYNC_FAILED, failed(2), source="/t", time=t + timedelta(seconds=5)
    )
    await sync_log.publish(late)

    async def both_recorded() -> Any:
        detail = (await sync_log.client.get("/v1/invoices/org_a/inv_1")).json()
        return detail if len(detail.get("history", [])) == 2 else None

    detail = await eventually(both_recorded, what="both results in inv_1's history")
    assert (detail["version"], detail["status"], detail["last_error"]) == (3, "synced", None)
    failed_now = await sync_log.get("/v1/invoices", status="failed")
    assert failed_now["items"] == []


async def test_undecodable_records_are_dead_lettered_and_recorded_as_invalid_event(
    sync_log: SyncLog,
) -> None:
    await sync_log.publish_raw(
        sync_log.names.sync_results,
        b'{"org_id": "org_a", "invoice_id": "inv_9", "version": "x"}',
        {
            "ce_specversion": "1.0",
            "ce_id": "bad-1",
            "ce_source": "/t",
            "ce_type": "invoice.sync_failed.v1",
            "content-type": "application/json",
        },
    )
    await sync_log.publish_raw(
        sync_log.names.invoice_events, b"\xff\x00garbage", {"ce_type": "invoice.created.v1"}
    )

    async def two_invalid() -> Any:
        page = await sync_log.get("/v1/sync-log", error_code="invalid_event")
        return page["items"] if len(page["items"]) == 2 else None

    items = await eventually(two_invalid, what="two invalid_event entries")
    by_invoice = {i["invoice_id"]: i for i in items}
    assert by_invoice["inv_9"]["message"].startswith("schema_violation: ")
    assert by_invoice[None]["message"].startswith("missing_attribute: ")
    assert all(i["status"] == "failed" and i["remediation"] for i in items)
    current = await sync_log.get("/v1/invoices/org_a/inv_9")
    assert current["last_error"]["error_code"] == "invalid_event"


async def test_connection_changes_are_kept_per_organisation(sync_log: SyncLog) -> None:
    for status in (ConnectionStatus.CONNECTED, ConnectionStatus.EXPIRED):
        change = XeroConnectionChanged(
            org_id="org_a",
            status=status,
            tenant_id="t1",
            tenant_name="Acme",
            reason=f"now {status}",
        )
        await sync_log.publish(new_event(EventType.XERO_CONNECTION_CHANGED, change, source="/t"))

    async def expired() -> Any:
        rows = await sync_log.get("/v1/connections", org_id="org_a")
        return rows if rows and rows[0]["status"] == "expired" else None

    [row] = await eventually(expired, what="org_a's connection expired")
    assert row["tenant_name"] == "Acme"
