"""A batch's finish overlapping the next batch, on the real broker: what is committed is the
finished batch's own offsets, never the consumer's position, so a consumer that dies with a
batch handled but not finished leaves that batch to be read again; a finish that fails is
read again, from its first offset, with the batch handled meanwhile."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service_kit.consumer import Consumer, Finish, Received, listen
from service_kit.errors import RetryLater
from service_kit.events import RawRecord, decode_record, event_broker
from sync_schemas import CloudEvent, EnvelopeError, EventType, encode, new_event
from tests.conftest import TopicFactory
from tests.support.kafka import committed_offsets
from tests.support.samples import invoice


async def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(count):
            event = new_event(
                EventType.INVOICE_CREATED, invoice(invoice_id=f"inv_{n}"), source="/t"
            )
            rec = encode(event)
            await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    return (await committed_offsets(bootstrap, group)).get(TopicPartition(topic, 0))


Handle = Callable[[list[Received[CloudEvent[Any]]]], Any]


@asynccontextmanager
async def consuming(
    bootstrap: str, topic: str, group: str, handle: Handle, after_ack: Callable[[Any, Any], None]
) -> AsyncIterator[Consumer[CloudEvent[Any]]]:
    """An overlapping consumer of ``topic`` in batches of at most 2, until the block ends
    (the broker then stops as it would on a crash: no ``close()``)."""

    async def dead_letter(rec: RawRecord, error: EnvelopeError) -> None:
        raise AssertionError(f"nothing here is dead-lettered: {error}")

    consumer = Consumer(
        handle, dead_letter, decode=decode_record, after_ack=after_ack, overlap=True
    )
    broker = event_broker([bootstrap], client_id=group)
    listen(broker, consumer.consume, topic, group_id=group, max_records=2)
    await broker.start()
    try:
        yield consumer
    finally:
        await broker.stop()


async def first_offset_read(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    return int(records[0].offset)
    finally:
        await consumer.stop()


async def test_a_finish_commits_its_own_batch_and_a_batch_not_finished_is_read_again(
    kafka_bootstrap: str, kafka_topic: TopicFactory, unique: str
) -> None:
    topic = await kafka_topic("invoices.events", partitions=1)
    await produce(kafka_bootstrap, topic, 6)

    batches: list[list[int]] = []
    second_handled = asyncio.Event()
    release_first = asyncio.Event()
    first_committed = asyncio.Event()
    never = asyncio.Event()

    async def handle(received: list[Received[CloudEvent[Any]]]) -> Finish:
        batches.append([rec.offset for rec, _ in received])
        number = len(batches)
        if number == 2:
            second_handled.set()

        async def finish() -> None:
            # The first batch's results wait for the test; the second's never go out.
            await (release_first if number == 1 else never).wait()

        return finish

    def after_ack(message: Any, records: Any) -> None:
        first_committed.set()

    async with consuming(kafka_bootstrap, topic, unique, handle, after_ack):
        async with asyncio.timeout(30):
            await second_handled.wait()
        # The second batch was handled while the first's finish had not ended.
        assert await committed(kafka_bootstrap, unique, topic) is None
        release_first.set()
        async with asyncio.timeout(30):
            await first_committed.wait()
        end_of_first = batches[0][-1] + 1
        # The consumer's position is past the second batch; the commit is the first's.
        assert batches[1][0] == end_of_first
        assert await committed(kafka_bootstrap, unique, topic) == end_of_first
    # Stopped with the second batch handled, its finish never done.
    assert await committed(kafka_bootstrap, unique, topic) == end_of_first
    assert await first_offset_read(kafka_bootstrap, unique, topic) == batches[1][0]


async def test_a_finish_that_fails_is_read_again_with_the_batch_handled_meanwhile(
    kafka_bootstrap: str, kafka_topic: TopicFactory, unique: str
) -> None:
    topic = await kafka_topic("invoices.events", partitions=1)
    await produce(kafka_bootstrap, topic, 6)
    batches: list[list[int]] = []
    finished: set[int] = set()
    second_handled = asyncio.Event()
    all_committed = asyncio.Event()

    async def handle(received: list[Received[CloudEvent[Any]]]) -> Finish:
        offsets = [rec.offset for rec, _ in received]
        batches.append(offsets)
        number = len(batches)
        if number == 2:
            second_handled.set()

        async def finish() -> None:
            if number == 1:  # fails once the second batch has been fetched and handled
                await second_handled.wait()
                raise RetryLater("kafka went away")
            finished.update(offsets)

        return finish

    def after_ack(message: Any, records: Any) -> None:
        if max(r.offset for r in records) == 5:
            all_committed.set()

    async with consuming(kafka_bootstrap, topic, unique, handle, after_ack) as consumer:
        async with asyncio.timeout(30):
            await all_committed.wait()
        await consumer.close()
    # The batch after the failed one was read again from the failed one's first offset:
    # every record finished before the last commit, none skipped.
    assert batches[2][0] == batches[0][0] == 0
    assert finished == set(range(6))
    assert await committed(kafka_bootstrap, unique, topic) == 6
