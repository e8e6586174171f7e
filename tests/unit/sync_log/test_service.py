"""Recording a batch with a hand-written store: duplicates, dead letters, bug isolation."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_log.domain import ConnectionChange, InvoiceState
from sync_log.service import SyncLogService
from sync_schemas import EnvelopeError, EventType, encode, new_event
from tests.support.samples import invoice, sample_data

NOW = datetime(2026, 11, 24, tzinfo=UTC)
DLQ = "invoices.events.dlq"


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp: int = 0  # Kafka's produce time in ms (0: none, as in these fakes)


def rec(offset: int, invoice_id: str, topic: str = "invoices.events") -> Rec:
    r = encode(new_event(EventType.INVOICE_CREATED, invoice(invoice_id=invoice_id), source="/t"))
    return Rec(topic, 0, offset, r.key, r.value, r.headers)


@dataclass
class Store:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, InvoiceState] = field(default_factory=dict)
    poison: str = "never"

    async def insert_entries(self, entries: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        if any(e.get("invoice_id") == self.poison for e in entries):
            raise ValueError("a bug")
        repeated = {
            e["_id"]: self.entries[e["_id"]]["occurred_at"]
            for e in entries
            if e["_id"] in self.entries
        }
        self.entries |= {e["_id"]: e for e in entries if e["_id"] not in repeated}
        return repeated

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]:
        return {k: self.states[k] for k in keys if k in self.states}

    async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
        lost = set()
        for s in states:
            current = self.states.get(s.key)
            if (current.revision if current else 0) != s.revision:
                lost.add(s.key)
            else:
                self.states[s.key] = replace(s, revision=s.revision + 1)
        return lost

    async def save_connection(self, change: ConnectionChange) -> None: ...


def service(store: Store) -> tuple[SyncLogService, list[tuple[int, str]]]:
    dead: list[tuple[int, str]] = []

    async def to_dlq(record: Any, error: EnvelopeError) -> None:
        dead.append((record.offset, error.reason))

    return SyncLogService(store, DLQ, to_dlq, clock=lambda: NOW), dead


async def test_a_replayed_batch_stores_nothing_new() -> None:
    store = Store()
    svc, _ = service(store)
    batch = [rec(0, "inv_a"), rec(1, "inv_b")]
    first = await svc.record(batch)
    again = await svc.record(batch)
    assert (first.new_entries, again.new_entries) == (2, 0)
    assert sorted(store.states) == ["org_acme/inv_a", "org_acme/inv_b"]


async def test_a_re_sent_event_with_a_later_time_does_not_undo_what_followed() -> None:
    """invoice-events may re-publish an event id it already published, with a new time."""
    store = Store()
    svc, _ = service(store)
    t = datetime(2026, 11, 24, 9, tzinfo=UTC)
    created = new_event(
        EventType.INVOICE_CREATED,
        invoice(invoice_id="inv_a"),
        source="/t",
        event_id="evt-created",
        time=t,
    )
    synced = sample_data(EventType.INVOICE_SYNC_SUCCEEDED).model_copy(
        update={"invoice_id": "inv_a"}
    )
    result = new_event(
        EventType.INVOICE_SYNC_SUCCEEDED, synced, source="/t", time=t + timedelta(seconds=1)
    )
    re_sent = new_event(
        EventType.INVOICE_CREATED,
        invoice(invoice_id="inv_a"),
        source="/t",
        event_id="evt-created",
        time=t + timedelta(seconds=30),
    )
    for event in (created, result, re_sent):
        r = encode(event)
        await svc.record([Rec("invoices.events", 0, 0, r.key, r.value, r.headers)])
    assert store.states["org_acme/inv_a"].status.value == "synced"
    assert len(store.entries) == 2


async def test_garbage_is_dead_lettered_and_the_rest_recorded() -> None:
    store = Store()
    svc, dead = service(store)
    garbage = Rec("invoices.events", 0, 7, b"org_acme", b"\xff", [("ce_type", b"x")])
    result = await svc.record([rec(0, "inv_a"), garbage])
    assert dead == [(7, "missing_attribute")]
    assert (result.new_entries, result.dead_lettered) == (1, 1)


async def test_a_record_that_hits_a_bug_is_isolated() -> None:
    store = Store(poison="inv_bad")
    svc, dead = service(store)
    batch = [rec(0, "inv_a"), rec(1, "inv_bad"), rec(2, "inv_b"), rec(3, "inv_bad", DLQ)]
    result = await svc.record_isolated(batch)
    assert sorted(store.states) == ["org_acme/inv_a", "org_acme/inv_b"]
    assert dead == [(1, "processing_error")]  # the DLQ's own record is dropped, not re-queued
    assert result.dead_lettered == 2


async def test_a_state_changed_by_another_writer_meanwhile_is_folded_again() -> None:
    class Racing(Store):
        """Another writer (the same organisation on two instances) stores a newer version
        between this one's read and its write."""

        raced: bool = False

        async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
            if not self.raced:
                self.raced = True
                for s in states:
                    stored = self.states.get(s.key)
                    self.states[s.key] = replace(
                        s, version=s.version + 1, revision=(stored.revision if stored else 0) + 1
                    )
            return await super().save_states(states, now)

    store = Racing()
    svc, _ = service(store)
    await svc.record([rec(0, "inv_a")])
    [state] = store.states.values()
    assert state.version == 2  # the other writer's newer version stands
    assert state.revision == 1  # this writer read it again and found nothing newer to write
