"""The query API over a seeded log: every filter, stable paging, CSV, stats, batch report."""

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sync_schemas import (
    CloudEvent,
    ErrorCode,
    EventType,
    InvoiceSyncRequested,
    SyncReason,
    new_event,
)
from tests.integration.sync_log.conftest import SyncLog
from tests.integration.sync_log.test_recording import failed, succeeded
from tests.support.eventually import eventually
from tests.support.samples import invoice

T0 = datetime(2026, 11, 1, tzinfo=UTC)
INVOICES = 30  # the seeded log's, half synced and half failed
CODES = [ErrorCode.TAX_RATE_UNMAPPED, ErrorCode.CONTACT_MISSING, ErrorCode.CURRENCY_NOT_ENABLED]


def seed_events(count: int) -> list[CloudEvent[Any]]:
    """Invoice i of org_a/org_b: created, then synced (even i) or failed (odd i); every third
    is re-requested in batch b1. Times are a minute apart, so the order is known."""
    events: list[CloudEvent[Any]] = []
    minute = itertools.count()
    for i in range(count):
        org, inv_id, number = ("org_a" if i % 2 else "org_b"), f"inv_{i:03d}", f"INV-{i:03d}"
        inv = invoice(org_id=org, invoice_id=inv_id, invoice_number=number)
        ids = {"org_id": org, "invoice_id": inv_id, "invoice_number": number}

        def at() -> datetime:
            return T0 + timedelta(minutes=next(minute))

        events.append(new_event(EventType.INVOICE_CREATED, inv, source="/t", time=at()))
        if i % 3 == 0:
            request = InvoiceSyncRequested(
                org_id=org, invoice_id=inv_id, reason=SyncReason.RESYNC, batch_id="b1", invoice=inv
            )
            events.append(
                new_event(EventType.INVOICE_SYNC_REQUESTED, request, source="/t", time=at())
            )
        outcome = (
            new_event(EventType.INVOICE_SYNC_SUCCEEDED, succeeded(1, **ids), source="/t", time=at())
            if i % 2 == 0
            else new_event(
                EventType.INVOICE_SYNC_FAILED,
                failed(1, CODES[i % 3], **ids),
                source="/t",
                time=at(),
            )
        )
        events.append(outcome)
    return events


@pytest.fixture
async def seeded(sync_log: SyncLog) -> tuple[SyncLog, list[Any]]:
    events = seed_events(INVOICES)
    for event in events:
        await sync_log.publish(event)

    async def all_recorded() -> bool:
        page = await sync_log.get("/v1/sync-log", limit=500)
        return len(page["items"]) == len(events)

    # A batch's entries are stored before its invoice states, and a state that changes (an
    # invoice whose creation came in an earlier batch) is written after the new ones: wait
    # for every invoice's outcome too, not only for the entries.
    async def all_settled() -> bool:
        states = (await sync_log.get("/v1/invoices", limit=500))["items"]
        return len(states) == INVOICES and all(s["status"] != "pending" for s in states)

    await eventually(all_recorded, what=f"{len(events)} entries recorded")
    await eventually(all_settled, what="every invoice's outcome folded into its state")
    return sync_log, events


def ids(page: dict[str, Any]) -> list[str]:
    return [item["event_id"] for item in page["items"]]


async def test_entries_are_newest_first_and_every_filter_selects_exactly(
    seeded: tuple[SyncLog, list[Any]],
) -> None:
    log, events = seeded
    newest_first = [e.id for e in sorted(events, key=lambda e: e.time, reverse=True)]
    assert ids(await log.get("/v1/sync-log", limit=500)) == newest_first

    def expect(pred: Any) -> list[str]:
        return [e.id for e in sorted(events, key=lambda e: e.time, reverse=True) if pred(e)]

    def code(e: Any) -> Any:
        return getattr(e.data, "error_code", None)

    cases = {
        "org_id": ("org_a", lambda e: e.org_id == "org_a"),
        "status": ("synced", lambda e: e.type is EventType.INVOICE_SYNC_SUCCEEDED),
        "error_code": ("contact_missing", lambda e: code(e) == ErrorCode.CONTACT_MISSING),
        "invoice_id": ("inv_007", lambda e: e.subject == "inv_007"),
        "invoice_number": ("INV-012", lambda e: e.subject == "inv_012"),
        "batch_id": ("b1", lambda e: getattr(e.data, "batch_id", None) == "b1"),
    }
    for name, (value, pred) in cases.items():
        got = ids(await log.get("/v1/sync-log", limit=500, **{name: value}))
        assert got == expect(pred), name
        assert got, name

    since, until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    window = await log.get("/v1/sync-log", since=since.isoformat(), until=until.isoformat())
    assert ids(window) == expect(lambda e: since <= e.time < until)
    both = await log.get(
        "/v1/sync-log", org_id="org_a", status="failed", error_code="contact_missing"
    )
    assert ids(both) == expect(
        lambda e: e.org_id == "org_a" and code(e) == ErrorCode.CONTACT_MISSING
    )


async def test_invoices_by_current_status_with_filters(seeded: tuple[SyncLog, list[Any]]) -> None:
    log, _ = seeded
    failed_rows = (await log.get("/v1/invoices", status="failed", limit=500))["items"]
    assert sorted(r["invoice_id"] for r in failed_rows) == [f"inv_{i:03d}" for i in range(1, 30, 2)]
    assert all(r["last_error"]["remediation"] for r in failed_rows)
    in_batch = (await log.get("/v1/invoices", batch_id="b1", limit=500))["items"]
    assert sorted(r["invoice_id"] for r in in_batch) == [f"inv_{i:03d}" for i in range(0, 30, 3)]
    tax = await log.get("/v1/invoices", org_id="org_a", error_code="tax_rate_unmapped")
    assert {r["invoice_id"] for r in tax["items"]} == {f"inv_{i:03d}" for i in (3, 9, 15, 21, 27)}


