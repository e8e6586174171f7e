"""The publish/snapshot protocol over in-memory fakes: crashes and Kafka failures between
claim and publish lose nothing, and the consumer never moves a snapshot backwards."""

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from invoice_events.decisions import PublishState, Snapshot
from invoice_events.service import IngestOutcome, InvoiceService
from service_kit.errors import RetryLater
from sync_schemas import EventType, new_event
from tests.support.samples import invoice
from tests.unit.invoice_events.fakes import Clock, FakePublisher, FakeSnapshots

LEASE = timedelta(seconds=15)


@pytest.fixture
def parts() -> tuple[InvoiceService, FakeSnapshots, FakePublisher, Clock]:
    snapshots, publisher, clock = FakeSnapshots(), FakePublisher(), Clock()
    service = InvoiceService(snapshots, publisher, lease=LEASE, clock=clock)
    return service, snapshots, publisher, clock


Parts = tuple[InvoiceService, FakeSnapshots, FakePublisher, Clock]


async def test_kafka_failure_keeps_the_claim_and_the_sweeper_publishes_it(parts: Parts) -> None:
    service, snapshots, publisher, _ = parts
    publisher.fail = 1
    with pytest.raises(RetryLater):
        await service.ingest(invoice())
    [pending] = snapshots.docs.values()
    assert pending.state is PublishState.PENDING and publisher.events == []

    assert await service.complete_stale() == 1  # the failed publish released its lease

    [event] = publisher.events
    assert (event.id, event.type) == (pending.event_id, EventType.INVOICE_CREATED)
    assert next(iter(snapshots.docs.values())).state is PublishState.PUBLISHED


async def test_a_crashed_claim_is_left_alone_within_its_lease_then_taken_over(
    parts: Parts,
) -> None:
    service, snapshots, publisher, clock = parts
    # What a process that died after claiming, before publishing, leaves behind:
    crashed = Snapshot(invoice(), PublishState.PENDING, "evt-1", EventType.INVOICE_CREATED,
                       "claim-1", clock())  # fmt: skip
    await snapshots.insert(crashed)

    early = await service.ingest(invoice())
    assert (early.outcome, early.event_id, publisher.events) == (
        IngestOutcome.IN_FLIGHT,
        "evt-1",
        [],
    )
    assert await service.complete_stale() == 0

    clock.advance(LEASE.total_seconds())
    retried = await service.ingest(invoice())
    assert (retried.outcome, retried.event_id) == (IngestOutcome.PUBLISHED, "evt-1")
    assert [e.id for e in publisher.events] == ["evt-1"]  # the same event, not a new one
    assert (await service.ingest(invoice())).outcome is IngestOutcome.IN_FLIGHT  # not marked yet
    assert await service.flush_marks() == 1
    assert (await service.ingest(invoice())).outcome is IngestOutcome.DUPLICATE


async def test_ingest_publishes_created_then_updated_and_ignores_older(parts: Parts) -> None:
    service, _, publisher, _ = parts
    results = [await service.ingest(invoice(version=v)) for v in (2, 1, 2)]
    await service.flush_marks()
    results += [await service.ingest(invoice(version=v)) for v in (2, 3)]
    o = IngestOutcome
    assert [r.outcome for r in results] == [
        o.PUBLISHED, o.STALE, o.IN_FLIGHT, o.DUPLICATE, o.PUBLISHED
    ]  # fmt: skip
    assert [(e.type, e.data.version) for e in publisher.events] == [
        (EventType.INVOICE_CREATED, 2),
        (EventType.INVOICE_UPDATED, 3),
    ]


async def test_observe_never_goes_backwards_and_completes_a_pending_claim(parts: Parts) -> None:
    service, snapshots, publisher, _ = parts
    v3 = new_event(EventType.INVOICE_UPDATED, invoice(version=3), source="/upstream")
    v2 = new_event(EventType.INVOICE_UPDATED, invoice(version=2), source="/upstream")
    await service.observe(v3)
    await service.observe(v2)
    await service.observe(v3)  # redelivered
    [doc] = snapshots.docs.values()
    assert (doc.version, doc.event_id, doc.state) == (3, v3.id, PublishState.PUBLISHED)

    # Our own publish whose "mark published" was lost: reading it back completes the claim.
    publisher.fail = 1
    with pytest.raises(RetryLater):
        await service.ingest(invoice(version=4))
    pending = next(iter(snapshots.docs.values()))
    own = new_event(EventType.INVOICE_UPDATED, invoice(version=4), source="/invoice-events",
                    event_id=pending.event_id)  # fmt: skip
    await service.observe(own)
    assert next(iter(snapshots.docs.values())) == replace(pending, state=PublishState.PUBLISHED)
    assert await service.complete_stale() == 0


async def test_own_events_read_back_cost_no_read_and_their_marks_survive_a_failed_flush(
    parts: Parts,
) -> None:
    service, snapshots, publisher, _ = parts
    await service.ingest_many([invoice(invoice_id="inv_a"), invoice(invoice_id="inv_b")])
    upstream = new_event(EventType.INVOICE_CREATED, invoice(invoice_id="inv_c"), source="/up")
    snapshots.reads.clear()

    await service.observe_many([*publisher.events, upstream])  # read back before the flush
    assert snapshots.reads == [[("org_acme", "inv_c")]]  # only the upstream's event is read

    snapshots.fail_marks = 1
    assert await service.flush_marks() == 0  # MongoDB away: the marks wait for the next flush
    assert {d.state for k, d in snapshots.docs.items() if k[1] != "inv_c"} == {PublishState.PENDING}
    snapshots.fail_marks, snapshots.mark_error = 1, asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):  # a shutdown cancels the periodic flush
        await service.flush_marks()
    assert await service.flush_marks() == 2  # the last flush still has them
    assert {d.state for d in snapshots.docs.values()} == {PublishState.PUBLISHED}


async def test_ingest_many_inserts_first_sights_together_and_handles_repeats_in_order(
    parts: Parts,
) -> None:
    service, snapshots, publisher, _ = parts
    await service.ingest(invoice(invoice_id="inv_known", version=1))
    batch = [
        invoice(invoice_id="inv_a"),
        invoice(invoice_id="inv_known", version=2),
        invoice(invoice_id="inv_a", version=2),  # a repeat within the batch
        invoice(invoice_id="inv_known", version=1),
    ]
    results = await service.ingest_many(batch)
    assert [(r.invoice_id, r.outcome, r.version) for r in results] == [  # type: ignore[union-attr]
        ("inv_a", IngestOutcome.PUBLISHED, 1),
        ("inv_known", IngestOutcome.PUBLISHED, 2),
        ("inv_a", IngestOutcome.PUBLISHED, 2),
        ("inv_known", IngestOutcome.STALE, 2),
    ]
    assert [(e.data.invoice_id, e.type, e.data.version) for e in publisher.events] == [
        ("inv_known", EventType.INVOICE_CREATED, 1),
        ("inv_a", EventType.INVOICE_CREATED, 1),
        ("inv_known", EventType.INVOICE_UPDATED, 2),
        ("inv_a", EventType.INVOICE_UPDATED, 2),
    ]
    await service.flush_marks()
    assert {d.state for d in snapshots.docs.values()} == {PublishState.PUBLISHED}
