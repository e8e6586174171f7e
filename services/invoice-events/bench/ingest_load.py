"""Ingest load for invoice-events: accepted invoices per second, single and batch.

The load runs in this process; the service runs in another. Against a running service:

    .venv/bin/python services/invoice-events/bench/ingest_load.py \\
        --url http://127.0.0.1:8001 --key dev-key --mode both

Self-contained (starts a private Kafka + FerretDB on free ports and the service as a
subprocess, then stops them):

    .venv/bin/python services/invoice-events/bench/ingest_load.py --spawn --mode both

Every request carries new invoices (fresh ids), so each accepted invoice is one
``invoice.created.v1`` published with acks=all and one snapshot written.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

LINE = {
    "description": "Consulting, November",
    "quantity": "10",
    "unit_price": "150.00",
    "tax_code": "GST15",
    "revenue_category": "consulting",
}


def invoice(org: str, n: int) -> dict[str, Any]:
    return {
        "org_id": org,
        "invoice_id": f"inv_{n:07d}",
        "invoice_number": f"INV-{n:07d}",
        "version": 1,
        "customer": {"id": f"cus_{n % 500}", "name": "Harbour Cafe Ltd"},
        "currency": "NZD",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "status": "issued",
        "line_amount_type": "exclusive",
        "lines": [LINE],
    }


async def run_single(http: httpx.AsyncClient, count: int, concurrency: int) -> dict[str, Any]:
    org = f"org_{uuid.uuid4().hex[:8]}"
    queue = iter(range(count))
    accepted = 0
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal accepted
        for n in queue:
            started = time.perf_counter()
            response = await http.post("/v1/invoices", json=invoice(org, n))
            latencies.append(time.perf_counter() - started)
            if response.status_code == 202:
                accepted += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "mode": "single",
        "invoices": count,
        "accepted": accepted,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "accepted_per_s": round(accepted / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


async def run_batch(
    http: httpx.AsyncClient, count: int, batch_size: int, concurrency: int
) -> dict[str, Any]:
    org = f"org_{uuid.uuid4().hex[:8]}"
    batches = iter(range(0, count, batch_size))
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        for start in batches:
            body = {"invoices": [invoice(org, n) for n in range(start, start + batch_size)]}
            response = await http.post("/v1/invoices/batch", json=body)
            if response.status_code == 202:
                accepted += response.json()["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "mode": "batch",
        "invoices": count,
        "accepted": accepted,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "accepted_per_s": round(accepted / elapsed, 1),
    }


async def load(args: argparse.Namespace, url: str) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=args.concurrency + 4)
    headers = {"Authorization": f"Bearer {args.key}"}
    results = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:
        await run_single(http, 200, 8)  # warm-up: connections, JIT-less caches, topic metadata
        if args.mode in ("single", "both"):
            results.append(await run_single(http, args.count, args.concurrency))
        if args.mode in ("batch", "both"):
            results.append(
                await run_batch(http, args.count * 5, args.batch_size, args.batch_concurrency)
            )
    return results


def stop_process(proc: "subprocess.Popen[bytes]") -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        print("the service did not stop within 30 s; killed", file=sys.stderr)
        proc.kill()
        proc.wait()


@contextmanager
def spawned_stack(workdir: Path) -> Iterator[str]:
    """Private Kafka + FerretDB on free ports and the service in a subprocess; its URL."""
    from local_infra import KafkaServer, MongoServer, free_port

    with ExitStack() as stack:
        kafka = KafkaServer(port=free_port(), data_dir=workdir / "kafka")
        mongo = MongoServer(port=free_port(), data_dir=workdir / "mongo")
        for server in (kafka, mongo):
            server.start()
            stack.callback(server.stop)
        kafka.wait_ready()
        mongo.wait_ready()
        port = free_port()
        env = {
            **os.environ,
            "INVOICE_EVENTS_PORT": str(port),
            "INVOICE_EVENTS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "INVOICE_EVENTS_MONGODB_URI": mongo.uri,
            "INVOICE_EVENTS_API_KEYS": "bench-key",
            "INVOICE_EVENTS_LOG_LEVEL": "WARNING",
        }
        log = (workdir / "service.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoice_events.main"], env=env, stderr=log, stdout=log
        )
        stack.callback(stop_process, proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the service did not start; see {workdir / 'service.log'}")
            time.sleep(0.3)
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8001")
    parser.add_argument("--key", default=os.environ.get("DEV_API_KEY", "dev-key"))
    parser.add_argument("--mode", choices=["single", "batch", "both"], default="both")
    parser.add_argument("--count", type=int, default=3000, help="single invoices (batch: x5)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-concurrency", type=int, default=2)
    parser.add_argument("--spawn", action="store_true", help="start private Kafka, DB, service")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--workdir", type=Path, help="with --spawn: keep data and logs here")
    args = parser.parse_args()
    if args.spawn:
        args.key = "bench-key"
        with (
            tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp,
            spawned_stack(args.workdir or Path(tmp)) as url,
        ):
            report(args, asyncio.run(load(args, url)))
    else:
        report(args, asyncio.run(load(args, args.url)))


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    text = json.dumps({"machine_cpus": os.cpu_count(), "results": results}, indent=2)
    print(text, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
