"""The record handler's acknowledgement rules: DLQ and move on for bad records, bounded retries
then nack for transient failures, ack after success."""

from typing import Any

from aiokafka import ConsumerRecord

from invoice_events.ports import Unavailable
from invoice_events.subscribers import RecordHandler
from sync_schemas import EnvelopeError, EventType, encode, new_event
from tests.support.samples import invoice


class Message:
    def __init__(self, *records: ConsumerRecord[bytes, bytes]) -> None:
        self.raw_message = records if len(records) > 1 else records[0]
        self.acks: list[str] = []

    async def ack(self) -> None:
        self.acks.append("ack")

    async def nack(self) -> None:
        self.acks.append("nack")


def record(value: bytes, headers: list[tuple[str, bytes]], offset: int = 0) -> Any:
    return ConsumerRecord("t", 0, offset, 0, 0, b"org_acme", value, None, len(value), 0, headers)


def good(offset: int = 0) -> Any:
    rec = encode(new_event(EventType.INVOICE_CREATED, invoice(), source="/x"))
    return record(rec.value, rec.headers, offset)


class Calls:
    def __init__(self, failures: list[Exception | None]) -> None:
        self.failures = failures
        self.count = 0
        self.dead: list[tuple[int, str]] = []
        self.batches: list[int] = []

    async def call(self, events: list[Any]) -> None:
        self.count += 1
        self.batches.append(len(events))
        if self.failures and (failure := self.failures.pop(0)):
            raise failure

    async def dead_letter(self, rec: Any, error: EnvelopeError) -> None:
        self.dead.append((rec.offset, error.reason))


def handler(calls: Calls) -> RecordHandler:
    return RecordHandler("invoices.events", calls.call, calls.dead_letter, 3, 0.001)


async def test_undecodable_record_is_dead_lettered_and_the_rest_of_the_batch_handled() -> None:
    calls = Calls([])
    message = Message(record(b"{", [("ce_id", b"1")], offset=0), good(offset=1))
    await handler(calls).consume(message)
    assert calls.dead == [(0, "missing_attribute")]
    assert (calls.batches, message.acks) == ([1], ["ack"])


async def test_transient_failure_is_retried_then_succeeds_and_acks() -> None:
    calls = Calls([Unavailable("mongo"), Unavailable("mongo")])
    message = Message(good())
    await handler(calls).consume(message)
    assert (calls.count, message.acks, calls.dead) == (3, ["ack"], [])


async def test_persistent_transient_failure_nacks_after_bounded_retries() -> None:
    calls = Calls([Unavailable("mongo")] * 10)
    message = Message(good())
    await handler(calls).consume(message)
    assert (calls.count, message.acks, calls.dead) == (3, ["nack"], [])


async def test_a_bug_dead_letters_the_record_instead_of_blocking_the_partition() -> None:
    # the batch fails, then record by record: the first passes, the second fails again
    calls = Calls([KeyError("boom"), None, KeyError("boom")])
    message = Message(good(offset=6), good(offset=7))
    await handler(calls).consume(message)
    assert (calls.batches, message.acks) == ([2, 1, 1], ["ack"])
    assert calls.dead == [(7, "processing_error")]
