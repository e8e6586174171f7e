"""Operator queries benchmark (issue 18): the sync log's list views and health counts with a
large invoice table stored.

    uv run python -m bench.queries --invoices 50000 --repeats 20

Seeds ``--invoices`` invoice states in the shape the sync log stores them (``state_to_doc``),
over 20 organisations, with ``insert_many`` in big batches; creates the indexes the service
creates (``MongoSyncLog.ensure_indexes``); then times each view of the console and the query
API through the sync log's own read code (``MongoSyncLogReader.invoices`` and ``stats``, what
``GET /v1/invoices`` and ``GET /v1/stats`` call), ``--repeats`` times each, rotating the
organisation. Reports p50/p95 per view in milliseconds.
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from bench.common import machine, percentile, standalone
from sync_log.adapters.mongo import MongoSyncLog, state_to_doc
from sync_log.adapters.mongo_reader import MongoSyncLogReader
from sync_log.domain import InvoiceState, LastError, Status
from sync_log.queries import Cursor, Filters
from sync_schemas import ErrorCode

ORGS = 20
CODES = [ErrorCode.CONTACT_MISSING, ErrorCode.TAX_RATE_UNMAPPED, ErrorCode.CURRENCY_NOT_ENABLED]
TARGET_P95_MS = 100.0
PAGE = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of each view")
    parser.add_argument("--seed-batch", type=int, default=5000, help="documents per insert_many")


def org_of(i: int) -> str:
    return f"org_{i % ORGS:02d}"


def state(i: int, start: datetime) -> InvoiceState:
    """Invoice ``i``: in every organisation mostly synced, a tenth failed (three error codes),
    a twenty-fifth pending. Three invoices share each ``status_at`` so keyset paging meets
    ties on the time field."""
    j = i // ORGS  # the invoice's rank within its organisation
    status = Status.FAILED if j % 10 == 3 else Status.PENDING if j % 25 == 7 else Status.SYNCED
    at = start + timedelta(seconds=j // 3)
    error = None
    if status is Status.FAILED:
        code = CODES[(j // 10) % len(CODES)]
        error = LastError(code.value, "bench failure", ("Xero said no",), "fix it", at)
    return InvoiceState(
        org_id=org_of(i),
        invoice_id=f"inv_{i:08d}",
        invoice_number=f"INV-{i:08d}",
        version=1,
        status=status,
        status_at=at,
        xero_invoice_id=None if status is Status.PENDING else f"x-{i:08d}",
        last_error=error,
        batch_ids=(f"batch_{i // 1000}",),
        status_event_id=f"evt_{i}",
        answered=(f"req_{i}",),
        revision=0,
    )


def documents(count: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    for first in range(0, count, batch):
        states = (state(i, start) for i in range(first, min(count, first + batch)))
        yield [{"_id": s.key} | state_to_doc(s, now) | {"revision": 1} for s in states]


View = Callable[[MongoSyncLogReader, str, int], Awaitable[Any]]


def views(invoices: int) -> dict[str, View]:
    """Each view as the API asks it of the store, for organisation ``org``."""

    def listing(**filters: Any) -> View:
        async def run(log: MongoSyncLogReader, org: str, _: int) -> Any:
            return await log.invoices(Filters(org_id=org, **filters), PAGE, None)

        return run

    async def by_number(log: MongoSyncLogReader, org: str, rep: int) -> Any:
        # an invoice of this organisation, somewhere in the table
        i = (rep * 7919 * ORGS + int(org[-2:])) % invoices
        return await log.invoices(
            Filters(org_id=org_of(i), invoice_number=f"INV-{i:08d}"), PAGE, None
        )

    return {
        "newest": listing(),
        "status_failed": listing(status=Status.FAILED),
        "status_pending": listing(status=Status.PENDING),
        "error_code": listing(status=Status.FAILED, error_codes=(CODES[0].value,)),
        "error_code_any_status": listing(error_codes=(CODES[1].value,)),
        "invoice_number": by_number,
        "health_counts": lambda log, org, _: log.stats(org, None),
    }


async def _time(call: Awaitable[Any]) -> float:
    """Milliseconds from here to the answer of ``call`` (a coroutine not yet started)."""
    began = time.perf_counter()
    await call
    return (time.perf_counter() - began) * 1000


async def _measure(mongo_uri: str, args: argparse.Namespace) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client["bench_queries"]
    await client.drop_database(db.name)
    log = MongoSyncLog(db)
    reader = MongoSyncLogReader(db)
    try:
        began = time.perf_counter()
        for docs in documents(args.invoices, args.seed_batch):
            await db["invoices"].insert_many(docs, ordered=False)
        seed_s = time.perf_counter() - began
        began = time.perf_counter()
        await log.ensure_indexes()
        index_s = time.perf_counter() - began
        indexes = len(await (await db["invoices"].list_indexes()).to_list())

        results: dict[str, dict[str, Any]] = {}
        all_views = views(args.invoices)
        for name, view in all_views.items():
            timings = [await _time(view(reader, org_of(rep), rep)) for rep in range(args.repeats)]
            results[name] = _stats(timings)
        # keyset paging: the cursor of page 1 (untimed), then page 2 timed
        timings = []
        for rep in range(args.repeats):
            filters = Filters(org_id=org_of(rep), status=Status.SYNCED)
            first = await reader.invoices(filters, PAGE, None)
            assert first.next_cursor, "page 1 of a large organisation has a next page"
            cursor = Cursor.decode(first.next_cursor)
            timings.append(await _time(reader.invoices(filters, PAGE, cursor)))
        results["keyset_page_2"] = _stats(timings)
    finally:
        await client.drop_database(db.name)
        await client.close()
    worst = max(r["p95_ms"] for r in results.values())
    return {
        "invoices": args.invoices,
        "orgs": ORGS,
        "repeats": args.repeats,
        "seed_seconds": round(seed_s, 1),
        "seed_docs_per_s": round(args.invoices / seed_s),
        "create_indexes_seconds": round(index_s, 1),
        "indexes_on_invoices": indexes,
        "views": results,
        "worst_p95_ms": worst,
        "target_p95_ms": TARGET_P95_MS,
        "machine": machine(),
    }


def _stats(timings: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(timings, 50), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        "max_ms": round(max(timings), 1),
        "runs": len(timings),
    }


def measure(kafka: str, mongo: str, args: argparse.Namespace) -> dict[str, Any]:
    del kafka  # the views read the store only
    return asyncio.run(_measure(mongo, args))


if __name__ == "__main__":
    standalone("queries", __doc__ or "", add_arguments, measure)
