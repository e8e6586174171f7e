"""Helpers of the invoice-events integration tests: read a topic back, check a group's commits
(tests/support/serve.py serves the real sync-log service)."""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from invoice_events.config import Settings
from service_kit.events import Topics
from sync_schemas import CloudEvent, EnvelopeError, decode, encode
from tests.support.kafka import committed_offsets

T = TypeVar("T")


@dataclass
class Running:
    http: httpx.AsyncClient
    settings: Settings
    names: Topics
    bootstrap: str


ServiceFactory = Callable[..., AbstractAsyncContextManager[Running]]


async def produce(bootstrap: str, topic: str, event: CloudEvent[Any]) -> None:
    """Publish as the upstream system would: straight to Kafka, no invoice-events involved."""
    record = encode(event)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, topic: str, value: bytes, headers: list[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"org_x", headers=headers)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` right now (up to the end offsets), in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(20):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def read_events(bootstrap: str, topic: str) -> list[CloudEvent[Any]]:
    """The decodable records of ``topic`` as events (garbage a test put there is skipped)."""
    events = []
    for record in await read_topic(bootstrap, topic):
        with suppress(EnvelopeError):
            events.append(decode(record.value, record.headers))
    return events


async def committed(bootstrap: str, group: str, topic: str, count: int) -> bool:
    """True once ``group`` has committed at least ``count`` records of ``topic``."""
    offsets = await committed_offsets(bootstrap, group)
    return sum(offset for tp, offset in offsets.items() if tp.topic == topic) >= count
