"""Invoice ingest and snapshots: the use cases behind ``POST /v1/invoices`` and the consumer of
``invoices.events``.

    service = InvoiceService(snapshots, publisher, lease=timedelta(seconds=15))
    result = await service.ingest(invoice)          # publishes created/updated, or not
    await service.observe(event)                    # an invoice event seen on Kafka
    await service.complete_stale()                  # the sweeper: finish abandoned publishes
    await service.flush_marks()                     # step 4 for what was published lately

Publish/snapshot protocol (MongoDB has no transactions here; Kafka and MongoDB are never
written atomically together, so the snapshot document doubles as an outbox entry):

1. **Decide.** Read the invoice's snapshot and decide (``decisions.decide_ingest``): no
   snapshot -> ``invoice.created.v1``; a newer version -> ``invoice.updated.v1``; an older
   version, or the same one already published -> acknowledge, publish nothing.
2. **Claim.** Write the new version as a *pending* snapshot with a fresh event id and claim
   token: an insert for a first sight (unique ``_id``), else a compare-and-set on the claim
   token just read. Of two concurrent requests for the same version exactly one claim
   succeeds; the loser re-reads, sees the version pending (in flight) or published, and
   answers with the winner's event id without publishing.
3. **Publish** the event with that id (idempotent producer, ``acks=all``).
4. **Mark** the snapshot published (only if it still carries that event id). Marks are
   written behind, many in one update (a flush every few tens of milliseconds): the answer
   does not wait for them.

A crash or a Kafka failure between 2 and 4 leaves a pending snapshot, never a lost invoice:
- the snapshot consumer, seeing the event on ``invoices.events``, marks it published. It
  skips, without reading, the events this process published itself: their marks are in its
  buffer, kept until written, so the read would change nothing. Marks lost with a crashed
  process's buffer are covered when another instance reads those events, else by the lease
  below (the event goes out again, with the same id);
- a pending claim older than the lease is *taken over* (a new claim token, same event id)
  and published again, by a retry of the request or by the periodic sweeper. A failed
  publish releases its lease at once so that a retry need not wait.
So an event may reach Kafka twice, but always with the same CloudEvents id, which every
consumer deduplicates on. A newer version may overtake a pending older one; consumers keep
a version guard. (A newer version that overtakes a ``created`` which never got out goes as
``updated``: consumers treat an update of an invoice they never saw as its creation.)

The consumer applies the same guard: a snapshot never goes backwards, and re-applying an
event (same id, or an older or equal version) changes nothing.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import structlog

from invoice_events import metrics
from invoice_events.decisions import IngestAction, PublishState, Snapshot, decide_ingest
from invoice_events.ports import EventPublisher, Key, Mark, SnapshotStore
from service_kit.clock import Clock, utc_now
from service_kit.errors import RetryLater
from sync_schemas import CloudEvent, EventType, Invoice, new_event

SOURCE = "/invoice-events"
# Event ids this process published, remembered so that reading them back costs no read.
_REMEMBERED = 100_000
_MAX_RACES = 8  # compare-and-set retries before giving up on a hot invoice

log = structlog.get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class IngestOutcome(StrEnum):
    PUBLISHED = "published"  # this request published the event
    IN_FLIGHT = "in_flight"  # another request is publishing this very version
    DUPLICATE = "duplicate"  # this version was published before
    STALE = "stale"  # a newer version is known; nothing published


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The answer to one invoice: the event that carries the snapshot's current version."""

    invoice_id: str
    event_id: str
    event_type: EventType
    outcome: IngestOutcome
    version: int


class Contended(RetryLater):
    """The snapshot kept changing under us; the caller may retry."""


