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

A handler may return a :data:`Finish`: its batch's last steps (publishing the results, say),
run before the offsets are committed. With ``overlap=True`` they run while the next batch is
handled, one batch's at a time and in order, and each commits its own batch's offsets (the
consumer's position is already past the next one). The next batch is acknowledged or sent
back only once that finish has ended. A finish that fails sends its batch back at once; a
batch fetched before that, or before a rebalance revoked the finish, goes back with it
(:class:`HeldBack`, ``service_kit.finishing``). After a bug (not an outage) in a finish, its
records finish in place when they come again, where the bug is isolated as in 4.

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
from aiokafka import TopicPartition
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
from service_kit.finishing import Ended, Finishing, commit_batch, last_offsets, seek_back
from sync_schemas import CloudEvent, EnvelopeError

log = structlog.get_logger(__name__)
# How long a clean stop waits for the finish in flight (a commit can wait out an outage).
CLOSE_WAIT_S = 10.0
T = TypeVar("T")
R = TypeVar("R")

Received = tuple[RawRecord, T]
"""A record and what it decoded to."""

DeadLetter = Callable[[RawRecord, EnvelopeError], Awaitable[None]]
Count = Callable[[str, int], None]
"""``count(outcome, records)``: handled (once acknowledged), dead_lettered, or an exception's
``outcome``."""


class Ackable(Protocol):
    """What a FastStream Kafka message offers: the raw record(s), ack and nack."""

    raw_message: Any
    consumer: Any
    """The aiokafka consumer: overlapping batches commit and seek through it."""

    async def ack(self) -> None: ...

    async def nack(self) -> None: ...


class Abandoned(Exception):
    """The batch is no longer this instance's (its partitions moved): it is neither
    acknowledged nor sent back."""

    outcome: ClassVar[str] = "abandoned"


class Guard(Protocol):
    """Runs a batch's work (its handling, or its finish) and returns what it returns."""

    def __call__(
        self, records: Sequence[RawRecord], work: Coroutine[Any, Any, R], /
    ) -> Awaitable[R]: ...


Finish = Callable[[], Coroutine[Any, Any, None]]
"""What a handler may leave for after it returns: its batch's last steps."""


class HeldBack(Abandoned):
    """Fetched before the batch ahead of it was sought back or revoked: it is sought back
    with that one, not acknowledged."""

    outcome: ClassVar[str] = "held_back"


@dataclass(frozen=True, slots=True)
class _Handled:
    """A batch handled: its finish to run (None when there is none left), and how many of
    its records to count ``handled`` once it is acknowledged."""

    finish: Finish | None
    count: int


_NOTHING = _Handled(None, 0)


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


async def _send_back(message: Ackable) -> None:
    # Partitions revoked meanwhile cannot be sought back: their new owner reads them.
    with contextlib.suppress(Exception):
        await message.nack()


def _keys(records: Sequence[RawRecord]) -> set[tuple[str, int, int]]:
    return {(r.topic, r.partition, r.offset) for r in records}


def _keys_up_to(
    records: Sequence[RawRecord], keys: set[tuple[str, int, int]]
) -> set[tuple[str, int, int]]:
    """The ``keys`` a commit of ``records`` goes past."""
    lasts = last_offsets(records)
    return {k for k in keys if k[2] <= lasts.get(TopicPartition(k[0], k[1]), -1)}


def _no_count(outcome: str, records: int) -> None:
    return None


class Consumer(Generic[T]):
    """See the module docstring. ``handle`` gets the decoded records of a batch (or, when
    isolating a bug, of one record) and may return the batch's :data:`Finish`;
    ``on_poison`` is called after a record that hit a bug was dead-lettered, with the error;
    ``after_ack`` after every acknowledged message; ``overlap`` lets a batch's finish run
    while the next batch is handled."""

    def __init__(
        self,
        handle: Callable[[list[Received[T]]], Awaitable[Finish | None]],
        dead_letter: DeadLetter,
        *,
        decode: Callable[[RawRecord], T],
        retry: Retry = Retry(),
        count: Count = _no_count,
        guard: Guard | None = None,
        on_poison: Callable[[RawRecord, T, Exception], Awaitable[None]] | None = None,
        after_ack: Callable[[Ackable, Sequence[RawRecord]], None] | None = None,
        overlap: bool = False,
    ) -> None:
        self._handle = handle
        self._dead_letter = dead_letter
        self._decode = decode
        self._retry = retry
        self._count = count
        self._guard = guard
        self._on_poison = on_poison
        self._after_ack = after_ack
        self._overlap = overlap
        self._previous: Finishing | None = None  # the finish of the batch before, if any
        # Records whose finish hit a bug: when they come again their batch finishes in
        # place, where a bug is isolated to its record. Dropped once committed past.
        self._finish_bugs: set[tuple[str, int, int]] = set()
        self._closing = False

    async def consume(self, message: Ackable) -> None:
        records = records_of(message)
        # Fetched while the batch before was still finishing: a revoke that ends that finish
        # took this batch's partitions too (aiokafka revokes them all at a rebalance).
        early = self._previous is not None and not self._previous.task.done()
        try:
            handled = await self._guarded(records, self._batch(records, early))
        except Abandoned as stop:
            self._report(stop, records)
            await self._not_acknowledged(message, records, early, send_back=False)
            return
        except RetryLater as error:
            self._report(error, records)
            await asyncio.sleep(self._retry.pause_seconds)
            await self._not_acknowledged(message, records, early, send_back=True)
            return
        if await self._held_by_previous(records, early):
            self._report(HeldBack("fetched with a batch before it that did not finish"), records)
            await self._not_acknowledged(message, records, early, send_back=False)
            return
        self._previous = None
        finish, count = handled.finish, handled.count
        if finish is None:
            await self._acknowledge(message, records)
            self._handled(count)
        elif self._closing:  # stopping: nothing is left running behind
            await self._finish(message, records, finish, count)
        else:
            task = asyncio.create_task(self._finish(message, records, finish, count))
            self._previous = Finishing(records, task)
            await asyncio.sleep(0)  # started, up to its first wait, before the next batch

    async def close(self) -> None:
        """A clean stop: wait (at most ``CLOSE_WAIT_S``) for the finish in flight; from now
        on batches finish in place."""
        self._closing = True
        if self._previous is not None:
            await asyncio.wait({self._previous.task}, timeout=CLOSE_WAIT_S)

    async def _held_by_previous(self, records: Sequence[RawRecord], early: bool) -> bool:
        """Whether this batch must go with the batch before, which did not finish: fetched
        before that one was sought back (``Finishing.fetched_before_its_end``), or, ``early``,
        before it was revoked. Waits for that finish to end."""
        previous = self._previous
        if previous is None:
            return False
        ended = await previous.ended()
        if ended is Ended.SEND_BACK:
            return previous.fetched_before_its_end(records)
        return ended is Ended.ABANDONED and early

    async def _not_acknowledged(
        self, message: Ackable, records: Sequence[RawRecord], early: bool, *, send_back: bool
    ) -> None:
        """Once the batch before has finished: a batch held by it is sought back with it
        (each partition to its first offset among both; a revoked one is left to its new
        owner); otherwise this batch alone is sent back, or abandoned."""
        held = await self._held_by_previous(records, early)
        previous, self._previous = self._previous, None
        if held and previous is not None:
            seek_back(message.consumer, records, previous.records)
        elif send_back:
            await _send_back(message)

    async def _finish(
        self, message: Ackable, records: Sequence[RawRecord], finish: Finish, count: int
    ) -> Ended:
        """A batch's finish, then its own commit; ``count`` records counted ``handled``."""
        try:
            await self._guarded(records, finish())
        except Abandoned as stop:
            self._report(stop, records)
            return Ended.ABANDONED
        except Exception as error:  # nothing of it is committed: it is read again
            if isinstance(error, RetryLater):
                self._report(error, records)
            else:
                log.exception("batch.finish_failed", count=len(records))
                self._count("redelivered", len(records))
                self._finish_bugs.update(_keys(records))
            # Sent back now, not when the next batch comes: there may be none for a while.
            await asyncio.sleep(self._retry.pause_seconds)
            await _send_back(message)
            return Ended.SEND_BACK
        try:
            await self._acknowledge(message, records)
        except Exception as error:
            # Finished: a later commit, or the partitions' next owner (whose second pass
            # finds the events processed), covers them. Counted when that one commits.
            log.warning("batch.commit_failed", count=len(records), error=repr(error))
        else:
            self._handled(count)
        return Ended.FINISHED

    def _handled(self, count: int) -> None:
        if count:
            self._count("handled", count)

    def _report(self, why: Abandoned | RetryLater, records: Sequence[RawRecord]) -> None:
        """A batch not acknowledged, logged and counted under ``why.outcome``."""
        log.warning(f"batch.{why.outcome}", count=len(records), reason=str(why))
        self._count(why.outcome, len(records))

    async def _acknowledge(self, message: Ackable, records: Sequence[RawRecord]) -> None:
        # Overlapping, the consumer's position may be past the next batch: this one's alone.
        await (commit_batch(message.consumer, records) if self._overlap else message.ack())
        if self._finish_bugs:
            self._finish_bugs -= _keys_up_to(records, self._finish_bugs)
        if self._after_ack is not None:
            try:
                self._after_ack(message, records)
            except Exception:
                log.exception("batch.after_ack_failed", count=len(records))

    async def _guarded(self, records: Sequence[RawRecord], work: Coroutine[Any, Any, R]) -> R:
        return await (work if self._guard is None else self._guard(records, work))

    async def _batch(self, records: Sequence[RawRecord], early: bool) -> _Handled:
        """Handles the batch; returns its finish to run later (none when it is done: it ran
        in place, or a bug was isolated record by record) and the records handled."""
        received = [item for record in records if (item := await self._decoded(record))]
        if not received:
            return _NOTHING
        in_place = not self._overlap or self._closing or self._after_finish_bug(records)
        try:
            finish = await self._with_retries(received)
            if finish is not None and in_place:
                await self._wait_for_previous(records, early)
                await finish()
                finish = None
        except (RetryLater, Abandoned):
            raise
        except Exception as error:
            await self._wait_for_previous(records, early)  # isolated records finish in order
            if len(received) == 1:
                await self._poisoned(received[0], error)
                return _NOTHING
            log.warning("batch.failed_isolating", count=len(received), error=repr(error))
            return _Handled(None, await self._isolate(received))
        return _Handled(finish, len(received))

    def _after_finish_bug(self, records: Sequence[RawRecord]) -> bool:
        # Nearly always empty: a batch's keys are built only when there is something to meet.
        return bool(self._finish_bugs) and not self._finish_bugs.isdisjoint(_keys(records))

    async def _wait_for_previous(self, records: Sequence[RawRecord], early: bool) -> None:
        """Before a finish runs in place: the batch before has finished. Raises
        :class:`HeldBack` when this batch must go with it."""
        if await self._held_by_previous(records, early):
            raise HeldBack("fetched with a batch before it that did not finish")

    async def _isolate(self, received: list[Received[T]]) -> int:
        """Handles the records one by one, dead-lettering each that fails; how many did not."""
        handled = 0
        for item in received:
            try:
                finish = await self._with_retries([item])
                if finish is not None:
                    await finish()
            except RetryLater:
                raise
            except Exception as error:
                await self._poisoned(item, error)
                continue
            handled += 1
        return handled

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

    async def _with_retries(self, received: list[Received[T]]) -> Finish | None:
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
                return await self._handle(received)
        raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover

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
