"""The consumer of ``invoices.events``: one batch subscriber, manual acks, the shared loop
(``service_kit.consumer``: decode, dead-letter, isolate a bug, nack on :class:`RetryLater`).

What the connector adds to the loop, per batch: drop events seen before (CloudEvents id, in
the batch, in ``processed_events`` and in the batch whose results are going out), run the
pipeline; then, as the batch's finish, publish every result with ``acks=all`` and mark the
events processed; only then are the batch's offsets committed. With ``overlap`` (the
``overlap_batches`` setting) that finish runs while the next batch is synced: a batch's
steps between its Xero writes, for one organisation most of its time, no longer hold up the
next batch's writes. Finishes run one at a time, in order. An outage
(Kafka, MongoDB) nacks the batch after a pause: the records come again and the links make the
second pass idempotent. A batch runs inside the :class:`Fence`: when its partitions move it is
abandoned to their new owner (neither acked nor nacked); when another instance holds an
organisation's writer lease (:class:`Fenced`) it is sent back. A valid invoice event whose
handling is a bug is dead-lettered *and* answered with ``internal_error``, so the invoice is
never left pending without a reason.
"""

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from service_kit.clock import utc_now
from service_kit.consumer import Ackable, Consumer, Finish, Received, Retry, listen
from service_kit.errors import RetryLater
from service_kit.events import (
    RawRecord,
    Topics,
    dead_letter,
    decode_record,
    publish_event,
    publish_events,
)
from service_kit.finishing import last_offsets
from sync_schemas import CloudEvent, EnvelopeError, ErrorCode, EventType, Invoice
from xero_connector.fence import Fence
from xero_connector.metrics import CONSUMED, CONSUMER_LAG
from xero_connector.sync.model import SyncAsk
from xero_connector.sync.pipeline import SyncPipeline
from xero_connector.sync.results import failure

log = structlog.get_logger(__name__)
T = TypeVar("T")
_INVOICE_TYPES = frozenset(
    {EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED, EventType.INVOICE_SYNC_REQUESTED}
)
# Before an outage's batch is sent back: do not spin on it.
_PAUSE_BEFORE_REDELIVERY_S = 1.0


class Processed(Protocol):
    async def seen(self, event_ids: list[str]) -> set[str]: ...

    async def mark(self, event_ids: list[str], at: datetime) -> None: ...


Publish = Callable[[CloudEvent[Any]], Awaitable[None]]
PublishAll = Callable[[Sequence[CloudEvent[Any]]], Awaitable[None]]
DeadLetter = Callable[[RawRecord, EnvelopeError], Awaitable[None]]


def to_ask(event: CloudEvent[Any]) -> SyncAsk:
    """Only typed fields decide: ``attempt`` (set by the connector's own retries), never the
    free-text ``requested_by``."""
    if event.type is EventType.INVOICE_SYNC_REQUESTED:
        data = event.data
        return SyncAsk(event.id, event.type, data.invoice, data.batch_id, data.attempt or 1)
    invoice: Invoice = event.data
    return SyncAsk(event.id, event.type, invoice)


def _count(outcome: str, records: int) -> None:
    CONSUMED.labels(outcome).inc(records)


