"""Recording a batch of consumed records: the sync log's one use case on the write side."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from service_kit.events import INFRASTRUCTURE_ERRORS, ProcessingError, RawRecord, decode_record
from sync_log.domain import (
    ConnectionChange,
    InvoiceState,
    Observation,
    apply,
    invoice_key,
    observe,
    observe_connection,
    observe_dead_letter,
)
from sync_log.ports import Clock, DeadLetter, SyncLogStore
from sync_schemas import EnvelopeError

log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


_FOLD_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class BatchResult:
    observed: int
    new_entries: int
    invoices_changed: int
    dead_lettered: int
    connections: int


class SyncLogService:
    def __init__(
        self, store: SyncLogStore, dlq_topic: str, dead_letter: DeadLetter, clock: Clock = utcnow
    ) -> None:
        self._store = store
        self._dlq_topic = dlq_topic
        self._dead_letter = dead_letter
        self._clock = clock

    async def record(self, records: Sequence[RawRecord]) -> BatchResult:
        """Store every record's entry and the invoices' new current status.

        Safe to call again with the same records (after a crash or a redelivery): entries are
        keyed by event id and ``apply`` is idempotent.
        """
        observations: list[Observation] = []
        connections: list[ConnectionChange] = []
        dead = 0
        now = self._clock()
        for record in records:
            if record.topic == self._dlq_topic:
                headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
                observations.append(observe_dead_letter(record.key, record.value, headers, now))
                continue
            try:
                event = decode_record(record)
            except EnvelopeError as error:
                log.warning(
                    "dead-lettering record",
                    reason=error.reason,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                await self._dead_letter(record, error)
                dead += 1
                continue
            if (change := observe_connection(event)) is not None:
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
        return BatchResult(len(observations), new_entries, changed, dead, len(connections))

    async def record_isolated(self, records: Sequence[RawRecord]) -> BatchResult:
        """Record each record alone, after ``record`` failed with a bug on the whole batch.

        A record whose recording still fails is dead-lettered as ``processing_error``; one
        read from the DLQ itself is logged and dropped rather than sent back to the DLQ.
        """
        totals = [0, 0, 0, 0, 0]
        for record in records:
            try:
                result = await self.record([record])
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as error:
                log.exception("record failed", topic=record.topic, offset=record.offset)
                if record.topic != self._dlq_topic:
                    await self._dead_letter(record, ProcessingError(type(error).__name__))
                totals[3] += 1
                continue
            for i, value in enumerate(
                (
                    result.observed,
                    result.new_entries,
                    result.invoices_changed,
                    result.dead_lettered,
                    result.connections,
                )
            ):
                totals[i] += value
        return BatchResult(*totals)

    async def _fold(self, observations: Sequence[Observation], now: datetime) -> int:
        """Fold the observations into the invoices' states, compare-and-set: a state another
        writer changed meanwhile is read again and folded again (``apply`` is idempotent)."""
        by_key: dict[str, list[Observation]] = {}
        for obs in observations:
            if obs.org_id is not None and obs.invoice_id is not None:
                by_key.setdefault(invoice_key(obs.org_id, obs.invoice_id), []).append(obs)
        changed_keys: set[str] = set()
        for _ in range(_FOLD_ATTEMPTS):
            states: dict[str, InvoiceState] = await self._store.load_states(by_key)
            changed: dict[str, InvoiceState] = {}
            for key, seen in by_key.items():
                before = state = states.get(key)
                for obs in seen:
                    state = apply(state, obs)
                if state is not None and state != before:
                    changed[key] = state
            lost = await self._store.save_states(changed.values(), now)
            changed_keys |= set(changed) - lost
            if not lost:
                return len(changed_keys)
            log.info("states.conflict", count=len(lost))
            by_key = {key: by_key[key] for key in lost}
        # Contention that does not end: redeliver the batch rather than lose a status.
        raise TimeoutError(f"{len(by_key)} invoice states kept changing under this writer")
