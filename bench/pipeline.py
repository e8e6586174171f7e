"""Pipeline throughput, latency and memory (measurements 3 and 4 of issue 9).

    .venv/bin/python -m bench.pipeline --invoices 4000 --orgs 6 --instances 3 \\
        --rate 1000 --steady-seconds 20

Every service runs as its own process, as deployed (the sandbox unthrottled): invoices go in
by HTTP (``POST /v1/invoices/batch``) and count once the sync log stores them as synced
(its ``invoices`` document's ``written_at``). Throughput is measured with 1 and with
``--instances`` connector instances; end-to-end latency at a steady ``--rate`` (1,000 a
second, issue 18's goal) or, when that is above half the pipeline's measured ceiling, at half
the ceiling (the issue's definition of a steady load); the result says which.
Beside them, in the same run: the raw ceilings of the parts, Kafka produce+consume of the same
messages with aiokafka, and bulk inserts into the MongoDB-wire server. Peak RSS of each
service process is polled (psutil) throughout.
"""

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from bench.capacity import pipeline_needs
from bench.common import (
    free_port,
    gc_pauses,
    gc_work,
    machine,
    percentile,
    service_process,
    standalone,
    store_counts,
    store_work,
)
from bench.harness import (
    CONNECTOR_NO_LIMITS,
    KEY,
    NO_LIMITS,
    Connected,
    RssPoller,
    connector_process,
    cpu_seconds,
    cpu_share,
    cpu_spent,
    sandbox_process,
    stolen_between,
    stolen_seconds,
)
from service_kit.events import ensure_topics
from service_kit.mongo import BULK_CHUNK, bulk_write_chunked, find_by_ids
from sync_schemas import Invoice, encode
from tests.integration.xero_connector.pipeline_support import created, setup_org
from tests.integration.xero_connector.pipeline_support import invoice as sample_invoice
from tests.integration.xero_connector.support import Sandbox

PROBE = 200  # invoices read per poll while waiting for the sync log


def invoice(org: str, n: int) -> dict[str, Any]:
    """An invoice as ``POST /v1/invoices/batch`` takes it, one of 50 customers."""
    customer = {"id": f"cus_{n % 50:03d}", "name": f"Customer {n % 50}"}
    return sample_invoice(org, n, customer=customer).model_dump(mode="json", exclude_none=True)


@dataclass
class Stack:
    kafka: str
    mongo: str
    prefix: str
    ingest_url: str
    connector_urls: list[str]
    sandbox_url: str
    log_url: str
    pids: dict[str, list[int]] = field(default_factory=dict)


@contextmanager
def stack(kafka: str, mongo: str, instances: int) -> Iterator[Stack]:
    """Sandbox, invoice-events, ``instances`` connectors and sync-log, each a process."""
    prefix = f"bench_pipe_{uuid.uuid4().hex[:8]}"
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URI": mongo,
        "API_KEYS": KEY,
        "TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }
    with ExitStack() as stack_:
        sandbox = stack_.enter_context(sandbox_process(NO_LIMITS))
        pids: dict[str, list[int]] = {"xero-sandbox": [sandbox.proc.pid]}

        log_port = free_port()
        env = {f"SYNC_LOG_{k}": v for k, v in common.items()}
        env |= {
            "SYNC_LOG_PORT": str(log_port),
            "SYNC_LOG_MONGODB_DATABASE": f"{prefix}_log",
            "SYNC_LOG_CONSUMER_GROUP": f"{prefix}_log",
        }
        recorder = stack_.enter_context(service_process("sync_log.main", env, log_port))
        pids["sync-log"] = [recorder.pid]

        connectors = [
            stack_.enter_context(
                connector_process(kafka, mongo, prefix, sandbox.url, **CONNECTOR_NO_LIMITS)
            )
            for _ in range(instances)
        ]
        pids["xero-connector"] = [c.proc.pid for c in connectors]

        in_port = free_port()
        env = {f"INVOICE_EVENTS_{k}": v for k, v in common.items()}
        env |= {
            "INVOICE_EVENTS_PORT": str(in_port),
            "INVOICE_EVENTS_MONGODB_DATABASE": f"{prefix}_ie",
            "INVOICE_EVENTS_CONSUMER_GROUP": f"{prefix}_ie",
            "INVOICE_EVENTS_SYNC_LOG_URL": f"http://127.0.0.1:{log_port}",
            "INVOICE_EVENTS_SYNC_LOG_API_KEY": KEY,
        }
        ingest = stack_.enter_context(service_process("invoice_events.main", env, in_port))
        pids["invoice-events"] = [ingest.pid]
        yield Stack(
            kafka,
            mongo,
            prefix,
            f"http://127.0.0.1:{in_port}",
            [c.url for c in connectors],
            sandbox.url,
            f"http://127.0.0.1:{log_port}",
            pids,
        )


