"""Helpers of the pipeline tests: an organisation connected and mapped in the sandbox,
invoice events published to the test's topic, results read back."""

from typing import Any

from aiokafka import AIOKafkaProducer

from sync_schemas import (
    CloudEvent,
    EventType,
    Invoice,
    InvoiceSyncRequested,
    SyncReason,
    encode,
    new_event,
)
from tests.integration.xero_connector.support import Connector, Sandbox, connect, read_events
from tests.support.eventually import eventually

MAPPINGS = {
    "accounts": {"consulting": "200", "bad_account": "999"},
    "tax_rates": {"GST15": "OUTPUT2", "BADTAX": "XYZ"},
    "currencies": {},
}


def invoice(org: str, n: int, version: int = 1, **changes: Any) -> Invoice:
    data: dict[str, Any] = {
        "org_id": org,
        "invoice_id": f"inv_{n:05d}",
        "invoice_number": f"INV-{n:05d}",
        "version": version,
        "customer": {"id": "cus_known", "name": "Harbour Cafe Ltd"},
        "currency": "NZD",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "status": "issued",
        "line_amount_type": "exclusive",
        "reference": f"v{version}",
        "lines": [
            {
                "description": "Consulting",
                "quantity": "10",
                "unit_price": "150.00",
                "tax_code": "GST15",
                "revenue_category": "consulting",
            }
        ],
    }
    lines = changes.pop("line", None)
    data.update(changes)
    if lines:
        data["lines"] = [{**data["lines"][0], **lines}]
    return Invoice.model_validate(data)


def created(inv: Invoice) -> CloudEvent[Any]:
    kind = EventType.INVOICE_CREATED if inv.version == 1 else EventType.INVOICE_UPDATED
    return new_event(kind, inv, source="/tests", subject=inv.org_id)


def requested(inv: Invoice, batch_id: str | None = None) -> CloudEvent[Any]:
    data = InvoiceSyncRequested(
        org_id=inv.org_id,
        invoice_id=inv.invoice_id,
        reason=SyncReason.MANUAL,
        batch_id=batch_id,
        invoice=inv,
    )
    return new_event(EventType.INVOICE_SYNC_REQUESTED, data, source="/tests", subject=inv.org_id)


async def publish(bootstrap: str, topic: str, events: list[CloudEvent[Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            await producer.send(topic, record.value, key=record.key, headers=record.headers)
        await producer.flush()
    finally:
        await producer.stop()


async def publish_raw(bootstrap: str, topic: str, value: bytes, key: bytes = b"org") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def results(c: Connector, count: int, timeout: float = 30) -> list[CloudEvent[Any]]:
    """The sync results, once there are at least ``count`` (fails, showing those there are,
    when they do not come within ``timeout``)."""
    bootstrap = c.settings.kafka_bootstrap_servers[0]

    async def enough() -> list[CloudEvent[Any]]:
        events = await read_events(bootstrap, c.names.sync_results)
        seen = [(e.type.value, e.data.invoice_id) for e in events]
        assert len(events) >= count, f"{len(events)} so far: {seen}"
        return events

    if count == 0:
        return await read_events(bootstrap, c.names.sync_results)
    return await eventually(enough, what=f"{count} sync results", timeout=timeout, interval=0.2)


def by_invoice(events: list[CloudEvent[Any]]) -> dict[str, Any]:
    return {e.data.invoice_id: e.data for e in events}


async def setup_org(
    c: Connector,
    sandbox: Sandbox,
    org: str,
    *,
    settings: dict[str, Any] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> str:
    spec.setdefault("currencies", ["NZD", "AUD"])
    default_contacts = [{"Name": "Harbour Cafe Ltd", "ContactNumber": "cus_known"}]
    tenant = await sandbox.create_org(
        name=f"Org {org}", contacts=default_contacts if contacts is None else contacts, **spec
    )
    await connect(c, sandbox, org, tenant)
    wanted = {"sync_mode": "automatic", "auto_create_contacts": False} | (settings or {})
    response = await c.http.put(f"/v1/orgs/{org}/settings", json=wanted)
    assert response.status_code == 200, response.text
    response = await c.http.put(f"/v1/orgs/{org}/mappings", json=MAPPINGS)
    assert response.status_code == 200, response.text
    return tenant


async def xero_invoices(sandbox: Sandbox, tenant: str) -> list[dict[str, Any]]:
    response = await sandbox.http.get(f"/_sandbox/orgs/{tenant}/invoices")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["Invoices"]
    return items


async def stats(sandbox: Sandbox, tenant: str) -> dict[str, int]:
    body = (await sandbox.http.get("/_sandbox/stats")).json()
    counts: dict[str, int] = body["tenants"].get(tenant, {}).get("by_endpoint", {})
    return counts


async def by_hand(sandbox: Sandbox, tenant: str, *invoices: dict[str, Any]) -> list[Any]:
    """Invoices typed into Xero by a person (or another app): no Url of ours."""
    response = await sandbox.http.post(
        f"/_sandbox/orgs/{tenant}/invoices", json={"Invoices": list(invoices)}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["Invoices"])


def hand_made(number: str, kind: str = "ACCREC", contact: str = "Walk-in Customer") -> Any:
    return {
        "Type": kind,
        "InvoiceNumber": number,
        "Contact": {"Name": contact},
        "Date": "2026-11-01",
        "DueDate": "2026-11-30",
        "Status": "AUTHORISED",
        "Reference": "typed by hand",
        "LineItems": [
            {
                "Description": "Counter sale",
                "Quantity": 1,
                "UnitAmount": 99,
                "AccountCode": "200" if kind == "ACCREC" else "400",
            }
        ],
    }