async def test_paging_has_no_gap_or_repeat_while_inserts_continue(
    seeded: tuple[SyncLog, list[Any]],
) -> None:
    log, events = seeded
    before = {e.id for e in events}
    seen: list[str] = []
    cursor = None
    pages = 0
    extra = seed_events(40)[len(events) :]  # more events, newer and interleaved with paging
    while True:
        params: dict[str, Any] = {"limit": 9}
        if cursor:
            params["cursor"] = cursor
        page = await log.get("/v1/sync-log", **params)
        seen += ids(page)
        pages += 1
        for event in extra[(pages - 1) * 5 : pages * 5]:
            await log.publish(event)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages > 3
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert before <= set(seen), "a row was skipped"


async def test_csv_export_has_every_matching_entry(seeded: tuple[SyncLog, list[Any]]) -> None:
    log, events = seeded
    response = await log.client.get(
        "/v1/sync-log", params={"org_id": "org_b"}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == sum(1 for e in events if e.org_id == "org_b")
    assert {r["org_id"] for r in rows} == {"org_b"}
    assert {"event_id", "status", "error_code", "remediation"} <= set(rows[0])


async def test_stats_and_batch_report(seeded: tuple[SyncLog, list[Any]]) -> None:
    log, _ = seeded
    stats = await log.get("/v1/stats")
    assert stats["by_status"] == {"pending": 0, "synced": 15, "failed": 15}
    assert stats["by_error_code"] == {
        "tax_rate_unmapped": 5,
        "contact_missing": 5,
        "currency_not_enabled": 5,
    }
    org_a = await log.get("/v1/stats", org_id="org_a")
    assert org_a["by_status"]["failed"] == 15
    assert org_a["by_status"]["synced"] == 0
    report = await log.get("/v1/batches/b1")
    # invoices 0,3,...,27: even ones synced (0,6,12,18,24), odd ones failed (3,9,15,21,27)
    assert (report["total"], report["synced"], report["failed"], report["pending"]) == (10, 5, 5, 0)
    assert report["by_error_code"] == {"tax_rate_unmapped": 5}
    missing = await log.client.get("/v1/batches/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sync-log",
        "/v1/invoices",
        "/v1/invoices/org_a/inv_1",
        "/v1/stats",
        "/v1/batches/b1",
        "/v1/connections",
    ],
)
async def test_every_query_endpoint_needs_a_key(sync_log: SyncLog, path: str) -> None:
    async with httpx.AsyncClient(base_url=sync_log.url) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await anonymous.get(path, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"


async def test_bad_query_parameters_are_422_naming_the_field(sync_log: SyncLog) -> None:
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"status": "lost"}, "query.status"),
        ({"error_code": "nope"}, "query.error_code"),
        ({"limit": 501}, "query.limit"),
        ({"since": "yesterday"}, "query.since"),
        ({"cursor": "garbage"}, "query.cursor"),
    ]
    for params, field in cases:
        response = await sync_log.client.get("/v1/sync-log", params=params)
        assert response.status_code == 422, params
        assert [d["field"] for d in response.json()["error"]["details"]] == [field]


async def test_invoices_by_any_of_several_error_codes_and_by_number(
    seeded: tuple[SyncLog, list[Any]],
) -> None:
    log, _ = seeded
    # org_a's failed invoices: 1, 3, 5, ... with contact_missing, tax_rate_unmapped and
    # currency_not_enabled in turn (seed_events).
    either = await log.get(
        "/v1/invoices",
        org_id="org_a",
        status="failed",
        error_code=["tax_rate_unmapped", "contact_missing"],
        limit=500,
    )
    got = {r["invoice_id"] for r in either["items"]}
    assert got == {f"inv_{i:03d}" for i in range(1, 30, 2) if i % 3 != 2}
    assert {r["last_error"]["error_code"] for r in either["items"]} == {
        "tax_rate_unmapped",
        "contact_missing",
    }
    one = await log.get("/v1/invoices", error_code=["contact_missing"], limit=500)
    assert {r["invoice_id"] for r in one["items"]} == {f"inv_{i:03d}" for i in (1, 7, 13, 19, 25)}
    entries = await log.get(
        "/v1/sync-log", error_code=["contact_missing", "currency_not_enabled"], limit=500
    )
    assert {e["error_code"] for e in entries["items"]} == {
        "contact_missing",
        "currency_not_enabled",
    }

    by_number = await log.get("/v1/invoices", org_id="org_a", invoice_number="INV-015")
    assert [r["invoice_id"] for r in by_number["items"]] == ["inv_015"]

    bad = await log.client.get("/v1/invoices", params={"error_code": ["contact_missing", "nope"]})
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.error_code"]


async def test_stats_per_org_one_row_each(seeded: tuple[SyncLog, list[Any]]) -> None:
    log, _ = seeded
    per_org = await log.get("/v1/stats/orgs")
    assert per_org == {
        "items": [
            {"org_id": "org_a", "by_status": {"synced": 0, "failed": 15, "pending": 0}},
            {"org_id": "org_b", "by_status": {"synced": 15, "failed": 0, "pending": 0}},
        ]
    }
    refused = await log.client.get("/v1/stats/orgs", headers={"Authorization": "Bearer no"})
    assert refused.status_code == 401