async def bounded_gather(
    items: Iterable[T], action: Callable[[T], Awaitable[R]], limit: int
) -> list[R | Exception]:
    """``action`` over every item, at most ``limit`` at a time; errors are returned in place."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R | Exception:
        async with gate:
            try:
                return await action(item)
            except Exception as error:  # reported per item: one failure never hides the rest
                return error

    return list(await asyncio.gather(*(one(item) for item in items)))


class InvoiceService:
    def __init__(
        self,
        snapshots: SnapshotStore,
        publisher: EventPublisher,
        *,
        lease: timedelta,
        concurrency: int = 64,
        clock: Clock = utc_now,
    ) -> None:
        self._snapshots = snapshots
        self._publisher = publisher
        self._lease = lease
        self._concurrency = concurrency
        self._clock = clock
        self._marks: list[Mark] = []  # published, not yet marked: flushed in one write
        self._published: dict[str, None] = {}  # recent own event ids, oldest first

    async def snapshot(self, org_id: str, invoice_id: str) -> Invoice | None:
        found = await self._snapshots.get(org_id, invoice_id)
        return found.invoice if found else None

    async def ingest(self, invoice: Invoice) -> IngestResult:
        current = await self._snapshots.get(invoice.org_id, invoice.invoice_id)
        return await self._ingest(invoice, current)

    async def _ingest(self, invoice: Invoice, current: Snapshot | None) -> IngestResult:
        """Steps 1-4 for one invoice, starting from a snapshot read just before."""
        for attempt in range(_MAX_RACES):
            if attempt:
                current = await self._snapshots.get(invoice.org_id, invoice.invoice_id)
            now = self._clock()
            decision = decide_ingest(current, invoice.version, now=now, lease=self._lease)
            if decision.action is IngestAction.PUBLISH:
                assert decision.event_type is not None
                claimed = _claim(invoice, decision.event_type, now)
                if current is None:
                    won = await self._snapshots.insert(claimed)
                else:
                    won = await self._snapshots.replace_if(current.claim, claimed)
                if won:
                    await self._publish(claimed)
                    return _result(claimed, IngestOutcome.PUBLISHED)
            elif decision.action is IngestAction.TAKE_OVER:
                assert current is not None
                if await self._take_over(current, now):
                    return _result(current, IngestOutcome.PUBLISHED)
            else:
                assert current is not None
                return _result(current, _OUTCOMES[decision.action])
        raise Contended(f"invoice {invoice.invoice_id} kept changing; retry")

    async def ingest_many(self, invoices: Sequence[Invoice]) -> list[IngestResult | Exception]:
        """The same protocol for many invoices, with one read and one insert for all first
        sights; repeats of an invoice within the call are handled after, in order."""
        firsts: dict[Key, int] = {}
        repeats: list[int] = []
        for index, invoice in enumerate(invoices):
            key = _key(invoice)
            if key in firsts:
                repeats.append(index)
            else:
                firsts[key] = index
        try:
            known = await self._snapshots.get_by_keys(list(firsts))
        except RetryLater as error:
            return [error] * len(invoices)
        now = self._clock()
        fresh = [
            (i, _claim(invoices[i], EventType.INVOICE_CREATED, now))
            for key, i in firsts.items()
            if key not in known
        ]
        try:
            inserted = await self._snapshots.insert_many([claim for _, claim in fresh])
        except RetryLater as error:
            return [error] * len(invoices)
        won = [(i, claim) for (i, claim), ok in zip(fresh, inserted, strict=True) if ok]
        lost = {i for (i, _), ok in zip(fresh, inserted, strict=True) if not ok}
        rest = [i for key, i in firsts.items() if key in known or i in lost]

        async def publish(item: tuple[int, Snapshot]) -> IngestResult:
            await self._publish(item[1])
            return _result(item[1], IngestOutcome.PUBLISHED)

        async def one(i: int) -> IngestResult:
            if i in lost:
                return await self.ingest(invoices[i])
            return await self._ingest(invoices[i], known.get(_key(invoices[i])))

        results: dict[int, IngestResult | Exception] = {}
        published = await bounded_gather(won, publish, self._concurrency)
        results.update(zip((i for i, _ in won), published, strict=True))
        results.update(zip(rest, await bounded_gather(rest, one, self._concurrency), strict=True))
        for i in repeats:
            results[i] = (await bounded_gather([invoices[i]], self.ingest, 1))[0]
        return [results[i] for i in range(len(invoices))]

    async def observe(self, event: CloudEvent[Invoice]) -> None:
        """Keep the snapshot of an invoice event seen on Kafka (ours or the upstream's)."""
        await self.observe_many([event])

    async def observe_many(self, events: Sequence[CloudEvent[Invoice]]) -> None:
        """Apply events in order, with one read for all and one write for the common case:
        our own events read back, whose snapshots only need marking published. Those this
        process published are skipped unread: their marks are written, or buffered until
        they are (``flush_marks``)."""
        events = [e for e in events if e.id not in self._published]
        if not events:
            return
        known = await self._snapshots.get_by_keys(list(dict.fromkeys(map(_event_key, events))))
        marks: list[Mark] = []
        for event in events:
            key, version = _event_key(event), event.data.version
            current = known.get(key)
            if current is not None and version <= current.version:
                if current.state is PublishState.PENDING and version == current.version:
                    # This version is on Kafka, whoever put it there: nothing left to publish.
                    marks.append((*key, current.event_id))
                    known[key] = replace(current, state=PublishState.PUBLISHED)
                continue
            with structlog.contextvars.bound_contextvars(
                event_id=event.id, org_id=key[0], invoice_id=key[1]
            ):
                known[key] = await self._apply(event, current)
        if marks:
            await self._snapshots.mark_published(marks)

    async def _apply(self, event: CloudEvent[Invoice], current: Snapshot | None) -> Snapshot:
        """Write a newer version seen on Kafka as a published snapshot; the one kept."""
        invoice = event.data
        for attempt in range(_MAX_RACES):
            if attempt:
                current = await self._snapshots.get(invoice.org_id, invoice.invoice_id)
            if current is not None and invoice.version <= current.version:
                if current.state is PublishState.PENDING and invoice.version == current.version:
                    await self._snapshots.mark_published([(*_key(invoice), current.event_id)])
                return current
            seen = Snapshot(
                invoice=invoice,
                state=PublishState.PUBLISHED,
                event_id=event.id,
                event_type=event.type,
                claim=uuid.uuid4().hex,
                claimed_at=self._clock(),
            )
            if current is None:
                won = await self._snapshots.insert(seen)
            else:
                won = await self._snapshots.replace_if(current.claim, seen)
            if won:
                log.info("snapshot.updated", version=invoice.version, source=event.source)
                return seen
        raise Contended(f"invoice {invoice.invoice_id} kept changing; retry")

    async def complete_stale(self, limit: int = 500) -> int:
        """Publish the pending snapshots whose claim outlived its lease; how many were."""
        await self.flush_marks()
        now = self._clock()
        stale = await self._snapshots.stale_pending(now - self._lease, limit)
        done = 0
        for snapshot in stale:
            with structlog.contextvars.bound_contextvars(
                org_id=snapshot.invoice.org_id, invoice_id=snapshot.invoice.invoice_id
            ):
                if await self._take_over(snapshot, now):
                    log.warning("publish.completed_by_sweeper", event_id=snapshot.event_id)
                    done += 1
        await self.flush_marks()
        return done

    async def flush_marks(self) -> int:
        """Mark the snapshots of the events published since the last flush (step 4)."""
        marks, self._marks = self._marks, []
        if marks:
            try:
                await self._snapshots.mark_published(marks)
            except BaseException as error:
                # Kept for the next flush, whatever stopped this one (an outage, a shutdown
                # cancelling it): the consumer skips reading these events back.
                self._marks = marks + self._marks
                if not isinstance(error, RetryLater):
                    raise
                log.warning("snapshot.mark_failed", count=len(marks))
                return 0
        return len(marks)

    async def _take_over(self, pending: Snapshot, now: datetime) -> bool:
        mine = replace(pending, claim=uuid.uuid4().hex, claimed_at=now)
        if not await self._snapshots.replace_if(pending.claim, mine):
            return False
        await self._publish(mine)
        return True

    async def _publish(self, claimed: Snapshot) -> None:
        invoice = claimed.invoice
        event = new_event(claimed.event_type, invoice, source=SOURCE, event_id=claimed.event_id)
        try:
            await self._publisher.publish(event)
        except Exception:
            await self._release(claimed)
            raise
        metrics.EVENTS_PUBLISHED.labels(claimed.event_type.value).inc()
        log.info(
            "invoice.published",
            org_id=invoice.org_id,
            invoice_id=invoice.invoice_id,
            event_id=claimed.event_id,
            type=claimed.event_type.value,
            version=invoice.version,
        )
        self._marks.append((invoice.org_id, invoice.invoice_id, claimed.event_id))
        self._published[claimed.event_id] = None
        if len(self._published) > _REMEMBERED:
            del self._published[next(iter(self._published))]

    async def _release(self, claimed: Snapshot) -> None:
        """Expire our lease so that a retry or the sweeper takes over without waiting."""
        expired = replace(claimed, claimed_at=claimed.claimed_at - self._lease)
        with suppress(RetryLater):  # else the lease expires on its own
            await self._snapshots.replace_if(claimed.claim, expired)


_OUTCOMES = {
    IngestAction.IN_FLIGHT: IngestOutcome.IN_FLIGHT,
    IngestAction.DUPLICATE: IngestOutcome.DUPLICATE,
    IngestAction.STALE: IngestOutcome.STALE,
}


def _key(invoice: Invoice) -> Key:
    return (invoice.org_id, invoice.invoice_id)


def _event_key(event: CloudEvent[Invoice]) -> Key:
    return _key(event.data)


def _claim(invoice: Invoice, event_type: EventType, now: datetime) -> Snapshot:
    return Snapshot(
        invoice=invoice,
        state=PublishState.PENDING,
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        claim=uuid.uuid4().hex,
        claimed_at=now,
    )


def _result(snapshot: Snapshot, outcome: IngestOutcome) -> IngestResult:
    return IngestResult(
        invoice_id=snapshot.invoice.invoice_id,
        event_id=snapshot.event_id,
        event_type=snapshot.event_type,
        outcome=outcome,
        version=snapshot.version,
    )
