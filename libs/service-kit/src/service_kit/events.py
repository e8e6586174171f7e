"""Kafka plumbing shared by the services: publish CloudEvents, dead-letter bad records,
create topics at start-up.

    broker = event_broker(settings)                  # FastStream KafkaBroker, acks=all
    await publish_event(broker, new_event(...))      # durable when it returns
    try:
        event = decode(record.value, record.headers)
    except EnvelopeError as error:
        await dead_letter(broker, record, error)     # then move on: never block the partition

Subscribers that read raw records pass ``parser=readable_headers, decoder=raw_body``: FastStream
must hand every record to the handler, whatever its bytes, for the envelope to judge it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from prometheus_client import Counter

from service_kit.errors import RetryLater, retry_later_on
from sync_schemas import CloudEvent, EnvelopeError, EventType, decode, encode, topics


class PublishFailed(RetryLater):
    """Kafka did not acknowledge a record (in time): publishing it again later may work."""


class ProcessingError(EnvelopeError):
    """A record that decoded but whose handling failed (a bug): dead-lettered with this
    reason, so one record never blocks its partition."""

    reason: ClassVar[str] = "processing_error"


# dlq_error is free text built from our own validation messages; cap it like any header.
_MAX_ERROR_HEADER = 2000
# What a dead letter keeps of a value too large to copy with its headers (see dead_letter).
_MAX_TRUNCATED_VALUE = 64 * 1024


class RawRecord(Protocol):
    """What aiokafka's ConsumerRecord offers and dead-lettering needs."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def decode_record(record: RawRecord) -> CloudEvent[Any]:
    """``decode`` of a consumed record: an event without ``ce_time`` gets the record's own
    timestamp (milliseconds since the epoch, set at produce time), never the reader's clock."""
    produced = datetime.fromtimestamp(record.timestamp / 1000, UTC) if record.timestamp else None
    return decode(record.value, record.headers, record_time=produced)


@dataclass(frozen=True, slots=True)
class Topics:
    """The contract's topic names, behind an optional prefix (tests isolate themselves so)."""

    invoice_events: str = topics.INVOICE_EVENTS
    sync_results: str = topics.SYNC_RESULTS
    connections: str = topics.CONNECTIONS
    dlq: str = topics.INVOICE_EVENTS_DLQ

    @classmethod
    def with_prefix(cls, prefix: str) -> "Topics":
        if not prefix:
            return cls()
        return cls(*(f"{prefix}.{name}" for name in topics.ALL_TOPICS))

    def all(self) -> list[str]:
        return [self.invoice_events, self.sync_results, self.connections, self.dlq]

    def for_type(self, event_type: EventType) -> str:
        return self.all()[topics.ALL_TOPICS.index(event_type.topic)]


# Bytes the producer gathers per partition into one request. An idempotent producer has one
# request in flight per partition, so with aiokafka's default (16 KiB, about a dozen events)
# a batch of a thousand results to one organisation's partition took some 80 round trips
# one after another. Below Kafka's default message.max.bytes (1 MiB), which a batch must fit.
PRODUCER_BATCH_BYTES = 512 * 1024


def event_broker(bootstrap_servers: Sequence[str], client_id: str, **options: Any) -> KafkaBroker:
    """A broker whose publishes are durable: all in-sync replicas, idempotent producer."""
    return KafkaBroker(
        list(bootstrap_servers),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_batch_size=PRODUCER_BATCH_BYTES,
        # FastStream's per-message access log is noise at INFO; services log what matters.
        log_level=logging.DEBUG,
        **options,
    )


async def raw_body(message: StreamMessage[Any]) -> Any:
    """A FastStream decoder that leaves the bytes alone: FastStream's own JSON decoding fails
    the whole batch on one value that is not JSON, before the handler can dead-letter it."""
    return message.body


async def readable_headers(
    raw: Any, parse: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """A FastStream parser that survives a header that is not UTF-8.

    FastStream decodes every header strictly and fails the whole batch on one that is not,
    before any handler runs: the batch would be neither handled nor dead-lettered. Its parser
    gets copies with readable headers; the handler still gets the original records, whose bad
    header the envelope refuses as ``invalid_attribute``.
    """
    records = raw if isinstance(raw, tuple) else (raw,)
    COLOCATION.check(records)
    if isinstance(raw, tuple):
        message = await parse(tuple(_readable(record) for record in raw))
    else:
        message = await parse(_readable(raw))
    message.raw_message = raw
    return message


_log = structlog.get_logger(__name__)
OFF_PARTITION = Counter(
    "records_off_partition_total",
    "Records found on another partition than their key's (a producer partitioning with "
    "another hash): one organisation on two writers",
    ["topic"],
)


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client) gives a key."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


class Colocation:
    """Checks consumed records against their key's partition; the partition counts are the
    ones ``ensure_topics`` read at start-up."""

    def __init__(self) -> None:
        self.partitions: dict[str, int] = {}

    def check(self, records: Sequence[Any]) -> None:
        for record in records:
            count = self.partitions.get(getattr(record, "topic", ""))
            key = getattr(record, "key", None)
            if not count or not key or key_partition(key, count) == record.partition:
                continue
            OFF_PARTITION.labels(record.topic).inc()
            _log.warning(
                "record.off_partition",
                topic=record.topic,
                partition=record.partition,
                hint="is the producer keying by org_id with Kafka's default (murmur2) "
                "partitioner? (README: Publishing straight to Kafka)",
            )


COLOCATION = Colocation()


