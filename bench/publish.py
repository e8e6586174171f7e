"""What publishing a batch's results costs the publishing process: one coroutine per event
(``publish_event`` under ``asyncio.gather``, as the connector published until 3 Dec 2026)
against ``publish_events`` (every record handed to the producer, then the acknowledgements
awaited).

    .venv/bin/python -m bench.publish [--events 770] [--rounds 15]

``--events`` results of one organisation, the size of one batch of the single-organisation
drain, published to a topic of 12 partitions with the services' broker settings
(``event_broker``: ``acks=all``, idempotent). The two ways take turns; the figures are
medians over the rounds, of wall time and of this process's CPU time.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.common import machine, standalone
from service_kit.events import Topics, ensure_topics, event_broker, publish_event, publish_events
from sync_schemas import CloudEvent, EventType, InvoiceSyncSucceeded, SyncOutcome, new_event

PARTITIONS = 12


def _result(number: int) -> CloudEvent[Any]:
    data = InvoiceSyncSucceeded(
        org_id="org_bench",
        invoice_id=f"inv_{number}",
        invoice_number=f"INV-{number:05d}",
        version=1,
        xero_invoice_id=str(uuid.uuid4()),
        outcome=SyncOutcome.CREATED,
        attempt=1,
        cause_event_id=str(uuid.uuid4()),
        duration_ms=120,
        xero_total="118.00",
    )
    return new_event(EventType.INVOICE_SYNC_SUCCEEDED, data, source="/bench", subject="org_bench")


async def _run(kafka: str, args: argparse.Namespace) -> dict[str, Any]:
    names = Topics.with_prefix(f"bench-publish-{uuid.uuid4().hex[:8]}")
    await ensure_topics([kafka], names.all(), PARTITIONS)
    broker = event_broker([kafka], "bench-publish")
    await broker.start()
    events = [_result(n) for n in range(args.events)]

    async def one_coroutine_each() -> None:
        await asyncio.gather(*(publish_event(broker, event, names) for event in events))

    async def all_then_acks() -> None:
        await publish_events(broker, events, names)

    ways: dict[str, Callable[[], Awaitable[None]]] = {
        "publish_event_gathered": one_coroutine_each,
        "publish_events": all_then_acks,
    }
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in ways}
    try:
        await all_then_acks()  # warm: metadata, producer id, connections
        for _ in range(args.rounds):
            for name, way in ways.items():
                wall, cpu = time.perf_counter(), time.process_time()
                await way()
                times[name][0].append((time.perf_counter() - wall) * 1000)
                times[name][1].append((time.process_time() - cpu) * 1000)
    finally:
        await broker.stop()
    return {
        name: {
            "wall_ms_median": round(statistics.median(wall), 1),
            "cpu_ms_median": round(statistics.median(cpu), 1),
        }
        for name, (wall, cpu) in times.items()
    }


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "events": args.events,
        "rounds": args.rounds,
        "partitions": PARTITIONS,
        "ways": asyncio.run(_run(kafka, args)),
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=770, help="results per batch")
    parser.add_argument("--rounds", type=int, default=15, help="batches of each way, in turn")


if __name__ == "__main__":
    standalone("publish", __doc__ or "", add_arguments, measure)
