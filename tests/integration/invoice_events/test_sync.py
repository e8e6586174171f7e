"""Snapshots from Kafka, manual sync, bulk resync and the reconnect resync, against real Kafka
and MongoDB, with a real HTTP sync-log API (a small double of its ``GET /v1/invoices``)."""

from typing import Any

import httpx

from sync_schemas import (
    CloudEvent,
    ErrorCode,
    EventType,
    InvoiceSyncFailed,
    SyncReason,
    new_event,
)
from tests.integration.invoice_events.support import (
    Running,
    ServiceFactory,
    committed,
    produce,
    produce_raw,
    read_events,
    read_topic,
)
from tests.support.eventually import eventually
from tests.support.samples import CONTRACT_INVOICE, invoice

SYNC_LOG_AUTH = {"Authorization": "Bearer sync-log-key"}


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
        await eventually(
            lambda: committed(svc.bootstrap, group, topic, 3),
            what=f"{group} to commit 3 records of {topic}",
            timeout=20,
        )
        same_again = await svc.http.post("/v1/invoices", json=body(version=4))
        manual = await svc.http.post(
            "/v1/invoices/org_acme/inv_000123/sync", json={"requested_by": "ops@acme.example"}
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)
        dead = await eventually(
            lambda: read_topic(svc.bootstrap, svc.names.dlq), what="a record on the DLQ", timeout=20
        )
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


async def failed(http: httpx.AsyncClient, invoice_id: str, code: ErrorCode) -> CloudEvent[Any]:
    """The connector's verdict on an invoice ingested before (its snapshot carries it)."""
    snapshot = (await http.get(f"/v1/invoices/org_acme/{invoice_id}")).json()
    data = InvoiceSyncFailed(
        org_id="org_acme",
        invoice_id=invoice_id,
        invoice_number=snapshot["invoice_number"],
        version=snapshot["version"],
        error_code=code,
        message="m",
        retryable=False,
        remediation=code.remediation("org_acme"),
        attempt=1,
        cause_event_id="evt",
    )
    return new_event(EventType.INVOICE_SYNC_FAILED, data, source="/xero-connector")