def _readable(record: Any) -> Any:
    try:
        for _, value in record.headers:
            value.decode()
    except (UnicodeDecodeError, AttributeError):  # AttributeError: a null header value
        headers = [(k, (v or b"").decode(errors="replace").encode()) for k, v in record.headers]
        return replace(record, headers=headers)
    return record


def _text_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    # A Kafka header value may be null; a dead letter must not fail on one.
    return {name: (value or b"").decode(errors="replace") for name, value in headers}


_publishing = retry_later_on(KafkaError, ConnectionError, TimeoutError, as_=PublishFailed)


async def publish_event(
    broker: KafkaBroker, event: CloudEvent[Any], names: Topics = Topics()
) -> None:
    """Publish one event to its type's topic and wait for the broker's acknowledgement.
    Raises :class:`PublishFailed` on a Kafka error or a timeout."""
    await publish_events(broker, [event], names)


async def publish_events(
    broker: KafkaBroker, events: Sequence[CloudEvent[Any]], names: Topics = Topics()
) -> None:
    """Publish ``events``, each to its type's topic, and return once the broker has
    acknowledged every one. Raises :class:`PublishFailed` when one is not, or could not be
    handed over (the others may have gone out: every consumer deduplicates on the
    CloudEvents id).

    Every record is handed to the producer first and the acknowledgements awaited after,
    rather than one coroutine per event: for a batch of 770 results that took 39% less of
    the publishing process's CPU (``python -m bench.publish``). The producer still batches
    per partition, and one key's records keep their order."""
    deliveries: list[asyncio.Future[Any]] = []
    with _publishing:
        try:
            for event in events:
                record = encode(event)
                deliveries.append(
                    await broker.publish(
                        record.value,
                        names.for_type(event.type),
                        key=record.key,
                        headers=_text_headers(record.headers),
                        no_confirm=True,
                    )
                )
        except BaseException:
            # A send refused, or the caller cancelled: answer now, not after the deliveries
            # handed over so far (up to the producer's timeout); theirs is read when it comes.
            for delivery in deliveries:
                delivery.add_done_callback(_retrieved)
            raise
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            if isinstance(outcome, BaseException):  # the producer cancelled it (stopping)
                raise PublishFailed("the producer dropped a record before Kafka took it")


def _retrieved(delivery: asyncio.Future[Any]) -> None:
    """Mark a delivery's outcome as read (no "exception never retrieved" warning)."""
    if not delivery.cancelled():
        delivery.exception()


def dead_letter_headers(record: RawRecord, error: EnvelopeError) -> dict[str, str]:
    return {
        **_text_headers(h for h in record.headers if not h[0].startswith("dlq_")),
        "dlq_reason": error.reason,
        "dlq_error": str(error)[:_MAX_ERROR_HEADER],
        "dlq_source_topic": record.topic,
        "dlq_partition": str(record.partition),
        "dlq_offset": str(record.offset),
    }


async def dead_letter(
    broker: KafkaBroker, record: RawRecord, error: EnvelopeError, names: Topics = Topics()
) -> None:
    """Send the original bytes and headers, plus why, to the DLQ.

    A record that filled Kafka's size limit has no room left for the DLQ headers: its copy
    keeps the first ``_MAX_TRUNCATED_VALUE`` bytes, the ``ce_*`` and ``dlq_*`` headers and
    ``dlq_truncated`` (the original size), rather than failing for ever and blocking the
    partition behind it. Raises :class:`PublishFailed` when Kafka does not take it.
    """
    with _publishing:
        await _dead_letter(broker, record, error, names)


async def _dead_letter(
    broker: KafkaBroker, record: RawRecord, error: EnvelopeError, names: Topics
) -> None:
    headers = dead_letter_headers(record, error)
    value = record.value or b""
    try:
        await broker.publish(value, names.dlq, key=record.key, headers=headers)
    except MessageSizeTooLargeError:
        kept = {
            name: text[:_MAX_ERROR_HEADER]
            for name, text in headers.items()
            if name.startswith(("ce_", "dlq_")) or name == "content-type"
        }
        kept["dlq_truncated"] = str(len(value))
        key = record.key[:_MAX_ERROR_HEADER] if record.key else record.key
        await broker.publish(value[:_MAX_TRUNCATED_VALUE], names.dlq, key=key, headers=kept)


async def ensure_topics(
    bootstrap_servers: Sequence[str],
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are. Then check
    co-location: an organisation's events are keyed by ``org_id`` and must land on the same
    partition number in every topic (one writer per organisation), which needs the same
    partition count everywhere. Raises :class:`TopicsNotColocated` (refuse to start) if not."""
    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, replication_factor) for n in wanted if n not in existing]
        if missing:
            with suppress(TopicAlreadyExistsError):  # another instance won the race
                await admin.create_topics(missing)
        described = await admin.describe_topics(wanted)
    finally:
        await admin.close()
    counts = {t["topic"]: len(t.get("partitions") or []) for t in described}
    check_colocated(counts)
    COLOCATION.partitions.update(counts)


class TopicsNotColocated(RuntimeError):
    pass


def check_colocated(counts: dict[str, int]) -> None:
    """Every topic with the same number of partitions, or a clear refusal naming them."""
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{topic}: {n}" for topic, n in sorted(counts.items()))
        raise TopicsNotColocated(
            f"the topics have different partition counts ({listed}); an organisation's events "
            "must land on the same partition of every topic, so give them all the same count "
            "(Kafka can only add partitions: raise the smaller ones, and set "
            "*_TOPIC_PARTITIONS to match)"
        )
