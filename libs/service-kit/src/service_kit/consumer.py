"""The consumer loop every service runs: decode, dead-letter, handle, isolate, ack or nack.

    consumer = Consumer(on_events, to_dlq, decode=decode_record, retry=Retry(attempts=3))
    listen(broker, consumer.consume, topic, group_id=group, max_records=500)

For every message (one record, or a batch of them) the loop
1. decodes each record; one that cannot be decoded goes to the DLQ with its reason and the
   others go on;
2. hands the decoded ones to the service's handler, all at once;
3. on :class:`~service_kit.errors.RetryLater` (an outage), tries again in place with
   exponential backoff as ``retry`` allows, then sends the message back (nack): the consumer
   seeks back and the records come again, nothing is committed past them;
4. on any other exception (a bug), handles the records again one by one: a record that still
   fails is logged and dead-lettered as ``processing_error`` (and passed to ``on_poison``),
   so that one record never blocks its partition, and the others are handled;
5. acknowledges the message (commits its offsets) only when every record was handled or
   dead-lettered.

A ``guard`` may run the whole of it (a fence against rebalances); it raises :class:`Abandoned`
when the batch is no longer this instance's: the message is then neither acknowledged nor
sent back, the partitions' new owner reads it again.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import structlog
from aiokafka.consumer.fetcher import Fetcher
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from service_kit.errors import RetryLater
from service_kit.events import ProcessingError, RawRecord, raw_body, readable_headers
from sync_schemas import CloudEvent, EnvelopeError

log = structlog.get_logger(__name__)
T = TypeVar("T")

Received = tuple[RawRecord, T]
"""A record and what it decoded to."""

DeadLetter = Callable[[RawRecord, EnvelopeError], Awaitable[None]]
Count = Callable[[str, int], None]
"""``count(outcome, records)``: handled, dead_lettered, or an exception's ``outcome``."""


class Ackable(Protocol):
    """What a FastStream Kafka message offers: the raw record(s), ack and nack."""

    raw_message: Any

    async def ack(self) -> None: ...

    async def nack(self) -> None: ...


class Abandoned(Exception):
    """The batch is no longer this instance's (its partitions moved): it is neither
    acknowledged nor sent back."""

    outcome: ClassVar[str] = "abandoned"


