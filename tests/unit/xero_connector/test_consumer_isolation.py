"""One invoice whose handling is a bug never holds back the others (unit, hand-written fakes)."""

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from aiokafka import ConsumerRecord

from service_kit.errors import RetryLater
from service_kit.events import PublishFailed
from sync_schemas import (
    EnvelopeError,
    ErrorCode,
    EventType,
    InvoiceSyncRequested,
    SyncReason,
    encode,
    new_event,
)
from tests.support.samples import invoice
from xero_connector.subscribers import SyncConsumer, to_ask
from xero_connector.sync.results import failure


def record(offset: int, invoice_id: str) -> ConsumerRecord[bytes, bytes]:
    rec = encode(new_event(EventType.INVOICE_CREATED, invoice(invoice_id=invoice_id), source="/t"))
    return ConsumerRecord(
        "invoices.events", 0, offset, 0, 0, rec.key, rec.value, None, 0, 0, rec.headers
    )


def first_id(rec: ConsumerRecord[bytes, bytes]) -> str:
    return bytes(dict(rec.headers)["ce_id"]).decode()


class Pipeline:
    """Fails on the invoice named ``poison``, or on everything with an outage."""

    def __init__(self, outage: bool = False) -> None:
        self.outage = outage

    async def sync(self, requests: list[Any]) -> list[str]:
        if self.outage:
            raise RetryLater("mongodb went away")  # as the Mongo adapters translate it
        ids = [r.invoice.invoice_id for r in requests]
        if "poison" in ids:
            raise KeyError("a bug in the pipeline")
        return [f"result:{i}" for i in ids]

    async def answer_bug(self, request: Any, message: str) -> Any:
        return failure(request, ErrorCode.INTERNAL_ERROR, message)


class Processed:
    def __init__(self) -> None:
        self.marked: list[str] = []

    async def seen(self, event_ids: list[str]) -> set[str]:
        return set()

    async def mark(self, event_ids: list[str], at: datetime) -> None:
        self.marked += event_ids


class Message:
    def __init__(self, records: tuple[ConsumerRecord[bytes, bytes], ...]) -> None:
        self.raw_message = records
        self.consumer: Any = None
        self.acked = self.nacked = False

    async def ack(self) -> None:
        self.acked = True

    async def nack(self) -> None:
        self.nacked = True


def consumer(pipeline: Pipeline) -> tuple[SyncConsumer, list[Any], list[Any]]:
    published: list[Any] = []
    dead: list[Any] = []

    async def publish_all(results: Any) -> None:
        published.extend(results)

    async def to_dlq(rec: ConsumerRecord[bytes, bytes], error: EnvelopeError) -> None:
        dead.append((rec.offset, error.reason))

    sync = SyncConsumer(pipeline, Processed(), publish_all, to_dlq)  # type: ignore[arg-type]
    return sync, published, dead


async def test_a_poisoned_invoice_is_dead_lettered_answered_and_the_rest_synced() -> None:
    sync, published, dead = consumer(Pipeline())
    message = Message((record(0, "inv_a"), record(1, "poison"), record(2, "inv_b")))

    await sync.consume(message)

    answers = [p for p in published if not isinstance(p, str)]
    assert sorted(p for p in published if isinstance(p, str)) == ["result:inv_a", "result:inv_b"]
    assert dead == [(1, "processing_error")]
    # The valid invoice the bug hit is not left pending: a failure at its real version.
    [answer] = answers
    assert answer.type is EventType.INVOICE_SYNC_FAILED
    assert answer.data.invoice_id == "poison" and answer.data.version == 1
    assert answer.data.error_code is ErrorCode.INTERNAL_ERROR
    assert "KeyError" in answer.data.message and answer.data.remediation
    assert message.acked and not message.nacked


