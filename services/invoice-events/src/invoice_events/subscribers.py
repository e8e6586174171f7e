"""Thin Kafka handlers: record in -> decode -> one service call -> ack.

    register(broker, invoices, requests, names=Topics(), group_id="invoice-events", ...)

Both subscribers commit by hand (``AckPolicy.MANUAL``):
- a record that cannot be decoded or validated goes to the DLQ, then is acknowledged;
- a transient failure (:class:`Unavailable`: MongoDB, Kafka or the sync-log API down) is
  retried with exponential backoff a bounded number of times, then the message is nacked:
  the consumer seeks back and the record comes again, so nothing is committed past it;
- anything else is a bug for this record: logged, dead-lettered as ``processing_error`` and
  acknowledged, so that one record never blocks its partition.
"""

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

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
from service_kit.events import Topics, dead_letter
from sync_schemas import CloudEvent, EnvelopeError, EventType, decode, topics

log = structlog.get_logger(__name__)

_SNAPSHOT_TYPES = frozenset({EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED})


class ProcessingError(EnvelopeError):
    """A record that decoded but could not be handled (a bug); dead-lettered with this reason."""

    reason: ClassVar[str] = "processing_error"


Handler = Callable[[CloudEvent[Any]], Awaitable[str]]


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
    async def on_invoice_event(event: CloudEvent[Any]) -> str:
        if event.type not in _SNAPSHOT_TYPES:
            return "ignored"  # sync requests carry no news for the snapshots
        await invoices.observe(event)
        return "applied"

    async def on_connection_event(event: CloudEvent[Any]) -> str:
        if event.type is not EventType.XERO_CONNECTION_CHANGED:
            return "ignored"
        batch = await requests.after_connection_changed(event)
        return "applied" if batch else "ignored"

    async def to_dlq(record: ConsumerRecord[bytes, bytes], error: EnvelopeError) -> None:
        try:
            await dead_letter(broker, record, error, names)
        except Exception as failure:  # the DLQ is Kafka too: try the record again later
            raise Unavailable(f"dead-lettering failed: {failure!r}") from failure

    async def handle(
        record: ConsumerRecord[bytes, bytes], metric_topic: str, call: Handler
    ) -> None:
        try:
            event = decode(record.value, record.headers)
        except EnvelopeError as error:
            log.warning("record.dead_lettered", reason=error.reason, offset=record.offset)
            await to_dlq(record, error)
            metrics.RECORDS_CONSUMED.labels(metric_topic, "dead_lettered").inc()
            return
        with structlog.contextvars.bound_contextvars(
            event_id=event.id,
            org_id=event.org_id,
            invoice_id=getattr(event.data, "invoice_id", None),
        ):
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(max_attempts),
                    wait=wait_exponential(multiplier=backoff_s, max=10),
                    retry=retry_if_exception_type(Unavailable),
                    reraise=True,
                ):
                    with attempt:
                        result = await call(event)
            except Unavailable:
                raise
            except Exception as error:
                log.exception("record.failed")
                await to_dlq(record, ProcessingError(repr(error)))
                result = "dead_lettered"
        metrics.RECORDS_CONSUMED.labels(metric_topic, result).inc()

    async def consume(message: Any, metric_topic: str, call: Handler) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        try:
            for record in records:
                await handle(record, metric_topic, call)
        except Unavailable as error:
            log.warning("records.redelivered", error=str(error), count=len(records))
            metrics.RECORDS_CONSUMED.labels(metric_topic, "redelivered").inc(len(records))
            await message.nack()
            return
        await message.ack()

    @broker.subscriber(
        names.invoice_events,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        batch=True,
        max_records=500,
    )
    async def invoice_events(message: KafkaMessage) -> None:
        await consume(message, topics.INVOICE_EVENTS, on_invoice_event)

    @broker.subscriber(
        names.connections,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
    )
    async def connection_events(message: KafkaMessage) -> None:
        await consume(message, topics.CONNECTIONS, on_connection_event)