Guard = Callable[[Sequence[RawRecord], Coroutine[Any, Any, None]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Retry:
    """How long an outage is waited out in place before the batch is sent back.

    ``attempts`` tries (None: unbounded), no new one after ``within_seconds`` seconds (None: no
    limit), waits from ``backoff_seconds`` doubling (jittered) up to ``max_backoff_seconds``; then
    ``pause_seconds`` before the nack, so that a redelivery does not spin on an outage."""

    attempts: int | None = 1
    within_seconds: float | None = None
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    pause_seconds: float = 0.0


def records_of(message: Ackable) -> tuple[RawRecord, ...]:
    """The records of a batch message, or the one record of a single message."""
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def _no_count(outcome: str, records: int) -> None:
    return None


class Consumer(Generic[T]):
    """See the module docstring. ``handle`` gets the decoded records of a batch (or, when
    isolating a bug, of one record); ``on_poison`` is called after a record that hit a bug was
    dead-lettered, with the error; ``after_ack`` after every acknowledged message."""

    def __init__(
        self,
        handle: Callable[[list[Received[T]]], Awaitable[object]],
        dead_letter: DeadLetter,
        *,
        decode: Callable[[RawRecord], T],
        retry: Retry = Retry(),
        count: Count = _no_count,
        guard: Guard | None = None,
        on_poison: Callable[[RawRecord, T, Exception], Awaitable[None]] | None = None,
        after_ack: Callable[[Ackable, Sequence[RawRecord]], None] | None = None,
    ) -> None:
        self._handle = handle
        self._dead_letter = dead_letter
        self._decode = decode
        self._retry = retry
        self._count = count
        self._guard = guard
        self._on_poison = on_poison
        self._after_ack = after_ack

    async def consume(self, message: Ackable) -> None:
        records = records_of(message)
        try:
            if self._guard is None:
                await self._batch(records)
            else:
                await self._guard(records, self._batch(records))
        except Abandoned as stop:
            log.warning(f"batch.{stop.outcome}", count=len(records), reason=str(stop))
            self._count(stop.outcome, len(records))
            return
        except RetryLater as error:
            log.warning(f"batch.{error.outcome}", count=len(records), error=str(error))
            self._count(error.outcome, len(records))
            await asyncio.sleep(self._retry.pause_seconds)
            # Partitions revoked meanwhile cannot be sought back: their new owner reads them.
            with contextlib.suppress(Exception):
                await message.nack()
            return
        await message.ack()
        if self._after_ack is not None:
            self._after_ack(message, records)

    async def _batch(self, records: Sequence[RawRecord]) -> None:
        received = [item for record in records if (item := await self._decoded(record))]
        if not received:
            return
        try:
            await self._with_retries(received)
        except RetryLater:
            raise
        except Exception as error:
            if len(received) == 1:
                await self._poisoned(received[0], error)
                return
            log.warning("batch.failed_isolating", count=len(received), error=repr(error))
            await self._isolate(received)
            return
        self._count("handled", len(received))

    async def _isolate(self, received: list[Received[T]]) -> None:
        for item in received:
            try:
                await self._with_retries([item])
            except RetryLater:
                raise
            except Exception as error:
                await self._poisoned(item, error)
                continue
            self._count("handled", 1)

    async def _decoded(self, record: RawRecord) -> Received[T] | None:
        try:
            return record, self._decode(record)
        except EnvelopeError as error:
            log.warning(
                "record.dead_lettered",
                reason=error.reason,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            await self._to_dlq(record, error)
            return None

    async def _poisoned(self, item: Received[T], error: Exception) -> None:
        record, value = item
        ids = (
            {"event_id": value.id, "org_id": value.org_id} if isinstance(value, CloudEvent) else {}
        )
        with structlog.contextvars.bound_contextvars(**ids):
            log.error("record.failed", topic=record.topic, offset=record.offset, exc_info=error)
        await self._to_dlq(record, ProcessingError(f"{type(error).__name__}: {error}"))
        if self._on_poison is not None:
            await self._on_poison(record, value, error)

    async def _with_retries(self, received: list[Received[T]]) -> None:
        policy = self._retry
        stop: stop_base = (
            stop_never if policy.attempts is None else stop_after_attempt(policy.attempts)
        )
        if policy.within_seconds is not None:
            stop = stop | stop_after_delay(policy.within_seconds)
        async for attempt in AsyncRetrying(
            stop=stop,
            wait=wait_exponential_jitter(
                multiplier=policy.backoff_seconds, max=policy.max_backoff_seconds
            ),
            retry=retry_if_exception_type(RetryLater),
            reraise=True,
        ):
            with attempt:
                await self._handle(received)

    async def _to_dlq(self, record: RawRecord, error: EnvelopeError) -> None:
        try:
            await self._dead_letter(record, error)
        except RetryLater:
            raise
        except Exception as failure:  # the DLQ is Kafka too: try the record again later
            raise RetryLater(f"dead-lettering failed: {failure!r}") from failure
        self._count("dead_lettered", 1)


# How long the broker may hold a fetch that finds no new records. aiokafka sends one fetch at
# a time to a broker, for every assigned partition that has no records waiting, so a partition
# just emptied by a batch is fetched again only when the fetch in flight, often a long poll on
# the idle partitions, comes back. With Kafka's 500 ms, the connector's drain of one
# organisation's 10,000 invoices stood still 1.6 s of 5.8 (a poll that timed out, then
# FastStream's pause after an empty poll, every 1,600 records); ``python -m bench.kafka_fetch``
# measures it alone. An idle consumer asks ten times a second instead of twice.
FETCH_MAX_WAIT_MS = 100

# How long aiokafka holds back the next fetch from a broker while records it fetched from
# there wait for the application (its Fetcher's ``prefetch_backoff``, 100 ms). Meanwhile a
# record arriving on another partition is not fetched, so it waits out the batch being
# handled and is fetched only for the one after: about two batches per stage instead of one.
# On Kafka alone (``python -m bench.kafka_pickup``) the median wait for a busy consumer's poll
# went from 91-95 ms to 48 (docs/benchmarks.md). The price: more fetch requests while a batch
# is handled, each a long poll.
PREFETCH_BACKOFF_S = 0.01


def set_prefetch_backoff(seconds: float) -> float:
    """Make ``seconds`` the prefetch backoff of every aiokafka consumer this process starts
    from now on; returns the one before. AIOKafkaConsumer has no parameter for it and builds
    its Fetcher without the keyword, so its default is what counts."""
    defaults = Fetcher.__init__.__kwdefaults__
    if defaults is None or "prefetch_backoff" not in defaults:
        raise RuntimeError("aiokafka's Fetcher no longer takes prefetch_backoff")
    before: float = defaults["prefetch_backoff"]
    defaults["prefetch_backoff"] = seconds
    return before


def listen(
    broker: KafkaBroker,
    consume: Callable[[Ackable], Awaitable[None]],
    *topics: str,
    group_id: str,
    batch: bool = True,
    **options: Any,
) -> None:
    """Subscribe ``consume`` (a :meth:`Consumer.consume`) to ``topics`` as every service
    does: in ``group_id``, manual acks (the loop commits), from the earliest offset, every
    record handed over whatever its bytes or headers (``readable_headers``, ``raw_body``).
    ``options`` go to FastStream (``max_records``, ``listener``, ``title``, ...), and may
    set another ``fetch_max_wait_ms`` than ``FETCH_MAX_WAIT_MS``. Consumers fetch with
    ``PREFETCH_BACKOFF_S``."""
    set_prefetch_backoff(PREFETCH_BACKOFF_S)
    subscriber: Any = broker.subscriber(
        *topics,
        group_id=group_id,
        batch=batch,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        parser=readable_headers,
        decoder=raw_body,
        **{"fetch_max_wait_ms": FETCH_MAX_WAIT_MS, **options},
    )

    async def on_message(message: KafkaMessage) -> None:
        await consume(message)

    subscriber(on_message)
