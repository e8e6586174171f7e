"""Thin Kafka handlers: records in -> the shared consumer loop -> one service call -> ack.

    register(broker, invoices, names=Topics(), group_id="invoice-events", ...)

The subscriber runs ``service_kit.consumer`` with manual acks: an undecodable record goes to
the DLQ, an outage (:class:`RetryLater`: MongoDB or Kafka down) is retried
with exponential backoff ``max_attempts`` times and then nacked, a bug dead-letters the one
record that hits it. The invoice events of a batch are applied together (one read, one write
for the common case), so the consumer keeps up with the HTTP ingest.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker

from invoice_events import metrics
from invoice_events.service import InvoiceService
from service_kit.consumer import Consumer, Count, Received, Retry, listen
from service_kit.events import (
    RawRecord,
    Topics,
    dead_letter,
    decode_record,
)
from sync_schemas import CloudEvent, EnvelopeError, EventType, topics

_SNAPSHOT_TYPES = frozenset({EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED})
Event = CloudEvent[Any]
Events = list[Received[Event]]


def _counter(topic: str) -> Count:
    """Counts a topic's records by outcome; ``topic`` is the contract's name."""

    def count(outcome: str, records: int) -> None:
        metrics.RECORDS_CONSUMED.labels(topic, outcome).inc(records)

    return count


def register(
    broker: KafkaBroker,
    invoices: InvoiceService,
    *,
    names: Topics,
    group_id: str,
    max_attempts: int,
    backoff_seconds: float,
) -> None:
    async def on_invoice_events(received: Events) -> None:
        # sync requests carry no news for the snapshots
        await invoices.observe_many([e for _, e in received if e.type in _SNAPSHOT_TYPES])

    async def to_dlq(record: RawRecord, error: EnvelopeError) -> None:
        await dead_letter(broker, record, error, names)

    retry = Retry(attempts=max_attempts, backoff_seconds=backoff_seconds, max_backoff_seconds=10)

    def consumer(handle: Callable[[Events], Awaitable[None]], topic: str) -> Consumer[Event]:
        return Consumer(handle, to_dlq, decode=decode_record, retry=retry, count=_counter(topic))

    listen(
        broker,
        consumer(on_invoice_events, topics.INVOICE_EVENTS).consume,
        names.invoice_events,
        group_id=group_id,
        max_records=500,
        title="invoice-events snapshots",
    )
