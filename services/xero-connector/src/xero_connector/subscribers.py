"""The consumer of ``invoices.events``: one batch subscriber, manual acks.

For every batch: decode each record with the envelope (anything undecodable goes to the DLQ
with its reason, and the batch goes on), drop events seen before (CloudEvents id, in the batch
and in ``processed_events``), run the pipeline, publish every result with ``acks=all``, mark
the events processed, and only then commit the offsets. A failure of the infrastructure
(Kafka, MongoDB) nacks the batch: the consumer seeks back and the records come again; the
links make the second pass idempotent. Any other exception is a bug: the batch is handled
again record by record, and a record that still fails is dead-lettered as
``processing_error``, so one invoice never holds back the others.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

import structlog
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from service_kit.events import (
    INFRASTRUCTURE_ERRORS,
    ProcessingError,
    Topics,
    dead_letter,
    decode_record,
    publish_event,
    raw_body,
    readable_headers,
)
from sync_schemas import CloudEvent, EnvelopeError, ErrorCode, EventType, Invoice
from xero_connector.fence import BatchRevoked, Fence
from xero_connector.metrics import CONSUMED, CONSUMER_LAG
from xero_connector.sync.model import SyncRequest
from xero_connector.sync.pipeline import SyncPipeline
from xero_connector.sync.results import failure
from xero_connector.writers import Fenced

log = structlog.get_logger(__name__)
Record: TypeAlias = ConsumerRecord[bytes, bytes]
_INVOICE_TYPES = frozenset(
    {EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED, EventType.INVOICE_SYNC_REQUESTED}
)


class Processed(Protocol):
    async def seen(self, event_ids: list[str]) -> set[str]: ...

    async def mark(self, event_ids: list[str], at: datetime) -> None: ...


class Ackable(Protocol):
    raw_message: Any

    async def ack(self) -> None: ...

    async def nack(self) -> None: ...


Publish = Callable[[CloudEvent[Any]], Awaitable[None]]
DeadLetter = Callable[[Record, EnvelopeError], Awaitable[None]]


def to_request(event: CloudEvent[Any]) -> SyncRequest:
    """Only typed fields decide: ``attempt`` (set by the connector's own retries), never the
    free-text ``requested_by``."""
    if event.type is EventType.INVOICE_SYNC_REQUESTED:
        data = event.data
        return SyncRequest(event.id, event.type, data.invoice, data.batch_id, data.attempt or 1)
    invoice: Invoice = event.data
    return SyncRequest(event.id, event.type, invoice)


class SyncConsumer:
    def __init__(
        self,
        pipeline: SyncPipeline,
        processed: Processed,
        publish: Publish,
        to_dlq: DeadLetter,
        fence: Fence | None = None,
    ) -> None:
        self.pipeline = pipeline
        self._processed = processed
        self._publish = publish
        self._to_dlq = to_dlq
        self.fence = fence or Fence()

    async def consume(self, message: Ackable) -> None:
        raw = message.raw_message
        records: tuple[Record, ...] = raw if isinstance(raw, tuple) else (raw,)
        partitions = {TopicPartition(r.topic, r.partition) for r in records}
        try:
            try:
                await self.fence.run(partitions, self.handle(records))
            except (BatchRevoked, Fenced):
                raise
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception:
                log.exception("batch.failed_isolating", count=len(records))
                await self.fence.run(partitions, self._isolate(records))
        except BatchRevoked:
            # Neither acknowledged nor sent back: the partitions' new owner reads them.
            log.warning("batch.abandoned_to_new_owner", count=len(records))
            CONSUMED.labels("revoked").inc(len(records))
            return
        except Fenced:
            # Another instance writes one of these organisations (it took the lease while we
            # were away): send the batch back, in case the partitions are still ours.
            log.warning("batch.fenced", count=len(records))
            CONSUMED.labels("fenced").inc(len(records))
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):  # partitions no longer ours: nothing to do
                await message.nack()
            return
        except INFRASTRUCTURE_ERRORS:
            log.exception("batch.failed", count=len(records))
            CONSUMED.labels("redelivered").inc(len(records))
            await asyncio.sleep(1.0)  # do not spin on an outage
            await message.nack()
            return
        await message.ack()
        _observe_lag(message, records)

    async def _isolate(self, records: tuple[Record, ...]) -> None:
        """Handle each record alone. One whose handling is a bug is dead-lettered (for the
        post-mortem) and, being a valid invoice event, answered with ``internal_error`` at its
        real version, so the invoice is never left pending without a reason."""
        for record in records:
            try:
                await self.handle((record,))
            except Fenced:
                raise
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as error:
                log.exception("record.processing_failed", offset=record.offset)
                why = f"{type(error).__name__}: {error}"
                await self._to_dlq(record, ProcessingError(why))
                CONSUMED.labels("dead_lettered").inc()
                await self._answer_bug(record, why)

    async def _answer_bug(self, record: Record, why: str) -> None:
        try:
            event = decode_record(record)
            if event.type not in _INVOICE_TYPES:
                return
            request = to_request(event)
        except Exception:  # the bug is in decoding itself: the DLQ record is all there is
            log.exception("record.unanswerable", offset=record.offset)
            return
        message = f"the connector failed on this invoice ({why[:300]}); nothing more was written"
        try:
            answer = await self.pipeline.answer_bug(request, message)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:  # the bug is in recording the outcome: answer all the same
            log.exception("record.answer_not_recorded", offset=record.offset)
            answer = failure(request, ErrorCode.INTERNAL_ERROR, message)
        await self._publish(answer)
        await self._processed.mark([event.id], datetime.now(UTC))

    async def handle(self, records: tuple[Record, ...]) -> None:
        events: dict[str, CloudEvent[Any]] = {}
        for record in records:
            try:
                event = decode_record(record)
            except EnvelopeError as error:
                log.warning("record.dead_lettered", reason=error.reason, offset=record.offset)
                await self._to_dlq(record, error)
                CONSUMED.labels("dead_lettered").inc()
                continue
            if event.type in _INVOICE_TYPES:
                events.setdefault(event.id, event)
        seen = await self._processed.seen(list(events))
        fresh = [e for e in events.values() if e.id not in seen]
        CONSUMED.labels("duplicate").inc(len(records) - len(fresh))
        if not fresh:
            return
        results = await self.pipeline.sync([to_request(e) for e in fresh])
        await asyncio.gather(*(self._publish(r) for r in results))
        await self._processed.mark([e.id for e in fresh], datetime.now(UTC))
        CONSUMED.labels("handled").inc(len(fresh))


def _observe_lag(message: Ackable, records: tuple[Record, ...]) -> None:
    consumer = getattr(message, "consumer", None)
    if consumer is None or not hasattr(consumer, "highwater"):
        return
    last: dict[Any, int] = {}
    for record in records:
        last[(record.topic, record.partition)] = record.offset
    assigned = consumer.assignment() if hasattr(consumer, "assignment") else None
    for (topic, partition), offset in last.items():
        tp = TopicPartition(topic, partition)
        if assigned is not None and tp not in assigned:
            continue  # revoked by a rebalance since the poll: highwater() would assert
        high = consumer.highwater(tp)
        if high is not None:
            CONSUMER_LAG.labels(str(partition)).set(max(0, high - offset - 1))


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
    subscriber = broker.subscriber(
        names.invoice_events,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=linger_ms,
        # Well above the pipeline's batch deadline, so a slow Xero does not cost the
        # partitions; when they go anyway, the fence stops the batch (see fence.py).
        max_poll_interval_ms=max_poll_interval_ms,
        listener=consumer.fence,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        parser=readable_headers,
        decoder=raw_body,
        title="xero-connector sync",
        description="Syncs invoice events to Xero and publishes one result per event.",
    )

    @subscriber
    async def sync_batch(message: KafkaMessage) -> None:
        await consumer.consume(message)


def kafka_ports(broker: KafkaBroker, names: Topics) -> tuple[Publish, DeadLetter]:
    async def publish(event: CloudEvent[Any]) -> None:
        await publish_event(broker, event, names)

    async def to_dlq(record: Record, error: EnvelopeError) -> None:
        await dead_letter(broker, record, error, names)

    return publish, to_dlq