def test_no_free_text_field_changes_the_attempt() -> None:
    inv = invoice(invoice_id="inv_x")
    asked = InvoiceSyncRequested(
        org_id=inv.org_id,
        invoice_id=inv.invoice_id,
        reason=SyncReason.MANUAL,
        requested_by="xero-connector:retry:0",
        invoice=inv,
    )
    retry = asked.model_copy(update={"attempt": 3, "requested_by": None})
    event = new_event(EventType.INVOICE_SYNC_REQUESTED, asked, source="/t")
    assert to_ask(event).attempt == 1
    assert to_ask(new_event(EventType.INVOICE_SYNC_REQUESTED, retry, source="/t")).attempt == 3


async def test_an_outage_is_redelivered_not_dead_lettered() -> None:
    sync, published, dead = consumer(Pipeline(outage=True))
    message = Message((record(0, "inv_a"),))

    await sync.consume(message)

    assert (published, dead) == ([], [])
    assert message.nacked and not message.acked


class RebalancedConsumer:
    """A Kafka consumer whose partition was revoked since the poll: highwater() asserts."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    def assignment(self) -> set[Any]:
        return set()

    def highwater(self, tp: Any) -> int:
        self.asked.append(tp)
        raise AssertionError("Partition is not assigned")


async def test_a_rebalance_during_the_batch_does_not_fail_the_lag_metric() -> None:
    sync, published, _ = consumer(Pipeline())
    message = Message((record(0, "inv_a"),))
    message.consumer = RebalancedConsumer()

    await sync.consume(message)

    assert published == ["result:inv_a"]
    assert message.acked
    assert message.consumer.asked == []


async def test_a_batchs_results_go_out_together_before_its_events_are_marked() -> None:
    processed = Processed()
    calls: list[tuple[list[Any], list[str]]] = []
    failing = True

    async def publish_all(results: Any) -> None:
        calls.append((list(results), list(processed.marked)))
        if failing:
            raise PublishFailed("kafka went away")

    async def to_dlq(rec: ConsumerRecord[bytes, bytes], error: EnvelopeError) -> None:
        raise AssertionError("nothing here is dead-lettered")

    sync = SyncConsumer(Pipeline(), processed, publish_all, to_dlq)  # type: ignore[arg-type]
    message = Message((record(0, "inv_a"), record(1, "inv_b")))
    await sync.consume(message)
    # Kafka did not take them: nothing is marked, the batch comes again.
    assert calls == [(["result:inv_a", "result:inv_b"], [])]
    assert processed.marked == [] and message.nacked and not message.acked

    failing = False
    again = Message((record(0, "inv_a"), record(1, "inv_b")))
    await sync.consume(again)
    assert calls[1] == (["result:inv_a", "result:inv_b"], [])  # published before the marks
    assert len(processed.marked) == 2 and again.acked


class Commits:
    def __init__(self) -> None:
        self.offsets: list[dict[Any, int]] = []

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.offsets.append(offsets)


async def test_an_event_whose_result_is_going_out_is_not_synced_again_by_the_next_batch() -> None:
    processed = Processed()
    published: list[Any] = []
    release = asyncio.Event()

    async def publish_all(results: Any) -> None:
        await release.wait()
        published.extend(results)

    async def to_dlq(rec: ConsumerRecord[bytes, bytes], error: EnvelopeError) -> None:
        raise AssertionError("nothing here is dead-lettered")

    sync = SyncConsumer(
        Pipeline(),  # type: ignore[arg-type]
        processed,
        publish_all,
        to_dlq,
        overlap=True,
    )
    first = record(0, "inv_a")
    # The same event again (a producer's retry), in the next batch, while the first's result
    # is on its way out and not yet marked processed.
    again = dataclasses.replace(first, offset=1)
    commits = Commits()
    messages = [Message((first,)), Message((again,))]
    for message in messages:
        message.consumer = commits
    await sync.consume(messages[0])
    second = asyncio.create_task(sync.consume(messages[1]))
    await asyncio.sleep(0.01)  # handled while the first batch's result waits on Kafka
    release.set()
    await second
    await sync.close()

    assert published == ["result:inv_a"]
    assert processed.marked == [first_id(first)]
    assert [sorted(o.values()) for o in commits.offsets] == [[1], [2]]
