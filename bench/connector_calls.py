"""Xero call efficiency of the connector: calls per invoice for a bulk sync of one organisation
with new customers (auto-create on), from the sandbox's own counts, under Xero's real limits
(60 calls a minute per tenant, 5 concurrent, at ``time_scale`` 60), with the 429s counted.

    .venv/bin/python -m bench.connector_calls --invoices 1000 --customers 100 [--no-baseline]

Runs the sandbox and the connector in-process on the real local Kafka and MongoDB-wire server;
the same bulk then goes through the connector's baseline mode (one invoice per call, a contact
lookup per invoice) into a second organisation.
"""

import argparse
import asyncio
import random
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.common import write_result
from local_infra.endpoints import kafka_endpoint, mongodb_endpoint
from tests.integration.xero_connector.pipeline_support import (
    created,
    invoice,
    publish,
    results,
    setup_org,
)
from tests.integration.xero_connector.support import Sandbox, connector_factory
from xero_sandbox.app import create_app
from xero_sandbox.config import Settings as SandboxSettings

TIME_SCALE = 60.0


def serve_sandbox() -> tuple[str, uvicorn.Server]:
    settings = SandboxSettings(
        port=0,
        per_minute=60,
        concurrent=5,
        per_day=1_000_000,
        app_per_minute=10_000,
        time_scale=TIME_SCALE,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


async def one_run(
    kafka: str, mongo: str, url: str, invoices: int, customers: int, baseline: bool
) -> dict[str, Any]:
    prefix = f"bench_calls_{uuid.uuid4().hex[:8]}"
    factory = connector_factory(kafka, mongo, prefix, url)
    org = "org_bench"
    rng = random.Random(7)
    events = [
        created(
            invoice(
                org,
                n,
                customer={
                    "id": f"cus_{(c := rng.randrange(customers)):04d}",
                    "name": f"Customer {c}",
                },
            )
        )
        for n in range(1, invoices + 1)
    ]
    overrides = {
        "xero_time_scale": TIME_SCALE,
        "baseline_mode": baseline,
        "http_read_timeout": 30,
    }
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sandbox = Sandbox(http)
        async with factory(consume=False, **overrides) as setup:
            tenant = await setup_org(
                setup, sandbox, org, settings={"auto_create_contacts": True}, contacts=[]
            )
            await publish(kafka, setup.names.invoice_events, events)
        before = (await http.get("/_sandbox/stats")).json()["tenants"].get(tenant, {})
        started = time.monotonic()
        async with factory(**overrides) as c:
            out = await results(c, invoices, timeout=3600)
            elapsed = time.monotonic() - started
        counts = (await http.get("/_sandbox/stats")).json()["tenants"][tenant]
        held = (await http.get(f"/_sandbox/orgs/{tenant}/invoices")).json()["count"]
    calls = counts["calls"] - before.get("calls", 0)
    by_endpoint = {
        k: v - before.get("by_endpoint", {}).get(k, 0) for k, v in counts["by_endpoint"].items()
    }
    synced = sum(1 for e in out if hasattr(e.data, "xero_invoice_id"))
    return {
        "invoices": invoices,
        "new_customers": customers,
        "synced": synced,
        "in_xero": held,
        "xero_calls": calls,
        "calls_per_invoice": round(calls / invoices, 4),
        "responses_429": counts["responses_429"] - before.get("responses_429", 0),
        "by_endpoint": by_endpoint,
        "seconds": round(elapsed, 1),
        # the per-minute limit's lower bound on the drain, in real seconds
        "lower_bound_seconds": round(calls / 60 * 60 / TIME_SCALE, 1),
    }


async def run(
    kafka: str, mongo: str, invoices: int, customers: int, baseline: bool
) -> dict[str, Any]:
    url, server = serve_sandbox()
    try:
        result = {"batched": await one_run(kafka, mongo, url, invoices, customers, False)}
        if baseline:
            result["baseline"] = await one_run(kafka, mongo, url, invoices, customers, True)
    finally:
        server.should_exit = True
    summary: dict[str, Any] = {
        "calls_per_invoice": result["batched"]["calls_per_invoice"],
        "responses_429": result["batched"]["responses_429"],
        "drain_vs_lower_bound": round(
            result["batched"]["seconds"] / max(result["batched"]["lower_bound_seconds"], 1e-9), 2
        ),
    }
    if baseline:
        summary["baseline_calls_per_invoice"] = result["baseline"]["calls_per_invoice"]
        summary["baseline_responses_429"] = result["baseline"]["responses_429"]
    return summary | result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        kafka_endpoint(Path(tmp)) as kafka,
        mongodb_endpoint(Path(tmp)) as mongo,
    ):
        result = asyncio.run(run(kafka, mongo, args.invoices, args.customers, not args.no_baseline))
    print(result)
    print(f"wrote {write_result('connector_calls', result)}")


if __name__ == "__main__":
    main()
