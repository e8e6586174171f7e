"""Snapshots from Kafka, manual sync, bulk resync and the reconnect resync, against real Kafka
and MongoDB, with a real HTTP sync-log API (a small double of its ``GET /v1/invoices``)."""

from typing import Any

import httpx

from sync_schemas import (
    ConnectionStatus,
    EventType,
    SyncReason,
    XeroConnectionChanged,
    new_event,
)
from tests.integration.invoice_events.support import (
    ServiceFactory,
    SyncLogDouble,
    committed,
    eventually,
    produce,
    produce_raw,
    read_events,
    read_topic,
)
from tests.support.samples import CONTRACT_INVOICE, invoice


def body(**changes: Any) -> dict[str, Any]:
    return {**CONTRACT_INVOICE, **changes}


async def snapshot_version(http: httpx.AsyncClient, invoice_id: str) -> int | None:
    response = await http.get(f"/v1/invoices/org_acme/{invoice_id}")
    return response.json()["version"] if response.status_code == 200 else None


async def test_invoice_produced_straight_to_kafka_can_be_manually_synced(
    service: ServiceFactory,
) -> None:
    upstream = new_event(EventType.INVOICE_CREATED, invoice(version=4), source="/voltasis")
    async with service() as svc:
        unknown = await svc.http.post("/v1/invoices/org_acme/inv_000123/sync")
        # Garbage first: it must go to the DLQ and not stop the consumer.
        await produce_raw(
            svc.bootstrap,
            svc.names.invoice_events,
            b"{not json",
            [("ce_specversion", b"1.0"), ("ce_id", b"bad-1"), ("ce_source", b"/x"),
             ("ce_type", b"invoice.created.v1")],
        )  # fmt: skip
        await produce(svc.bootstrap, svc.names.invoice_events, upstream)
        await produce(
            svc.bootstrap,
            svc.names.invoice_events,
            new_event(EventType.INVOICE_UPDATED, invoice(version=3), source="/voltasis"),
        )
        # garbage, v4, v3: all three handled (and committed) before looking
        group, topic = svc.settings.consumer_group, svc.names.invoice_events
        await eventually(lambda: committed(svc.bootstrap, group, topic, 3))
        same_again = await svc.http.post("/v1/invoices", json=body(version=4))
        manual = await svc.http.post(
            "/v1/invoices/org_acme/inv_000123/sync", json={"requested_by": "ops@acme.example"}
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)
        dead = await eventually(lambda: read_topic(svc.bootstrap, svc.names.dlq))
        latest = await snapshot_version(svc.http, "inv_000123")

    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert latest == 4  # the older v3 that came after did not win
    assert same_again.json()["outcome"] == "duplicate"
    assert same_again.json()["event_id"] == upstream.id
    assert manual.status_code == 202, manual.text
    [request] = [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]
    assert request.id == manual.json()["event_id"]
    assert request.data.reason is SyncReason.MANUAL
    assert request.data.requested_by == "ops@acme.example"
    assert request.data.invoice == upstream.data
    assert [dict(d.headers)["dlq_reason"] for d in dead] == [b"malformed_payload"]