async def connect_orgs(s: Stack, orgs: list[str]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        httpx.AsyncClient(base_url=s.sandbox_url, timeout=30) as sandbox_http,
        httpx.AsyncClient(base_url=s.connector_urls[0], headers=headers, timeout=30) as http,
    ):
        for org in orgs:
            await setup_org(
                Connected(http),  # type: ignore[arg-type]
                Sandbox(sandbox_http),
                org,
                settings={"auto_create_contacts": True},
                contacts=[],
            )


# Idle connections are dropped by the client before uvicorn drops them (its keep-alive timeout
# is 5 s, httpx's pool expiry too): a request sent on a connection the server is closing
# fails with ReadError, which ended one steady run here.
KEEPALIVE_EXPIRY_S = 2.0


def ingest_client(s: Stack, headers: dict[str, str]) -> httpx.AsyncClient:
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S)
    return httpx.AsyncClient(base_url=s.ingest_url, headers=headers, timeout=120, limits=limits)


async def post_batches(
    http: httpx.AsyncClient, batches: list[list[dict[str, Any]]], sent: dict[str, float]
) -> None:
    for batch in batches:
        at = time.time()
        response = await http.post("/v1/invoices/batch", json={"invoices": batch})
        response.raise_for_status()
        assert response.json()["accepted"] == len(batch), response.text
        for item in batch:
            sent[f"{item['org_id']}/{item['invoice_id']}"] = at