class SyncConsumer:
    def __init__(
        self,
        pipeline: SyncPipeline,
        processed: Processed,
        publish_all: PublishAll,
        to_dlq: DeadLetter,
        fence: Fence | None = None,
        *,
        overlap: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self._processed = processed
        self._publish_all = publish_all
        self.fence = fence or Fence()
        # The events of the batch whose results are going out: not yet marked processed.
        self._going_out: set[str] = set()
        self._loop: Consumer[CloudEvent[Any]] = Consumer(
            self.handle,
            to_dlq,
            decode=decode_record,
            retry=Retry(attempts=1, pause_seconds=_PAUSE_BEFORE_REDELIVERY_S),
            count=_count,
            guard=self._fenced,
            on_poison=self._answer_bug,
            after_ack=_observe_lag,
            overlap=overlap,
        )

    async def consume(self, message: Ackable) -> None:
        await self._loop.consume(message)

    async def close(self) -> None:
        """A clean stop: the results going out are published and committed first."""
        await self._loop.close()

    async def _fenced(self, records: Sequence[RawRecord], work: Coroutine[Any, Any, T]) -> T:
        return await self.fence.run({TopicPartition(r.topic, r.partition) for r in records}, work)

    async def handle(self, received: list[Received[CloudEvent[Any]]]) -> Finish | None:
        """Syncs the batch's new events; what it returns publishes their results and marks
        them processed (the consumer loop runs it, with ``overlap`` while the next batch is
        handled)."""
        events: dict[str, CloudEvent[Any]] = {}
        for _, event in received:
            if event.type in _INVOICE_TYPES:
                events.setdefault(event.id, event)
        going_out = set(self._going_out)  # before the read: they may be marked meanwhile
        seen = await self._processed.seen(list(events))
        fresh = [e for e in events.values() if e.id not in seen and e.id not in going_out]
        CONSUMED.labels("duplicate").inc(len(received) - len(fresh))
        if not fresh:
            return None
        results = await self.pipeline.sync([to_ask(e) for e in fresh])
        ids = [e.id for e in fresh]

        async def finish() -> None:
            # Before its first wait. The consumer loop starts this finish's task before it
            # takes the next batch, whose handling (a task the fence starts) runs after it.
            self._going_out.update(ids)
            try:
                await self._publish_all(results)
                await self._processed.mark(ids, utc_now())
            finally:
                self._going_out.difference_update(ids)

        return finish

    async def _answer_bug(
        self, record: RawRecord, event: CloudEvent[Any], error: Exception
    ) -> None:
        """A valid invoice event whose handling is a bug (already dead-lettered, for the
        post-mortem) is answered with ``internal_error`` at its real version."""
        if event.type not in _INVOICE_TYPES:
            return
        why = f"{type(error).__name__}: {error}"
        ask = to_ask(event)
        message = f"the connector failed on this invoice ({why[:300]}); nothing more was written"
        try:
            answer = await self.pipeline.answer_bug(ask, message)
        except RetryLater:
            raise
        except Exception:  # the bug is in recording the outcome: answer all the same
            log.exception("record.answer_not_recorded", offset=record.offset)
            answer = failure(ask, ErrorCode.INTERNAL_ERROR, message)
        await self._publish_all([answer])
        await self._processed.mark([event.id], utc_now())


def _observe_lag(message: Ackable, records: Sequence[RawRecord]) -> None:
    consumer = getattr(message, "consumer", None)
    if consumer is None or not hasattr(consumer, "highwater"):
        return
    assigned = consumer.assignment() if hasattr(consumer, "assignment") else None
    for tp, offset in last_offsets(records).items():
        if assigned is not None and tp not in assigned:
            continue  # revoked by a rebalance since the poll: highwater() would assert
        high = consumer.highwater(tp)
        if high is not None:
            CONSUMER_LAG.labels(str(tp.partition)).set(max(0, high - offset - 1))


def subscribe(
    broker: KafkaBroker,
    names: Topics,
    consumer: SyncConsumer,
    *,
    group_id: str,
    max_records: int,
    linger_ms: int,
    max_poll_interval_ms: int = 600_000,
) -> None:
    listen(
        broker,
        consumer.consume,
        names.invoice_events,
        group_id=group_id,
        max_records=max_records,
        batch_timeout_ms=linger_ms,
        # Well above the pipeline's batch deadline, so a slow Xero does not cost the
        # partitions; when they go anyway, the fence stops the batch (see fence.py).
        max_poll_interval_ms=max_poll_interval_ms,
        listener=consumer.fence,
        title="xero-connector sync",
        description="Syncs invoice events to Xero and publishes one result per event.",
    )


def kafka_ports(broker: KafkaBroker, names: Topics) -> tuple[Publish, PublishAll, DeadLetter]:
    async def publish(event: CloudEvent[Any]) -> None:
        await publish_event(broker, event, names)

    async def publish_all(events: Sequence[CloudEvent[Any]]) -> None:
        await publish_events(broker, events, names)

    async def to_dlq(record: RawRecord, error: EnvelopeError) -> None:
        await dead_letter(broker, record, error, names)

    return publish, publish_all, to_dlq
