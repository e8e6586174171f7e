"""Drain time under Xero's real limits with many organisations at once (measurement 2 of
issue 9): ``--orgs`` organisations of ``--invoices-per-org`` invoices each, published at once,
drained by 1 and then by ``--instances`` connector instances (one consumer group). The
instances run first, and the bulk is published once the group has given each of them
partitions: otherwise the first instance drains most of it before the others have joined
(``--start-after``: start them after the bulk is published, as before 3 Dec 2026).

    .venv/bin/python -m bench.drain --orgs 20 --invoices-per-org 500 --instances 3

The lower bound is the busiest tenant's calls at 60 a (scaled) minute: tenants have separate
limits and drain in parallel. The single-organisation drain is in ``bench.connector_calls``;
as there, the sandbox and each connector instance are processes of their own, and each run
records the CPU each process used during the drain, and the cores ending it within the
goal would need at that cost (``bench.capacity``).
"""

import argparse
import asyncio
from typing import Any

from bench.capacity import drain_needs
from bench.common import machine, standalone
from bench.connector_calls import bulk_run
from bench.harness import REAL_LIMITS, sandbox_process

GOAL_RATIO = 1.5  # issue 18: many organisations drain within 1.5 times the bound


async def run(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    customers = max(1, args.invoices_per_org // 20)  # the same 5% share of new customers
    for instances in sorted({1, args.instances}):
        with sandbox_process(REAL_LIMITS) as sandbox:
            runs[f"instances_{instances}"] = await bulk_run(
                kafka,
                mongo,
                sandbox.url,
                orgs=args.orgs,
                invoices_per_org=args.invoices_per_org,
                customers_per_org=customers,
                instances=instances,
                running_first=not args.start_after,
            )
            runs[f"instances_{instances}"]["capacity"] = drain_needs(
                runs[f"instances_{instances}"], GOAL_RATIO
            )
    worst = max(runs.values(), key=lambda r: r["drain_vs_lower_bound"])
    return {
        "drain_vs_lower_bound": worst["drain_vs_lower_bound"],
        "responses_429": sum(r["responses_429"] for r in runs.values()),
        "calls_per_invoice": worst["calls_per_invoice"],
        "runs": runs,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--invoices-per-org", type=int, default=500)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument(
        "--start-after",
        action="store_true",
        help="start the instances after the bulk is published (the first one drains most of "
        "it before the others join)",
    )


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(run(kafka, mongo, args)) | {"machine": machine()}


def main() -> None:
    standalone("drain", __doc__ or "", add_arguments, measure)


if __name__ == "__main__":
    main()