async def stored(s: Stack, keys: set[str], within: float) -> dict[str, float]:
    """Wait until every invoice of ``keys`` is synced in the sync log; when each was stored
    (its ``written_at``, which stays once synced). Measuring must cost the server little: each
    second reads a sample of the invoices not yet seen synced, by ``_id``, and all of them
    only once the whole sample is."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(s.mongo, tz_aware=True)
    invoices = client[f"{s.prefix}_log"]["invoices"]
    deadline = time.monotonic() + within
    pending = set(keys)
    done: dict[str, float] = {}
    try:
        while pending:
            probe = random.sample(sorted(pending), min(PROBE, len(pending)))
            synced = await synced_at(invoices, probe)
            if len(synced) == len(probe) < len(pending):
                synced = await synced_at(invoices, pending)
            done |= synced
            pending -= synced.keys()
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {len(keys)} stored")
            if pending:
                await asyncio.sleep(1.0)
        return done
    finally:
        await client.close()


async def synced_at(
    invoices: AsyncCollection[dict[str, Any]], keys: Iterable[str]
) -> dict[str, float]:
    docs = await find_by_ids(invoices, sorted(keys))
    return {k: written_at(d).timestamp() for k, d in docs.items() if d["status"] == "synced"}


def written_at(doc: dict[str, Any]) -> datetime:
    """When sync-log wrote ``doc``: ``written_at``, or ``updated_at`` in a document written
    before the field was renamed (issue 16)."""
    value: datetime = doc["written_at"] if "written_at" in doc else doc["updated_at"]
    return value


def batches_of(orgs: list[str], first: int, count: int, size: int) -> list[list[dict[str, Any]]]:
    """``count`` new invoices, round-robin over the organisations, in requests of ``size``."""
    items = [invoice(orgs[n % len(orgs)], first + n) for n in range(count)]
    by_org: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_org.setdefault(item["org_id"], []).append(item)
    out: list[list[dict[str, Any]]] = []
    for org_items in by_org.values():
        out.extend(org_items[i : i + size] for i in range(0, len(org_items), size))
    return out


async def throughput(s: Stack, orgs: list[str], count: int) -> dict[str, Any]:
    batches = batches_of(orgs, 1, count, 100)
    sent: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    services = {
        "invoice-events": [s.ingest_url],
        "xero-connector": s.connector_urls,
        "sync-log": [s.log_url],
    }
    counts_before, gc_before = store_counts(services), gc_pauses(services)
    async with ingest_client(s, headers) as http:
        cpu_before, stolen = cpu_seconds(), stolen_seconds()
        began = time.time()
        await asyncio.gather(*(post_batches(http, batches[i::4], sent) for i in range(4)))
        ingested = time.time()
    done = await stored(s, set(sent), within=900)
    elapsed = max(done.values()) - began
    cpu = cpu_share(cpu_before, cpu_seconds(), time.time() - began)
    # Settled work only: what the services still do after the last invoice is synced
    # (published marks, sweeps) belongs to the run too, so give it a moment.
    await asyncio.sleep(2)
    # What the invoices cost each process, over the same window as the store work: their
    # settled work included, and so is what the harness's waiting reads of the sync log
    # (a sample by _id each second) cost FerretDB.
    cpu_spent_on_run = cpu_spent(cpu_before, cpu_seconds())
    store = store_work(counts_before, store_counts(services), count)
    gc = gc_work(gc_before, gc_pauses(services))
    return {
        "invoices": count,
        "orgs": len(orgs),
        "ingest_invoices_per_s": round(count / (ingested - began), 1),
        "seconds": round(elapsed, 2),
        "pipeline_invoices_per_s": round(count / elapsed, 1),
        # cores each process used on average (2 on this machine): who is busy, who waits
        "cpu_cores_used": cpu,
        # the CPU seconds the invoices cost each process, settled work included
        # (bench.capacity)
        "cpu_seconds": cpu_spent_on_run,
        "stolen_cpu_seconds": stolen_between(stolen),
        "store": store,
        # each service's garbage collections in the run, and the time they stood still
        "gc": gc,
    }


async def steady(s: Stack, orgs: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """Invoices at ``rate`` a second for ``seconds``, 20 requests a second; latencies."""
    ticks = int(seconds * 20)
    per_tick = max(1, round(rate / 20))
    batches = batches_of(orgs, 5_000_000, ticks * per_tick, per_tick)
    sent: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    stolen = stolen_seconds()
    async with ingest_client(s, headers) as http:
        began = time.monotonic()
        tasks = []
        for i, batch in enumerate(sorted(batches, key=lambda b: b[0]["invoice_id"])):
            await asyncio.sleep(max(0.0, began + i / 20 - time.monotonic()))
            tasks.append(asyncio.create_task(post_batches(http, [batch], sent)))
        await asyncio.gather(*tasks)
        offered = len(sent) / (time.monotonic() - began)
    done = await stored(s, set(sent), within=600)
    latencies = [(done[k] - sent[k]) * 1000 for k in sent]
    return {
        "rate_target": rate,
        "rate_offered": round(offered, 1),
        "invoices": len(sent),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "latency_max_ms": round(max(latencies), 1),
        # CPU time the host gave other virtual machines meanwhile (see stolen_seconds)
        "stolen_cpu_seconds": stolen_between(stolen),
    }


async def kafka_ceiling(kafka: str, count: int) -> float:
    """aiokafka produce + consume of ``count`` invoice.created events, concurrently; per s."""
    topic = f"bench_raw_{uuid.uuid4().hex[:8]}"
    await ensure_topics([kafka], [topic], partitions=12)
    records = [encode(created(Invoice.model_validate(invoice("org_raw", n)))) for n in range(count)]
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, group_id=topic, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        began = time.perf_counter()

        async def produce() -> None:
            futures = [
                await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in records
            ]
            await asyncio.gather(*futures)

        producing = asyncio.create_task(produce())
        got = 0
        while got < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            got += sum(len(b) for b in batches.values())
        await producing
        return count / (time.perf_counter() - began)
    finally:
        await producer.stop()
        await consumer.stop()


async def mongo_ceiling(mongo: str, count: int) -> float:
    """Bulk inserts (``insert_many`` of 500) of invoice documents; documents per second."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo)
    collection = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]["docs"]
    docs = [{"_id": f"org_raw/inv_{n}", **invoice("org_raw", n)} for n in range(count)]
    try:
        await collection.insert_one({"_id": "warm-up"})
        began = time.perf_counter()
        for i in range(0, count, 500):
            await collection.insert_many(docs[i : i + 500], ordered=False)
        return count / (time.perf_counter() - began)
    finally:
        await client.close()


