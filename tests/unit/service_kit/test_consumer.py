"""The shared consumer loop's rules, with hand-written fakes: dead-letter bad records and go on,
wait out an outage in place then send the batch back, isolate a bug to its record, ack only
when every record is handled or dead-lettered."""

from collections.abc import Coroutine, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from service_kit.consumer import (
    FETCH_MAX_WAIT_MS,
    Abandoned,
    Consumer,
    Received,
    Retry,
    listen,
)
from service_kit.errors import RetryLater
from service_kit.events import RawRecord, decode_record
from sync_schemas import CloudEvent, EnvelopeError, EventType, encode, new_event
from tests.support.samples import invoice

Events = list[Received[CloudEvent[Any]]]


class Message:
    def __init__(self, *records: ConsumerRecord[bytes, bytes]) -> None:
        self.raw_message: Any = records if len(records) > 1 else records[0]
        self.consumer: Any = None  # these batches are acknowledged whole, by ack()
        self.acks: list[str] = []

    async def ack(self) -> None:
        self.acks.append("ack")

    async def nack(self) -> None:
        self.acks.append("nack")


def record(value: bytes, headers: list[tuple[str, bytes]], offset: int) -> Any:
    return ConsumerRecord("t", 0, offset, 0, 0, b"org_acme", value, None, len(value), 0, headers)


def good(offset: int, invoice_id: str = "inv_1") -> Any:
    event = new_event(EventType.INVOICE_CREATED, invoice(invoice_id=invoice_id), source="/x")
    rec = encode(event)
    return record(rec.value, rec.headers, offset)


class Service:
    """Fails with the queued errors, one per call, then succeeds; or on ``poison`` always."""

    def __init__(self, failures: Sequence[Exception | None] = (), poison: str = "never") -> None:
        self.failures = list(failures)
        self.poison = poison
        self.batches: list[list[int]] = []
        self.dead: list[tuple[int, str]] = []
        self.poisoned: list[tuple[int, str]] = []
        self.counts: dict[str, int] = {}

    async def handle(self, received: Events) -> None:
        self.batches.append([rec.offset for rec, _ in received])
        if self.failures and (failure := self.failures.pop(0)):
            raise failure
        if any(event.data.invoice_id == self.poison for _, event in received):
            raise KeyError("a bug")

    async def dead_letter(self, rec: RawRecord, error: EnvelopeError) -> None:
        self.dead.append((rec.offset, error.reason))

    async def on_poison(self, rec: RawRecord, event: CloudEvent[Any], error: Exception) -> None:
        self.poisoned.append((rec.offset, type(error).__name__))

    def count(self, outcome: str, records: int) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + records

    def consumer(self, **options: Any) -> Consumer[CloudEvent[Any]]:
        retry = options.pop(
            "retry", Retry(attempts=3, backoff_seconds=0.001, max_backoff_seconds=0.001)
        )
        return Consumer(
            self.handle,
            self.dead_letter,
            decode=decode_record,
            retry=retry,
            count=self.count,
            on_poison=self.on_poison,
            **options,
        )


async def test_an_undecodable_record_is_dead_lettered_and_the_rest_handled() -> None:
    service = Service()
    message = Message(record(b"{", [("ce_id", b"1")], offset=0), good(offset=1))
    await service.consumer().consume(message)
    assert service.dead == [(0, "missing_attribute")]
    assert (service.batches, message.acks) == ([[1]], ["ack"])
    assert service.counts == {"dead_lettered": 1, "handled": 1}


async def test_an_outage_is_waited_out_in_place_then_acked() -> None:
    service = Service([RetryLater("mongo"), RetryLater("mongo")])
    message = Message(good(offset=0))
    await service.consumer().consume(message)
    assert (len(service.batches), message.acks, service.dead) == (3, ["ack"], [])


async def test_a_lasting_outage_sends_the_batch_back_after_the_bounded_attempts() -> None:
    service = Service([RetryLater("mongo")] * 10)
    message = Message(good(offset=0), good(offset=1))
    await service.consumer().consume(message)
    assert (len(service.batches), message.acks, service.dead) == (3, ["nack"], [])
    assert service.counts == {"redelivered": 2}


