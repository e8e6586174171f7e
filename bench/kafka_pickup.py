"""How long a record waits in Kafka before a busy consumer's poll hands it over, with
aiokafka's prefetch backoff (100 ms) and the services' own (``PREFETCH_BACKOFF_S``).

    .venv/bin/python -m bench.kafka_pickup [--rate 200] [--seconds 15] [--work-ms 40]

A producer sends ``--rate`` records a second, in 20 bursts, keyed over 12 partitions, as the
ingest API does. A consumer polls as the services' subscribers do (``getmany``, 200 ms
timeout, 500 records, the services' fetch wait) and spends ``--work-ms`` on each batch plus
``--work-per-record-ms`` per record, standing for the batch's store and Xero round trips.
Each record's pickup is the time from its produce timestamp to the poll that returned it.
While the consumer works, aiokafka fetches again from a broker only once the records it
fetched from there are older than the backoff, so with 100 ms a record that arrives during
a short batch is fetched only after the next poll, for the poll after that.
"""

import argparse
import asyncio
import random
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import machine, percentile, standalone
from bench.kafka_fetch import PARTITIONS, create_topic, polling_consumer
from service_kit.consumer import FETCH_MAX_WAIT_MS, PREFETCH_BACKOFF_S, set_prefetch_backoff

AIOKAFKA_DEFAULT_BACKOFF_S = 0.1


def _bursts(args: argparse.Namespace) -> tuple[int, int]:
    """How many bursts, 20 a second, and how many records in each."""
    return int(args.seconds * 20), max(1, round(args.rate / 20))


async def _produce(bootstrap: str, topic: str, args: argparse.Namespace) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        began = time.monotonic()
        bursts, per_burst = _bursts(args)
        for burst in range(bursts):
            await asyncio.sleep(max(0.0, began + burst / 20 - time.monotonic()))
            for _ in range(per_burst):
                key = f"org_{random.randrange(50)}".encode()
                await producer.send(topic, b"x" * 1_600, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(
    bootstrap: str, topic: str, args: argparse.Namespace, ready: asyncio.Event
) -> list[float]:
    consumer = polling_consumer(bootstrap, topic, f"{topic}-group", FETCH_MAX_WAIT_MS)
    await consumer.start()
    pickups: list[float] = []
    bursts, per_burst = _bursts(args)
    expected = bursts * per_burst
    try:
        while len(consumer.assignment()) < PARTITIONS:  # joined the group: records may come
            await consumer.getmany(timeout_ms=100)
        ready.set()
        while len(pickups) < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            now_ms = time.time() * 1000
            records = [r for part in batch.values() for r in part]
            pickups += [now_ms - r.timestamp for r in records]
            if records:
                work = args.work_ms + args.work_per_record_ms * len(records)
                await asyncio.sleep(work / 1000)
                await consumer.commit()
    finally:
        await consumer.stop()
    return pickups


async def _run(bootstrap: str, backoff: float, args: argparse.Namespace) -> dict[str, Any]:
    topic = f"bench-pickup-{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic)
    kept = set_prefetch_backoff(backoff)
    try:
        ready = asyncio.Event()
        consuming = asyncio.create_task(_consume(bootstrap, topic, args, ready))
        await asyncio.wait_for(ready.wait(), 60)
        await _produce(bootstrap, topic, args)
        pickups = await asyncio.wait_for(consuming, 60)
    finally:
        set_prefetch_backoff(kept)
    return {
        "prefetch_backoff_ms": round(backoff * 1000),
        "records": len(pickups),
        "pickup_p50_ms": round(percentile(pickups, 50), 1),
        "pickup_p99_ms": round(percentile(pickups, 99), 1),
    }


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    runs = [
        asyncio.run(_run(kafka, backoff, args))
        for _ in range(args.rounds)
        for backoff in (AIOKAFKA_DEFAULT_BACKOFF_S, PREFETCH_BACKOFF_S)
    ]
    return {
        "rate_per_s": args.rate,
        "work_ms_per_batch": args.work_ms,
        "work_ms_per_record": args.work_per_record_ms,
        "partitions": PARTITIONS,
        "runs": runs,
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="records a second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--work-ms", type=float, default=40.0, help="work per batch")
    parser.add_argument("--work-per-record-ms", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each backoff, in turn")


if __name__ == "__main__":
    standalone("kafka_pickup", __doc__ or "", add_arguments, measure)
