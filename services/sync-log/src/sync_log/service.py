"""Recording a batch of consumed records: the sync log's one use case on the write side.
Decoding, dead-lettering and isolating a record that hits a bug are the consumer loop's
(``service_kit.consumer``)."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from service_kit.clock import Clock, utc_now
from service_kit.consumer import Received
from service_kit.keys import invoice_key
from sync_log.domain import (
    ConnectionChange,
    InvoiceState,
    Observation,
    apply,
    observe,
    observe_connection,
    observe_dead_letter,
)
from sync_log.ports import SyncLogStore
from sync_schemas import CloudEvent


@dataclass(frozen=True, slots=True)
class BatchResult:
    observed: int
    new_entries: int
    invoices_changed: int
    connections: int


class SyncLogService:
    def __init__(self, store: SyncLogStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def record(self, received: Sequence[Received[CloudEvent[Any] | None]]) -> BatchResult:
        """Store every record's entry and the invoices' new current status. ``received`` are
        the consumer loop's decoded records: an event, or None for a record read from the DLQ
        (logged as it is, never decoded).

        Safe to call again with the same records (after a crash or a redelivery): entries are
        keyed by event id and ``apply`` is idempotent.
        """
        observations: list[Observation] = []
        connections: list[ConnectionChange] = []
        now = self._clock()
        for record, event in received:
            if event is None:
                headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
                observations.append(observe_dead_letter(record.key, record.value, headers, now))
            elif (change := observe_connection(event)) is not None:
                connections.append(change)
            elif (obs := observe(event)) is not None:
                observations.append(obs)

        repeated = await self._store.insert_entries([o.entry() for o in observations])
        # A repeated event is folded as first recorded: a producer may re-send an event id with
        # a later time, which must not make it newer than what followed it. Repeats are still
        # folded, so a batch replayed after a crash between the two writes completes the state.
        observations = [
            replace(o, occurred_at=repeated[o.event_id]) if o.event_id in repeated else o
            for o in observations
        ]
        new_entries = len({o.event_id for o in observations} - set(repeated))
        changed = await self._fold(observations, now)
        for change in connections:
            await self._store.save_connection(change)
        return BatchResult(len(observations), new_entries, changed, len(connections))

    async def _fold(self, observations: Sequence[Observation], now: datetime) -> int:
        keys = {
            invoice_key(o.org_id, o.invoice_id): None
            for o in observations
            if o.org_id is not None and o.invoice_id is not None
        }
        states: dict[str, InvoiceState] = await self._store.load_states(keys)
        changed: dict[str, InvoiceState] = {}
        for obs in observations:
            if obs.org_id is None or obs.invoice_id is None:
                continue
            key = invoice_key(obs.org_id, obs.invoice_id)
            before = states.get(key)
            after = apply(before, obs)
            if after is not None and after != before:
                states[key] = changed[key] = after
        await self._store.save_states(changed.values(), now)
        return len(changed)
