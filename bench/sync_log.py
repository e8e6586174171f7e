"""Sync-log benchmark: sustained recording rate of result events, and query latency with a
large log stored.

    uv run python -m bench.sync_log --events 100000 --queries 40

Produces ``--events`` result events first, then starts the sync-log service (a separate
process, as deployed) and measures how fast it records them, from the first stored entry to
the last. Then times ``GET /v1/sync-log`` with typical operator filters over the full log.
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.common import free_port, percentile, service_process, write_result
from local_infra.endpoints import kafka_endpoint, mongodb_endpoint
from service_kit.events import Topics, ensure_topics
from sync_schemas import (
    ErrorCode,
    EventType,
    InvoiceSyncFailed,
    InvoiceSyncSucceeded,
    SyncOutcome,
    encode,
    new_event,
)

ORGS = 50
CODES = [ErrorCode.TAX_RATE_UNMAPPED, ErrorCode.CONTACT_MISSING, ErrorCode.CURRENCY_NOT_ENABLED]


def result_event(i: int, start: datetime) -> Any:
    org, invoice_no = f"org_{i % ORGS:03d}", i // 5  # five results per invoice
    ids = {
        "org_id": org,
        "invoice_id": f"inv_{invoice_no:07d}",
        "invoice_number": f"INV-{invoice_no:07d}",
        "version": 1 + i % 5,
        "attempt": 1,
        "cause_event_id": f"c{i}",
    }
    at = start + timedelta(milliseconds=i)
    if i % 4:
        data: Any = InvoiceSyncSucceeded(
            **ids, xero_invoice_id=str(uuid.uuid4()), outcome=SyncOutcome.CREATED, duration_ms=40
        )
        return new_event(EventType.INVOICE_SYNC_SUCCEEDED, data, source="/bench", time=at)
    code = CODES[i % 3]
    data = InvoiceSyncFailed(
        **ids,
        error_code=code,
        message="bench failure",
        retryable=False,
        remediation=code.remediation(org),
    )
    return new_event(EventType.INVOICE_SYNC_FAILED, data, source="/bench", time=at)


async def produce(bootstrap: str, topic: str, count: int) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    start = datetime.now(UTC) - timedelta(days=1)
    began = time.perf_counter()
    try:
        pending = []
        for i in range(count):
            record = encode(result_event(i, start))
            pending.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count / (time.perf_counter() - began)


async def wait_recorded(uri: str, database: str, count: int) -> tuple[float, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    entries = client[database]["entries"]
    first = last = None
    try:
        while True:
            n = await entries.estimated_document_count()
            now = time.perf_counter()
            if n and first is None:
                first = (now, n)
            if n >= count:
                last = now
                break
            await asyncio.sleep(0.25)
    finally:
        await client.close()
    assert first is not None and last is not None
    elapsed = last - first[0]
    return (count - first[1]) / elapsed if elapsed > 0 else float("inf"), elapsed


async def query_latency(url: str, key: str, queries: int) -> dict[str, float]:
    filters = [
        {},
        {"org_id": "org_007"},
        {"status": "failed"},
        {"org_id": "org_011", "status": "failed", "error_code": "contact_missing"},
        {"invoice_number": "INV-0001234"},
    ]
    timings: list[float] = []
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        for i in range(queries):
            began = time.perf_counter()
            response = await client.get(
                "/v1/sync-log", params={**filters[i % len(filters)], "limit": 50}
            )
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    return {
        "p50_ms": percentile(timings, 50),
        "p95_ms": percentile(timings, 95),
        "max_ms": max(timings),
    }


async def run(kafka: str, mongo: str, events: int, queries: int) -> dict[str, Any]:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    names = Topics.with_prefix(prefix)
    await ensure_topics([kafka], names.all(), partitions=12)
    produce_rate = await produce(kafka, names.sync_results, events)
    port = free_port()
    env = {
        "SYNC_LOG_PORT": str(port),
        "SYNC_LOG_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "SYNC_LOG_MONGODB_URI": mongo,
        "SYNC_LOG_MONGODB_DATABASE": prefix,
        "SYNC_LOG_API_KEYS": "bench",
        "SYNC_LOG_TOPIC_PREFIX": prefix,
        "SYNC_LOG_CONSUMER_GROUP": prefix,
        "SYNC_LOG_LOG_LEVEL": "WARNING",
    }
    with service_process("sync_log.main", env, port):
        rate, elapsed = await wait_recorded(mongo, prefix, events)
        latency = await query_latency(f"http://127.0.0.1:{port}", "bench", queries)
    return {
        "events": events,
        "produce_events_per_s": round(produce_rate),
        "sync_log_insert_events_per_s": round(rate),
        "record_seconds": round(elapsed, 1),
        "entries_stored": events,
        "query_p50_ms": round(latency["p50_ms"], 1),
        "query_p95_ms": round(latency["p95_ms"], 1),
        "query_max_ms": round(latency["max_ms"], 1),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        kafka_endpoint(Path(tmp)) as kafka,
        mongodb_endpoint(Path(tmp)) as mongo,
    ):
        result = asyncio.run(run(kafka, mongo, args.events, args.queries))
    print(result)
    print(f"wrote {write_result('sync_log', result)}")


if __name__ == "__main__":
    main()
