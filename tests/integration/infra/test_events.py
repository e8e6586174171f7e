"""The shared Kafka plumbing against the real broker: CloudEvents published through
FastStream keep their binary-mode headers; bad records reach the DLQ with the reason."""

import asyncio
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from service_kit.consumer import PREFETCH_BACKOFF_S, listen
from service_kit.events import (
    PublishFailed,
    Topics,
    dead_letter,
    ensure_topics,
    event_broker,
    publish_event,
    publish_events,
)
from sync_schemas import CloudEvent, EnvelopeError, EventType, decode, new_event, topics
from tests.support.samples import sample_data


async def read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def prefixed_topics(bootstrap: str, unique: str) -> Topics:
    """The contract's topics behind this test's prefix, created on the broker."""
    names = Topics.with_prefix(unique)
    await ensure_topics([bootstrap], names.all(), partitions=3)
    return names


def sample_event(event_type: EventType) -> CloudEvent[Any]:
    return new_event(event_type, sample_data(event_type), source="/x")


async def test_published_event_keeps_binary_mode_headers_and_decodes_back(
    kafka_bootstrap: str, unique: str
) -> None:
    names = await prefixed_topics(kafka_bootstrap, unique)
    event = sample_event(EventType.INVOICE_SYNC_FAILED)
    broker = event_broker([kafka_bootstrap], client_id=unique)
    await broker.start()
    try:
        await publish_event(broker, event, names)
    finally:
        await broker.stop()

    [received] = await read_all(kafka_bootstrap, names.sync_results, 1)
    headers = dict(received.headers)
    assert headers["content-type"] == b"application/json"
    assert headers["ce_type"] == b"invoice.sync_failed.v1"
    assert received.key == b"org_acme"
    assert decode(received.value, received.headers) == event


def numbered_failure(number: int, message: str = "no contact") -> CloudEvent[Any]:
    data = sample_data(EventType.INVOICE_SYNC_FAILED).model_copy(
        update={"invoice_number": f"INV-{number}", "message": message}
    )
    return new_event(EventType.INVOICE_SYNC_FAILED, data, source="/x", subject="org_acme")


async def test_published_events_all_reach_their_topics_in_order_once_acknowledged(
    kafka_bootstrap: str, unique: str
) -> None:
    names = await prefixed_topics(kafka_bootstrap, unique)
    results = [numbered_failure(n) for n in range(300)]
    invoice = sample_event(EventType.INVOICE_CREATED)
    broker = event_broker([kafka_bootstrap], client_id=unique)
    await broker.start()
    try:
        await publish_events(broker, [*results[:150], invoice, *results[150:]], names)
    finally:
        await broker.stop()

    received = await read_all(kafka_bootstrap, names.sync_results, 300)
    assert [decode(r.value, r.headers) for r in received] == results  # one key: one order
    [other] = await read_all(kafka_bootstrap, names.invoice_events, 1)
    assert decode(other.value, other.headers) == invoice


async def test_an_event_kafka_refuses_fails_the_publish_after_the_others_went_out(
    kafka_bootstrap: str, unique: str
) -> None:
    names = await prefixed_topics(kafka_bootstrap, unique)
    sent = [numbered_failure(1), numbered_failure(2)]
    too_large = numbered_failure(3, message="x" * 4_000)
    broker = event_broker([kafka_bootstrap], client_id=unique, max_request_size=3_000)
    await broker.start()
    try:
        with pytest.raises(PublishFailed):
            await publish_events(broker, [*sent, too_large], names)
    finally:
        await broker.stop()

    received = await read_all(kafka_bootstrap, names.sync_results, 2)
    assert [decode(r.value, r.headers) for r in received] == sent


async def test_subscribers_consume_through_a_fetcher_that_holds_back_10_ms_not_100(
    kafka_bootstrap: str, unique: str
) -> None:
    names = await prefixed_topics(kafka_bootstrap, unique)
    event = sample_event(EventType.INVOICE_CREATED)
    broker = event_broker([kafka_bootstrap], client_id=unique)
    received: list[Any] = []
    arrived = asyncio.Event()

    async def consume(message: Any) -> None:
        received.extend(message.raw_message)
        arrived.set()

    listen(broker, consume, names.invoice_events, group_id=unique)
    await broker.start()
    try:
        await publish_event(broker, event, names)
        await asyncio.wait_for(arrived.wait(), 30)
        [subscriber] = broker.subscribers
        fetcher = cast(Any, subscriber).consumer._fetcher  # aiokafka's, started by FastStream
        assert fetcher._prefetch_backoff == PREFETCH_BACKOFF_S < 0.1
    finally:
        await broker.stop()
    assert [decode(r.value, r.headers) for r in received] == [event]


def test_topic_names_keep_the_contracts_without_a_prefix() -> None:
    assert Topics().all() == list(topics.ALL_TOPICS)
    assert Topics.with_prefix("t1").for_type(EventType.INVOICE_SYNC_SUCCEEDED) == (
        "t1.invoices.sync-results"
    )


async def test_undecodable_record_is_dead_lettered_with_reason_and_original_bytes(
    kafka_bootstrap: str, unique: str
) -> None:
    names = await prefixed_topics(kafka_bootstrap, unique)
    source, dlq = names.invoice_events, names.dlq
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            source,
            b"\x00not json",
            key=b"org_x",
            headers=[
                ("ce_type", b"invoice.created.v1"),
                ("ce_id", b"e1"),
                ("ce_source", b"/x"),
                ("ce_specversion", b"1.0"),
            ],
        )
    finally:
        await producer.stop()
    [bad] = await read_all(kafka_bootstrap, source, 1)

    broker = event_broker([kafka_bootstrap], client_id=unique)
    await broker.start()
    try:
        try:
            decode(bad.value, bad.headers)
            raise AssertionError("garbage decoded")
        except EnvelopeError as error:
            await dead_letter(broker, bad, error, names)
    finally:
        await broker.stop()

    [letter] = await read_all(kafka_bootstrap, dlq, 1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == b"\x00not json"
    assert letter.key == b"org_x"
    assert headers["dlq_reason"] == "malformed_payload"
    assert "not UTF-8 JSON" in headers["dlq_error"]
    assert headers["dlq_source_topic"] == source
    assert (headers["dlq_partition"], headers["dlq_offset"]) == (str(bad.partition), "0")
    assert headers["ce_id"] == "e1"


async def test_ensure_topics_creates_missing_ones_and_is_idempotent(
    kafka_bootstrap: str, unique: str
) -> None:
    names = [f"{unique}.a", f"{unique}.b"]
    await ensure_topics([kafka_bootstrap], names, partitions=4)
    await ensure_topics([kafka_bootstrap], names, partitions=4)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        await admin.delete_topics(names)
    finally:
        await admin.close()
    assert sorted(len(t["partitions"]) for t in described) == [4, 4]


async def test_topics_with_different_partition_counts_refuse_the_start(
    kafka_bootstrap: str, unique: str
) -> None:
    from aiokafka.admin import NewTopic

    from service_kit.events import TopicsNotColocated

    names = Topics.with_prefix(unique)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # created by hand (or by another tool) with another count than the rest
        await admin.create_topics([NewTopic(names.sync_results, 5, 1)])
    finally:
        await admin.close()
    with pytest.raises(TopicsNotColocated, match=rf"{names.sync_results}: 5"):
        await ensure_topics([kafka_bootstrap], names.all(), partitions=3)
    await ensure_topics([kafka_bootstrap], [names.invoice_events, names.dlq], partitions=3)
