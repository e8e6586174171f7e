"""HTTP ingest against real Kafka and MongoDB: validation, version ordering, batches,
Idempotency-Key, concurrency. Published events are counted by reading the topic back."""

import asyncio
from typing import Any

from sync_schemas import EventType
from tests.integration.invoice_events.support import ServiceFactory, read_events
from tests.support.samples import CONTRACT_INVOICE


def body(**changes: Any) -> dict[str, Any]:
    return {**CONTRACT_INVOICE, **changes}


async def test_invalid_invoice_gets_one_422_entry_per_field_and_publishes_nothing(
    service: ServiceFactory,
) -> None:
    bad = body(currency="nzd", version=0, lines=[], issue_date="20/11/2026")
    del bad["customer"]
    async with service() as svc:
        response = await svc.http.post("/v1/invoices", json=bad)
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    fields = {d["field"] for d in error["details"]}
    assert fields == {
        "body.currency",
        "body.version",
        "body.lines",
        "body.issue_date",
        "body.customer",
    }
    assert events == []


async def test_keys_body_size_and_unknown_invoice_answer_in_the_contracts_error_format(
    service: ServiceFactory,
) -> None:
    async with service(max_body_bytes=2048) as svc:
        no_key = await svc.http.post("/v1/invoices", json=body(), headers={"Authorization": ""})
        wrong_key = await svc.http.get(
            "/v1/invoices/org_acme/inv_1", headers={"Authorization": "Bearer nope"}
        )
        too_big = await svc.http.post("/v1/invoices", json=body(reference="x" * 4000))
        unknown = await svc.http.get("/v1/invoices/org_acme/inv_unknown")
        health = await svc.http.get("/healthz", headers={"Authorization": ""})

    assert (no_key.status_code, no_key.json()["error"]["code"]) == (401, "unauthorized")
    assert wrong_key.status_code == 401
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "payload_too_large")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert health.status_code == 200


async def test_v2_then_v1_keeps_snapshot_and_events_at_v2_and_v3_is_an_update(
    service: ServiceFactory,
) -> None:
    async with service() as svc:
        v2 = await svc.http.post("/v1/invoices", json=body(version=2, reference="second"))
        v1 = await svc.http.post("/v1/invoices", json=body(version=1, reference="first"))
        after_v1 = await svc.http.get("/v1/invoices/org_acme/inv_000123")
        events_after_v1 = await read_events(svc.bootstrap, svc.names.invoice_events)
        v3 = await svc.http.post("/v1/invoices", json=body(version=3))
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert v2.status_code == 202 and v2.json()["type"] == "invoice.created.v1"
    assert v2.json()["outcome"] == "published"
    assert v1.status_code == 202
    assert v1.json() | {} == {**v1.json(), "outcome": "stale", "version": 2}
    assert v1.json()["event_id"] == v2.json()["event_id"]
    assert after_v1.json()["version"] == 2 and after_v1.json()["reference"] == "second"
    assert [(e.type, e.data.version) for e in events_after_v1] == [(EventType.INVOICE_CREATED, 2)]
    assert v3.json()["type"] == "invoice.updated.v1"
    assert [(e.type, e.data.version) for e in events] == [
        (EventType.INVOICE_CREATED, 2),
        (EventType.INVOICE_UPDATED, 3),
    ]
    assert events[0].id == v2.json()["event_id"] and events[1].id == v3.json()["event_id"]
    assert all(e.org_id == "org_acme" for e in events)


async def test_batch_accepts_the_good_invoices_and_reports_the_bad_by_index(
    service: ServiceFactory,
) -> None:
    invoices: list[Any] = [
        body(invoice_id="inv_a"),
        body(invoice_id="inv_b", currency="euro"),
        body(invoice_id="inv_c"),
        "not an invoice",
        body(invoice_id="inv_d", lines=[{"description": "x", "quantity": 1, "unit_price": "1"}]),
        body(invoice_id="inv_e"),
    ]
    async with service() as svc:
        response = await svc.http.post("/v1/invoices/batch", json={"invoices": invoices})
        too_many = await svc.http.post("/v1/invoices/batch", json={"invoices": [body()] * 1001})
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["accepted"] == 3
    results = answer["results"]
    assert [r.get("event_id") is not None for r in results] == [
        True, False, True, False, False, True
    ]  # fmt: skip
    assert [r["index"] for r in results] == list(range(6))
    assert results[1]["invoice_id"] == "inv_b"
    assert [d["field"] for d in results[1]["error"]["details"]] == ["body.invoices.1.currency"]
    assert results[3]["invoice_id"] is None and results[3]["error"]["code"] == "invalid_request"
    assert [d["field"] for d in results[4]["error"]["details"]] == [
        "body.invoices.4.lines.0.quantity"
    ]
    assert sorted(e.data.invoice_id for e in events) == ["inv_a", "inv_c", "inv_e"]
    assert {e.id for e in events} == {results[i]["event_id"] for i in (0, 2, 5)}

    assert too_many.status_code == 422
    assert [d["field"] for d in too_many.json()["error"]["details"]] == ["body.invoices"]


async def test_idempotency_key_replay_returns_the_first_answer_and_publishes_once(
    service: ServiceFactory,
) -> None:
    key = {"Idempotency-Key": "req-1"}
    async with service() as svc:
        first = await svc.http.post("/v1/invoices", json=body(), headers=key)
        replay = await svc.http.post("/v1/invoices", json=body(), headers=key)
        reused = await svc.http.post("/v1/invoices", json=body(version=5), headers=key)
        batch_key = {"Idempotency-Key": "batch-1"}
        batch = {"invoices": [body(invoice_id="inv_b1"), body(invoice_id="inv_b2")]}
        first_batch = await svc.http.post("/v1/invoices/batch", json=batch, headers=batch_key)
        replay_batch = await svc.http.post("/v1/invoices/batch", json=batch, headers=batch_key)
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert first.status_code == replay.status_code == 202
    assert replay.json() == first.json()
    assert first.json()["outcome"] == "published"
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert replay_batch.json() == first_batch.json()
    assert sorted(e.data.invoice_id for e in events) == ["inv_000123", "inv_b1", "inv_b2"]


async def test_concurrent_posts_of_the_same_version_publish_one_event(
    service: ServiceFactory,
) -> None:
    async with service() as svc:
        responses = await asyncio.gather(
            *(svc.http.post("/v1/invoices", json=body(version=7)) for _ in range(12))
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert {r.status_code for r in responses} == {202}
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes.count("published") == 1, outcomes
    assert {r.json()["event_id"] for r in responses} == {events[0].id}
    assert len(events) == 1


async def test_concurrent_batches_of_the_same_invoices_publish_each_once(
    service: ServiceFactory,
) -> None:
    batch = {"invoices": [body(invoice_id=f"inv_{n:02d}") for n in range(20)]}
    async with service() as svc:
        responses = await asyncio.gather(
            *(svc.http.post("/v1/invoices/batch", json=batch) for _ in range(3))
        )
        events = await read_events(svc.bootstrap, svc.names.invoice_events)

    assert [r.json()["accepted"] for r in responses] == [20, 20, 20]
    outcomes = [res["outcome"] for r in responses for res in r.json()["results"]]
    assert outcomes.count("published") == 20
    assert sorted(e.data.invoice_id for e in events) == [f"inv_{n:02d}" for n in range(20)]