async def mongo_upsert_ceiling(mongo: str, count: int) -> float:
    """Upserts by ``_id`` of new documents (``ReplaceOne``, 25 per command: a stock FerretDB's
    size, as in every earlier run of this measure); per second. The pipeline's own writes and
    reads are single-document statements like these."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo)
    collection = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]["docs"]
    ops = [
        ReplaceOne({"_id": f"org_raw/inv_{n}"}, invoice("org_raw", n), upsert=True)
        for n in range(count)
    ]
    try:
        await collection.insert_one({"_id": "warm-up"})
        began = time.perf_counter()
        await bulk_write_chunked(collection, ops, chunk=BULK_CHUNK)
        return count / (time.perf_counter() - began)
    finally:
        await client.close()


async def scenario(
    kafka: str, mongo: str, args: argparse.Namespace, instances: int, rate: float | None
) -> dict[str, Any]:
    orgs = [f"org_pipe_{i:02d}" for i in range(args.orgs)]
    with stack(kafka, mongo, instances) as s, RssPoller(s.pids) as rss:
        await connect_orgs(s, orgs)
        # a warm-up: contacts created, caches and connections filled, consumers assigned
        await post_and_wait_warmup(s, orgs)
        result: dict[str, Any] = {"instances": instances} | await throughput(s, orgs, args.invoices)
        if rate is not None:
            target = rate
            ceiling = result["pipeline_invoices_per_s"]
            if ceiling / 2 < rate:
                target = round(ceiling / 2)
                result["latency_rate_note"] = (
                    f"{rate}/s is above half this run's pipeline ceiling ({ceiling}/s): "
                    f"latency measured at {target}/s"
                )
            result["steady"] = await steady(s, orgs, target, args.steady_seconds)
    result["peak_rss_mb"] = {k: round(v, 1) for k, v in rss.peak_mb.items()}
    return result


async def post_and_wait_warmup(s: Stack, orgs: list[str]) -> None:
    batches = batches_of(orgs, 9_000_000, 50 * len(orgs), 50)
    sent: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with ingest_client(s, headers) as http:
        await post_batches(http, batches, sent)
    await stored(s, set(sent), within=300)


async def run(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    kafka_rate = await kafka_ceiling(kafka, args.invoices)
    mongo_rate = await mongo_ceiling(mongo, args.invoices)
    upsert_rate = await mongo_upsert_ceiling(mongo, min(args.invoices, 2000))
    runs = {"instances_1": await scenario(kafka, mongo, args, 1, args.rate)}
    if args.instances > 1:
        runs[f"instances_{args.instances}"] = await scenario(
            kafka, mongo, args, args.instances, None
        )
    slowest = min(kafka_rate, mongo_rate)
    best = max(r["pipeline_invoices_per_s"] for r in runs.values())
    one = runs["instances_1"]
    # What issue 18's two rate goals would need at this run's cost per invoice: half the
    # slowest raw part end to end, and a ceiling twice the latency goal's 1,000/s.
    capacity = pipeline_needs(
        one, {"end_to_end": slowest / 2, "ceiling_for_latency": 2 * args.rate}
    )
    peak: dict[str, float] = {}
    for r in runs.values():
        for name, mb in r["peak_rss_mb"].items():
            peak[name] = max(peak.get(name, 0.0), mb)
    return {
        "pipeline_invoices_per_s": best,
        "slowest_component_per_s": round(slowest, 1),
        "pipeline_vs_slowest": round(best / slowest, 3),
        "kafka_produce_consume_per_s": round(kafka_rate, 1),
        "mongo_bulk_insert_per_s": round(mongo_rate, 1),
        # not a target's input: what the pipeline's statements cost one by one
        "mongo_upsert_by_id_per_s": round(upsert_rate, 1),
        "store_commands_per_invoice": one["store"]["commands_per_invoice"],
        "store_statements_per_invoice": one["store"]["statements_per_invoice"],
        "latency_p50_ms": one["steady"]["latency_p50_ms"],
        "latency_p99_ms": one["steady"]["latency_p99_ms"],
        "latency_rate_per_s": one["steady"]["rate_target"],
        "peak_rss_mb": peak,
        "capacity": capacity,
        "runs": runs,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--invoices", type=int, default=4000, help="per throughput run")
    parser.add_argument("--orgs", type=int, default=6)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000.0, help="steady rate for latency")
    parser.add_argument("--steady-seconds", type=float, default=20.0)


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(run(kafka, mongo, args)) | {"machine": machine()}


def main() -> None:
    standalone("pipeline", __doc__ or "", add_arguments, measure)


if __name__ == "__main__":
    main()