async def test_an_outage_is_retried_within_a_time_limit_when_attempts_are_unbounded() -> None:
    service = Service([RetryLater("mongo")] * 1000)
    retry = Retry(
        attempts=None, within_seconds=0.05, backoff_seconds=0.001, max_backoff_seconds=0.001
    )
    message = Message(good(offset=0))
    await service.consumer(retry=retry).consume(message)
    assert message.acks == ["nack"] and len(service.batches) > 1


async def test_a_bug_dead_letters_only_the_record_that_hits_it() -> None:
    service = Service(poison="inv_bad")
    message = Message(good(0, "inv_a"), good(1, "inv_bad"), good(2, "inv_b"))
    await service.consumer().consume(message)
    assert service.batches == [[0, 1, 2], [0], [1], [2]]
    assert service.dead == [(1, "processing_error")]
    assert service.poisoned == [(1, "KeyError")]
    assert message.acks == ["ack"]
    assert service.counts == {"handled": 2, "dead_lettered": 1}


async def test_an_outage_while_isolating_sends_the_batch_back() -> None:
    service = Service([KeyError("a bug")] + [RetryLater("mongo")] * 10)
    message = Message(good(0), good(1))
    await service.consumer().consume(message)
    assert (service.dead, message.acks) == ([], ["nack"])


async def test_records_isolated_before_an_outage_are_not_counted_handled() -> None:
    # The bug sends the batch to isolation; its first record goes through, the second meets
    # an outage that outlasts the attempts: the batch goes back whole and comes again.
    service = Service([KeyError("a bug"), None] + [RetryLater("mongo")] * 10)
    message = Message(good(0), good(1))
    await service.consumer().consume(message)
    assert message.acks == ["nack"]
    assert service.counts == {"redelivered": 2}


async def test_a_dead_letter_queue_that_fails_sends_the_batch_back() -> None:
    service = Service()

    async def broken_dlq(rec: RawRecord, error: EnvelopeError) -> None:
        raise ConnectionError("kafka went away")

    consumer = Consumer(service.handle, broken_dlq, decode=decode_record)
    message = Message(record(b"{", [], offset=0), good(offset=1))
    await consumer.consume(message)
    assert message.acks == ["nack"]


async def test_a_batch_the_guard_abandons_is_neither_acked_nor_sent_back() -> None:
    service = Service()

    async def revoked(records: Sequence[RawRecord], work: Coroutine[Any, Any, None]) -> None:
        work.close()  # never started: the partitions moved
        raise Abandoned("partitions moved")

    message = Message(good(offset=0))
    await service.consumer(guard=revoked).consume(message)
    assert (message.acks, service.batches) == ([], [])
    assert service.counts == {"abandoned": 1}


async def test_the_outcome_of_a_retry_later_subclass_names_the_redelivery() -> None:
    class Fenced(RetryLater):
        outcome = "fenced"

    service = Service([Fenced("another writer")])
    message = Message(good(offset=0))
    await service.consumer(retry=Retry(attempts=1)).consume(message)
    assert (message.acks, service.counts) == (["nack"], {"fenced": 1})


async def test_after_ack_sees_the_acknowledged_records() -> None:
    service = Service()
    seen: list[int] = []
    message = Message(good(offset=4), good(offset=5))

    def after_ack(acked: Any, records: Sequence[RawRecord]) -> None:
        seen.extend(r.offset for r in records)

    await service.consumer(after_ack=after_ack).consume(message)
    assert (message.acks, seen) == (["ack"], [4, 5])


def _fetch_wait(**options: Any) -> object:
    broker = KafkaBroker("localhost:9092")

    async def consume(message: Any) -> None:
        return None

    listen(broker, consume, "invoice-events", group_id="g", **options)
    [subscriber] = broker.subscribers
    # FastStream keeps the consumer's settings here until it builds the aiokafka consumer.
    return subscriber._connection_args["fetch_max_wait_ms"]  # type: ignore[attr-defined]


def test_subscriptions_ask_the_broker_for_short_fetch_waits_unless_told_otherwise() -> None:
    assert _fetch_wait() == FETCH_MAX_WAIT_MS < 500  # Kafka's own default
    assert _fetch_wait(fetch_max_wait_ms=20) == 20
