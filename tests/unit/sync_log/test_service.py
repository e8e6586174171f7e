"""Recording a batch with a hand-written store: duplicates, repeats, dead letters, concurrent
writers (the consumer loop's dead-lettering and bug isolation: tests/unit/service_kit)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service_kit.errors import RetryLater
from service_kit.events import decode_record
from sync_log.domain import ConnectionChange, InvoiceState
from sync_log.service import SyncLogService
from sync_schemas import EventType, encode, new_event
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


def rec(offset: int, invoice_id: str, topic: str = "invoices.events", version: int = 1) -> Rec:
    kind = EventType.INVOICE_CREATED if version == 1 else EventType.INVOICE_UPDATED
    data = invoice(invoice_id=invoice_id, version=version)
    r = encode(new_event(kind, data, source="/t"))
    return Rec(topic, 0, offset, r.key, r.value, r.headers)


@dataclass
class Store:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, InvoiceState] = field(default_factory=dict)

    async def insert_entries(self, entries: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        repeated = {
            e["_id"]: self.entries[e["_id"]]["occurred_at"]
            for e in entries
            if e["_id"] in self.entries
        }
        self.entries |= {e["_id"]: e for e in entries if e["_id"] not in repeated}
        return repeated

    reads: list[list[str]] = field(default_factory=list)  # the keys of each load_states

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]:
        self.reads.append(list(keys))
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


def service(store: Store) -> SyncLogService:
    return SyncLogService(store, clock=lambda: NOW)


def decoded(records: list[Rec]) -> list[tuple[Any, Any]]:
    """As the consumer loop hands them over: a DLQ record is not decoded."""
    return [(r, None if r.topic == DLQ else decode_record(r)) for r in records]


async def test_a_replayed_batch_stores_nothing_new() -> None:
    store = Store()
    svc = service(store)
    batch = [rec(0, "inv_a"), rec(1, "inv_b")]
    first = await svc.record(decoded(batch))
    again = await svc.record(decoded(batch))
    assert (first.new_entries, again.new_entries) == (2, 0)
    assert sorted(store.states) == ["org_acme/inv_a", "org_acme/inv_b"]


async def test_a_re_sent_event_with_a_later_time_does_not_undo_what_followed() -> None:
    """invoice-events may re-publish an event id it already published, with a new time."""
    store = Store()
    svc = service(store)
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
        await svc.record(decoded([Rec("invoices.events", 0, 0, r.key, r.value, r.headers)]))
    assert store.states["org_acme/inv_a"].status.value == "synced"
    assert len(store.entries) == 2


async def test_a_dead_letter_is_recorded_as_it_is() -> None:
    store = Store()
    svc = service(store)
    dead = Rec(DLQ, 0, 3, b"org_acme", b"\xff", [("dlq_reason", b"invalid_json")])
    result = await svc.record(decoded([rec(0, "inv_a"), dead]))
    assert (result.observed, result.new_entries) == (2, 2)


async def test_states_that_keep_changing_send_the_batch_back() -> None:
    class Contended(Store):
        async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
            return {s.key for s in states}  # another writer wins every time

    with pytest.raises(RetryLater):
        await service(Contended()).record(decoded([rec(0, "inv_a")]))


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
    svc = service(store)
    await svc.record(decoded([rec(0, "inv_a")]))
    [state] = store.states.values()
    assert state.version == 2  # the other writer's newer version stands
    assert state.revision == 1  # this writer read it again and found nothing newer to write


async def test_an_invoices_next_event_folds_on_the_state_held_without_a_read() -> None:
    store = Store()
    svc = service(store)
    await svc.record(decoded([rec(0, "inv_a")]))
    store.reads.clear()

    await svc.record(decoded([rec(1, "inv_a", version=2)]))
    assert store.reads == [[]]  # nothing read: the state written by the first batch is held
    [state] = store.states.values()
    assert (state.version, state.status, state.revision) == (2, "pending", 2)


async def test_a_held_state_another_writer_replaced_is_read_again() -> None:
    store = Store()
    svc = service(store)
    await svc.record(decoded([rec(0, "inv_a")]))
    [(key, held)] = store.states.items()
    store.states[key] = replace(held, version=3, revision=held.revision + 1)  # elsewhere
    store.reads.clear()

    await svc.record(decoded([rec(1, "inv_a", version=2)]))
    assert store.reads == [[], [key]]  # the held state lost its compare-and-set: read again
    assert (store.states[key].version, store.states[key].revision) == (3, 2)  # 3 stands
