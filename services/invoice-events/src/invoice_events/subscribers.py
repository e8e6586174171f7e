"""Thin Kafka handlers: record in -> decode -> one service call -> ack.

    register(broker, invoices, requests, names=Topics(), group_id="invoice-events", ...)

Both subscribers commit by hand (``AckPolicy.MANUAL``):
- a record that cannot be decoded or validated goes to the DLQ, then is acknowledged;
- the invoice events of a batch are applied together (one read, one write for the common
  case), so the consumer keeps up with the HTTP ingest;
- a transient failure (:class:`Unavailable`: MongoDB, Kafka or the sync-log API down) is
  retried with exponential backoff a bounded number of times, then the message is nacked:
  the consumer seeks back and the record comes again, so nothing is committed past it;
- anything else is a bug: the batch is retried record by record, and the record that fails is
  logged, dead-lettered as ``processing_error`` and acknowledged, so that one record never
  blocks its partition.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from invoice_events import metrics
from invoice_events.ports import Unavailable
from invoice_events.resync import SyncRequests
from invoice_events.service import InvoiceService
from service_kit.events import (
    ProcessingError,
    Topics,
    dead_letter,
    decode_record,
    raw_body,
    readable_headers,
)
from sync_schemas import CloudEvent, EnvelopeError, EventType, topics

log = structlog.get_logger(__name__)

_SNAPSHOT_TYPES = frozenset({EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED})


Handler = Callable[[list[CloudEvent[Any]]], Awaitable[None]]
DeadLetter = Callable[[ConsumerRecord[bytes, bytes], EnvelopeError], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]


class Ackable(Protocol):
    """What a FastStream Kafka message offers: the raw record(s), ack and nack."""

    raw_message: Any

    async def ack(self) -> None: ...

    async def nack(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordHandler:
    """Decodes the records of a message, calls ``call`` with the events (retrying transient
    failures), then acks or nacks the message."""

    topic: str  # the contract's name, for metrics
    call: Handler
    dead_letter: DeadLetter
    max_attempts: int
    backoff_s: float

    async def consume(self, message: Ackable) -> None:
        raw = message.raw_message
        records: tuple[Record, ...] = raw if isinstance(raw, tuple) else (raw,)
        try:
            decoded = [item for record in records if (item := await self._decode(record))]
            await self._handle(decoded)
        except Unavailable as error:
            log.warning("records.redelivered", error=str(error), count=len(records))
            metrics.RECORDS_CONSUMED.labels(self.topic, "redelivered").inc(len(records))
            await message.nack()
            return
        await message.ack()

    async def _decode(self, record: Record) -> tuple[Record, CloudEvent[Any]] | None:
        try:
            return record, decode_record(record)
        except EnvelopeError as error:
            log.warning("record.dead_lettered", reason=error.reason, offset=record.offset)
            await self._to_dlq(record, error)
            return None

    async def _handle(self, decoded: list[tuple[Record, CloudEvent[Any]]]) -> None:
        if not decoded:
            return
        try:
            await self._with_retries([event for _, event in decoded])
        except Unavailable:
            raise
        except Exception:
            if len(decoded) > 1:  # find the culprit: one record must not sink the others
                for item in decoded:
                    await self._handle([item])
                return
            [(record, event)] = decoded
            with structlog.contextvars.bound_contextvars(event_id=event.id, org_id=event.org_id):
                log.exception("record.failed")
            await self._to_dlq(record, ProcessingError(f"{event.type}: handling failed"))
            return
        metrics.RECORDS_CONSUMED.labels(self.topic, "handled").inc(len(decoded))

    async def _with_retries(self, events: list[CloudEvent[Any]]) -> None:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=10),
            retry=retry_if_exception_type(Unavailable),
            reraise=True,
        ):
            with attempt:
                await self.call(events)

    async def _to_dlq(self, record: Record, error: EnvelopeError) -> None:
        try:
            await self.dead_letter(record, error)
        except Exception as failure:  # the DLQ is Kafka too: try the record again later
            raise Unavailable(f"dead-lettering failed: {failure!r}") from failure
        metrics.RECORDS_CONSUMED.labels(self.topic, "dead_lettered").inc()


def register(
    broker: KafkaBroker,
    invoices: InvoiceService,
    requests: SyncRequests,
    *,
    names: Topics,
    group_id: str,
    max_attempts: int,
    backoff_s: float,
) -> None:
    async def on_invoice_events(events: list[CloudEvent[Any]]) -> None:
        # sync requests carry no news for the snapshots
        await invoices.observe_many([e for e in events if e.type in _SNAPSHOT_TYPES])

    async def on_connection_events(events: list[CloudEvent[Any]]) -> None:
        for event in events:
            if event.type is EventType.XERO_CONNECTION_CHANGED:
                with structlog.contextvars.bound_contextvars(
                    event_id=event.id, org_id=event.org_id
                ):
                    await requests.after_connection_changed(event)

    async def to_dlq(record: ConsumerRecord[bytes, bytes], error: EnvelopeError) -> None:
        await dead_letter(broker, record, error, names)

    snapshots = RecordHandler(
        topics.INVOICE_EVENTS, on_invoice_events, to_dlq, max_attempts, backoff_s
    )
    connections = RecordHandler(
        topics.CONNECTIONS, on_connection_events, to_dlq, max_attempts, backoff_s
    )

    @broker.subscriber(
        names.invoice_events,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        batch=True,
        max_records=500,
        parser=readable_headers,
        decoder=raw_body,
    )
    async def invoice_events(message: KafkaMessage) -> None:
        await snapshots.consume(message)

    @broker.subscriber(
        names.connections,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        parser=readable_headers,
        decoder=raw_body,
    )
    async def connection_events(message: KafkaMessage) -> None:
        await connections.consume(message)