async def sync_log_rows(url: str, **params: str) -> list[dict[str, Any]]:
    """Every row of the sync-log's GET /v1/invoices for ``params`` (following cursors)."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=url, headers=SYNC_LOG_AUTH) as http:
        while True:
            page = (
                await http.get(
                    "/v1/invoices", params={**params, **({"cursor": cursor} if cursor else {})}
                )
            ).json()
            rows.extend(page["items"])
            if not (cursor := page["next_cursor"]):
                return rows


async def record_failures(
    svc: Running,
    url: str,
    outcomes: dict[str, ErrorCode],
    expected_failed: int,
    numbered: bool = False,
) -> None:
    """Ingest the invoices, let the sync-log see them, then publish the connector's failures.
    ``numbered``: each invoice gets its own number, ``NUM-<invoice_id>``."""
    batch = {
        "invoices": [
            body(invoice_id=i, **({"invoice_number": f"NUM-{i}"} if numbered else {}))
            for i in outcomes
        ]
    }
    assert (await svc.http.post("/v1/invoices/batch", json=batch)).json()["accepted"] == len(
        outcomes
    )

    async def all_known() -> bool:
        return len(await sync_log_rows(url, org_id="org_acme")) >= len(outcomes)

    await eventually(all_known, what=f"sync-log to know {len(outcomes)} invoices", timeout=30)
    for invoice_id, code in outcomes.items():
        await produce(
            svc.bootstrap, svc.names.sync_results, await failed(svc.http, invoice_id, code)
        )

    async def all_failed() -> bool:
        rows = await sync_log_rows(url, org_id="org_acme", status="failed")
        return len(rows) >= expected_failed

    await eventually(all_failed, what=f"{expected_failed} invoices failed in sync-log", timeout=30)


async def test_resync_by_filter_pages_through_the_sync_log_and_requests_each_invoice_once(
    service: ServiceFactory, sync_log: str
) -> None:
    tax = [f"inv_{n:02d}" for n in range(7)]
    outcomes = {i: ErrorCode.TAX_RATE_UNMAPPED for i in tax}
    outcomes["inv_other"] = ErrorCode.CONTACT_MISSING
    async with service(sync_log_url=sync_log, sync_log_page_size=3) as svc:
        await record_failures(svc, sync_log, outcomes, expected_failed=8)
        await svc.http.post("/v1/invoices", json=body(invoice_id="inv_pending"))
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
    assert answer["count"] == 7 and answer["not_found"] == []
    requests = [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]
    assert sorted(e.data.invoice_id for e in requests) == tax  # pages of 3: 3 pages, once each
    assert {e.data.batch_id for e in requests} == {answer["batch_id"]}
    assert {e.data.reason for e in requests} == {SyncReason.RESYNC}


async def test_a_dry_run_resolves_like_a_run_publishes_nothing_and_the_filter_grew(
    service: ServiceFactory, sync_log: str
) -> None:
    outcomes = {f"inv_t{n}": ErrorCode.TAX_RATE_UNMAPPED for n in range(3)}
    outcomes |= {f"inv_c{n}": ErrorCode.CONTACT_MISSING for n in range(2)}
    outcomes |= {f"inv_x{n}": ErrorCode.CURRENCY_NOT_ENABLED for n in range(2)}
    wanted = {i for i, code in outcomes.items() if code is not ErrorCode.CURRENCY_NOT_ENABLED}
    codes = ["tax_rate_unmapped", "contact_missing"]
    async with service(sync_log_url=sync_log, sync_log_page_size=2) as svc:
        await record_failures(svc, sync_log, outcomes, expected_failed=7, numbered=True)
        before = await read_events(svc.bootstrap, svc.names.invoice_events)

        dry = await svc.http.post(
            "/v1/resync",
            json={"org_id": "org_acme", "filter": {"error_codes": codes}, "dry_run": True},
        )
        assert dry.status_code == 200, dry.text
        assert dry.json()["count"] == 5 and set(dry.json()["sample"]) == wanted
        assert await read_events(svc.bootstrap, svc.names.invoice_events) == before

        one = await svc.http.post(
            "/v1/resync",
            json={
                "org_id": "org_acme",
                "filter": {"invoice_number": "NUM-inv_c1"},
                "dry_run": True,
            },
        )
        assert one.json() == {"count": 1, "sample": ["inv_c1"]}
        both = await svc.http.post(
            "/v1/resync",
            json={
                "org_id": "org_acme",
                "filter": {
                    "error_code": "currency_not_enabled",
                    "error_codes": ["contact_missing"],
                },
                "dry_run": True,
            },
        )
        assert both.json()["count"] == 4

        run = await svc.http.post(
            "/v1/resync",
            json={
                "org_id": "org_acme",
                "filter": {"error_codes": codes},
                "requested_by": "console:alice@acme.example",
            },
        )
        assert run.status_code == 202, run.text
        assert run.json()["count"] == dry.json()["count"]
        events = await read_events(svc.bootstrap, svc.names.invoice_events)
        requests = [e for e in events if e.type is EventType.INVOICE_SYNC_REQUESTED]
        assert {e.data.invoice_id for e in requests} == wanted and len(requests) == 5
        assert {e.data.requested_by for e in requests} == {"console:alice@acme.example"}

        cases: list[tuple[dict[str, Any], str]] = [
            ({"filter": {"error_codes": ["nope"]}}, "body.filter.error_codes.0"),
            ({"filter": {"error_codes": []}}, "body.filter.error_codes"),
            ({"filter": {"invoice_number": ""}}, "body.filter.invoice_number"),
            ({"filter": {}, "dry_run": "maybe"}, "body.dry_run"),
            ({"filter": {}, "requested_by": "x" * 256}, "body.requested_by"),
        ]
        for bad, field in cases:
            refused = await svc.http.post("/v1/resync", json={"org_id": "org_acme", **bad})
            assert refused.status_code == 422, bad
            assert [d["field"] for d in refused.json()["error"]["details"]] == [field]
