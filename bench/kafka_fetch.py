"""How long a consumer's poll waits between batches when one partition of many holds the
backlog (one organisation's bulk), for Kafka's default fetch wait and for the services' own.

    .venv/bin/python -m bench.kafka_fetch [--records 10000] [--work-ms 350]

aiokafka sends one fetch at a time to a broker, for every assigned partition with no records
waiting. With 12 partitions and records on one, the fetch in flight when a batch empties that
partition is usually a long poll on the 11 idle ones, which the broker holds up to
``fetch_max_wait_ms``; the busy partition is fetched again only when it comes back. Each run
produces ``--records`` records of ``--bytes`` to one partition, then polls them in batches of
1,000 (``getmany``, 200 ms timeout, as the services' subscribers do), spending ``--work-ms``
per 1,000 records between polls. It reports every poll's wait and their total.
"""

import argparse
import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import machine, standalone
from service_kit.consumer import FETCH_MAX_WAIT_MS

KAFKA_DEFAULT_WAIT_MS = 500
PARTITIONS = 12


async def create_topic(bootstrap: str, topic: str) -> None:
    """``topic`` with ``PARTITIONS`` partitions, as the services' topics have by default."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


def polling_consumer(bootstrap: str, topic: str, group: str, wait_ms: int) -> AIOKafkaConsumer:
    """A consumer of ``topic`` from its start, committing by hand, as a subscriber is."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=wait_ms,
    )


async def _produce(bootstrap: str, topic: str, records: int, size: int) -> None:
    await create_topic(bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        body = b"x" * size
        for _ in range(records):
            await producer.send(topic, body, partition=PARTITIONS // 2)
        await producer.flush()
    finally:
        await producer.stop()


async def _polls(bootstrap: str, topic: str, wait_ms: int, records: int, work_ms: float) -> Any:
    consumer = polling_consumer(bootstrap, topic, f"{topic}-{wait_ms}", wait_ms)
    await consumer.start()
    try:
        polls: list[tuple[float, int]] = []
        got = 0
        started = time.perf_counter()
        while got < records:
            asked = time.perf_counter()
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            count = sum(len(part) for part in batch.values())
            polls.append((time.perf_counter() - asked, count))
            got += count
            if count:
                await asyncio.sleep(work_ms / 1000 * count / 1000)  # the batch's work
                await consumer.commit()
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    later = polls[1:]  # the first poll includes joining the group
    return {
        "fetch_max_wait_ms": wait_ms,
        "seconds": round(seconds, 2),
        "polls": len(polls),
        "empty_polls": sum(1 for _, n in later if n == 0),
        "waited_seconds": round(sum(w for w, _ in later), 3),
        "longest_wait_ms": round(max((w for w, _ in later), default=0) * 1000, 1),
    }


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for wait_ms in (KAFKA_DEFAULT_WAIT_MS, FETCH_MAX_WAIT_MS):
        topic = f"bench-fetch-{uuid.uuid4().hex[:8]}"
        asyncio.run(_produce(kafka, topic, args.records, args.bytes))
        runs.append(asyncio.run(_polls(kafka, topic, wait_ms, args.records, args.work_ms)))
    return {
        "records": args.records,
        "record_bytes": args.bytes,
        "work_ms_per_1000": args.work_ms,
        "partitions": PARTITIONS,
        "runs": runs,
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--bytes", type=int, default=1_600, help="bytes per record")
    parser.add_argument("--work-ms", type=float, default=350.0, help="work per 1,000 records")


if __name__ == "__main__":
    standalone("kafka_fetch", __doc__ or "", add_arguments, measure)