async def test_resync_by_explicit_ids_publishes_one_request_per_invoice_under_one_batch(
    service: ServiceFactory,
) -> None:
    ids = ["inv_1", "inv_2", "inv_3"]
    async with service() as svc:
        batch = {"invoices": [body(invoice_id=i) for i in ids]}
        assert (await svc.http.post("/v1/invoices/batch", json=batch)).json()["accepted"] == 3
        response = await svc.http.post(
            "/v1/resync", json={"org_id": "org_acme", "invoice_ids": [*ids, "inv_2", "inv_x"]}
        )
        both = await svc.http.post(
            "/v1/resync",
            json={"org_id": "org_acme", "invoice_ids": ids, "filter": {"status": "failed"}},
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["count"] == 3 and answer["not_found"] == ["inv_x"]
    requests = [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]
    assert sorted(e.data.invoice_id for e in requests) == ids
    assert {e.data.batch_id for e in requests} == {answer["batch_id"]}
    assert {e.data.reason for e in requests} == {SyncReason.RESYNC}
    assert both.status_code == 422


async def test_resync_by_filter_pages_through_the_sync_log_and_requests_each_invoice_once(
    service: ServiceFactory, sync_log: tuple[SyncLogDouble, str]
) -> None:
    double, url = sync_log
    failed = [f"inv_{n:02d}" for n in range(7)]
    for invoice_id in failed:
        double.add("org_acme", invoice_id, "failed", "tax_rate_unmapped")
    double.add("org_acme", "inv_other", "failed", "contact_missing")
    double.add("org_acme", "inv_ok", "synced", None)
    double.add("org_else", "inv_00", "failed", "tax_rate_unmapped")
    async with service(sync_log_url=url, sync_log_page_size=3) as svc:
        all_ids = [*failed, "inv_other", "inv_ok"]
        batch = {"invoices": [body(invoice_id=i) for i in all_ids]}
        await svc.http.post("/v1/invoices/batch", json=batch)
        response = await svc.http.post(
            "/v1/resync",
            json={
                "org_id": "org_acme",
                "filter": {"status": "failed", "error_code": "tax_rate_unmapped"},
            },
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["count"] == 7
    requests = [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]
    assert sorted(e.data.invoice_id for e in requests) == failed  # once each, no others
    assert {e.data.batch_id for e in requests} == {answer["batch_id"]}
    assert len(double.requests) == 3  # 7 rows at 3 per page


async def test_connection_event_triggers_the_reconnect_resync_once(
    service: ServiceFactory, sync_log: tuple[SyncLogDouble, str]
) -> None:
    double, url = sync_log
    double.add("org_acme", "inv_exp", "failed", "connection_expired")
    double.add("org_acme", "inv_nc", "failed", "not_connected")
    double.add("org_acme", "inv_tax", "failed", "tax_rate_unmapped")
    double.add("org_else", "inv_exp", "failed", "connection_expired")
    connected = new_event(
        EventType.XERO_CONNECTION_CHANGED,
        XeroConnectionChanged(org_id="org_acme", status=ConnectionStatus.CONNECTED, reason="r"),
        source="/xero-connector",
    )
    expired = new_event(
        EventType.XERO_CONNECTION_CHANGED,
        XeroConnectionChanged(org_id="org_acme", status=ConnectionStatus.EXPIRED, reason="r"),
        source="/xero-connector",
    )

    async def requests_seen(bootstrap: str, topic: str) -> list[Any]:
        events = await read_events(bootstrap, topic)
        return [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]

    async with service(sync_log_url=url) as svc:
        batch = {"invoices": [body(invoice_id=i) for i in ("inv_exp", "inv_nc", "inv_tax")]}
        await svc.http.post("/v1/invoices/batch", json=batch)
        await produce(svc.bootstrap, svc.names.connections, expired)
        await produce(svc.bootstrap, svc.names.connections, connected)
        requests = await eventually(lambda: requests_seen(svc.bootstrap, svc.names.invoice_events))
        await produce(svc.bootstrap, svc.names.connections, connected)  # delivered again
        group, topic = svc.settings.consumer_group, svc.names.connections
        await eventually(lambda: committed(svc.bootstrap, group, topic, 3))
        requests_after = await requests_seen(svc.bootstrap, svc.names.invoice_events)

    assert sorted(e.data.invoice_id for e in requests) == ["inv_exp", "inv_nc"]
    assert {e.data.reason for e in requests} == {SyncReason.RECONNECT}
    assert len({e.data.batch_id for e in requests}) == 1
    # One query per error code, for the first delivery only: the same event again is skipped.
    assert sorted(r["error_code"] for r in double.requests) == [
        "connection_expired",
        "not_connected",
    ]
    assert {r["org_id"] for r in double.requests} == {"org_acme"}
    assert len(requests_after) == 2
