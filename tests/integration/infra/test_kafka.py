"""A CloudEvent published through the real broker comes back decoded, in key order."""

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sync_schemas import EventType, decode, encode, new_event
from tests.conftest import TopicFactory
from tests.support.samples import invoice, sample_data


async def consume(bootstrap: str, topic: str, group: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for partition_records in batch.values():
                    records.extend(partition_records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return records


async def test_cloud_event_round_trips_through_kafka(
    kafka_bootstrap: str, kafka_topic: TopicFactory, unique: str
) -> None:
    topic = await kafka_topic("invoices.events", partitions=3)
    event = new_event(
        EventType.INVOICE_SYNC_REQUESTED, sample_data(EventType.INVOICE_SYNC_REQUESTED), source="/t"
    )
    record = encode(event)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()

    [received] = await consume(kafka_bootstrap, topic, f"{unique}.g", 1)

    assert received.key == b"org_acme"
    assert decode(received.value, received.headers) == event


async def test_one_organisations_events_stay_in_order(
    kafka_bootstrap: str, kafka_topic: TopicFactory, unique: str
) -> None:
    topic = await kafka_topic("invoices.events", partitions=6)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for version in range(1, 21):
            org = "org_a" if version % 2 else "org_b"
            record = encode(
                new_event(
                    EventType.INVOICE_UPDATED, invoice(org_id=org, version=version), source="/t"
                )
            )
            await producer.send(topic, record.value, key=record.key, headers=record.headers)
        await producer.flush()
    finally:
        await producer.stop()

    records = await consume(kafka_bootstrap, topic, f"{unique}.g", 20)

    by_org: dict[str, list[tuple[int, int]]] = {}
    for rec in records:
        data = decode(rec.value, rec.headers).data
        by_org.setdefault(data.org_id, []).append((rec.partition, data.version))
    for org, seen in by_org.items():
        assert len({p for p, _ in seen}) == 1, f"{org} spread over partitions"
        versions = [v for _, v in seen]
        assert versions == sorted(versions)
    assert sorted(by_org) == ["org_a", "org_b"]
