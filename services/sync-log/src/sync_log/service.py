"""Recording a batch of consumed records: the sync log's one use case on the write side.
Decoding, dead-lettering and isolating a record that hits a bug are the consumer loop's
(``service_kit.consumer``)."""

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from service_kit.clock import Clock, utc_now
from service_kit.consumer import Received
from service_kit.errors import RetryLater
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

log = structlog.get_logger(__name__)

_FOLD_ATTEMPTS = 10


class StatesContended(RetryLater):
    """Invoice states kept changing under this writer: redeliver the batch rather than lose
    a status."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    observed: int
    new_entries: int
    invoices_changed: int
    connections: int


class RecentStates:
    """The invoice states this process last read or wrote, at the revision stored, newest
    last; at most ``size``. An invoice's next event (its sync result after its creation)
    then folds without a read. One found stale (another writer stored a newer revision
    since: a rebalance, a second instance) loses its compare-and-set and is read again from
    the store, so the cache never decides what is stored."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._states: OrderedDict[str, InvoiceState] = OrderedDict()

    def split(self, keys: Iterable[str]) -> tuple[dict[str, InvoiceState], list[str]]:
        """The states held, and the keys to read."""
        held: dict[str, InvoiceState] = {}
        missing: list[str] = []
        for key in keys:
            state = self._states.get(key)
            if state is None:
                missing.append(key)
            else:
                held[key] = state
        return held, missing

    def keep(self, states: Iterable[InvoiceState]) -> None:
        for state in states:
            self._states[state.key] = state
            self._states.move_to_end(state.key)
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._states.pop(key, None)


class SyncLogService:
    def __init__(
        self, store: SyncLogStore, clock: Clock = utc_now, recent_states: int = 50_000
    ) -> None:
        self._store = store
        self._clock = clock
        self._recent = RecentStates(recent_states)

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
        """Fold the observations into the invoices' states, compare-and-set: a state another
        writer changed meanwhile is read again and folded again (``apply`` is idempotent).
        States this process holds (``RecentStates``) are not read.

        A held state that is stale (another writer stored since) and that the observations
        do not change is not written: what is stored is that writer's fold over it, and
        leaving it is what folding these observations before that writer's would have given,
        an order the domain accepts (events arrive in any order). Only with two writers of
        one organisation (a rebalance) can this happen."""
        by_key: dict[str, list[Observation]] = {}
        for obs in observations:
            if obs.org_id is not None and obs.invoice_id is not None:
                by_key.setdefault(invoice_key(obs.org_id, obs.invoice_id), []).append(obs)
        changed_keys: set[str] = set()
        for _ in range(_FOLD_ATTEMPTS):
            states, missing = self._recent.split(by_key)
            states |= await self._store.load_states(missing)
            changed: dict[str, InvoiceState] = {}
            for key, seen in by_key.items():
                before = state = states.get(key)
                for obs in seen:
                    state = apply(state, obs)
                if state is not None and state != before:
                    changed[key] = state
            try:
                lost = await self._store.save_states(changed.values(), now)
            except BaseException:
                self._recent.forget(changed)  # stored or not: the store says
                raise
            changed_keys |= set(changed) - lost
            self._recent.keep(s for key, s in states.items() if key not in changed)
            self._recent.keep(
                replace(s, revision=s.revision + 1) for key, s in changed.items() if key not in lost
            )
            self._recent.forget(lost)
            if not lost:
                return len(changed_keys)
            log.info("states.conflict", count=len(lost))
            by_key = {key: by_key[key] for key in lost}
        raise StatesContended(f"{len(by_key)} invoice states kept changing under this writer")
