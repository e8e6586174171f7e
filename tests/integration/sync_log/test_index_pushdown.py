"""The operator's views answer the same through the local FerretDB's index pushdown as through
a full scan.

The project's FerretDB build reads equality, sort-with-limit and counting queries through the
SQLite indexes the sync log creates (deploy/local/ferretdb/sqlite-patch). A command whose
comment holds ``ferretdb-local:scan`` is answered by FerretDB's own full scan instead, over the
same data: each view is read through ``MongoSyncLogReader`` (pushed down) and the same query with
that comment (scanned), every page of it, and the answers must be identical, ties on the time
field included. The second test seeds documents the pushdown must not trust (an array where an
equality is pushed, a sort field that is not a date or is missing) and expects the same.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.keys import invoice_key
from service_kit.mongo import pushes_down_indexes, reads_by_secondary_indexes
from sync_log.adapters.mongo import Doc, MongoSyncLog, state_to_doc
from sync_log.adapters.mongo_reader import MongoSyncLogReader
from sync_log.domain import InvoiceState, LastError, Status
from sync_log.queries import INVOICE_TIME, Cursor, Filters, invoice_filter, sort_spec
from sync_schemas import ErrorCode

SCAN = "ferretdb-local:scan"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
ORGS = ["org_a", "org_b", "org_c"]
CODES = [ErrorCode.CONTACT_MISSING, ErrorCode.TAX_RATE_UNMAPPED]
PAGE = 7


# Invoice ids of a tie whose order as stored JSON text (what the SQLite index holds) differs
# from MongoDB's: a closing quote sorts after "!", an escaped "<" after "A".
TIED_IDS = ["", "!", "<", "A"]


def states(per_org: int) -> list[InvoiceState]:
    """Four invoices of an organisation share each status_at (ties for keyset paging, their
    ids ordered differently as text); invoice numbers repeat within and across organisations."""
    out = []
    for org in ORGS:
        for k in range(per_org):
            status = [Status.SYNCED, Status.FAILED, Status.PENDING, Status.SYNCED][k % 4]
            at = T0 + timedelta(minutes=k // 4)
            error = None
            if status is Status.FAILED:
                code = CODES[(k // 4) % 2].value
                error = LastError(code, "no", (), "fix", at)
            out.append(
                InvoiceState(
                    org_id=org,
                    invoice_id=f"inv_{k // 4:04d}{TIED_IDS[k % 4]}",
                    invoice_number=f"INV-{k % 25:02d}",
                    version=1,
                    status=status,
                    status_at=at,
                    last_error=error,
                    batch_ids=(f"b{k % 3}",),
                )
            )
    return out


VIEWS = [
    Filters(org_id="org_a"),
    Filters(org_id="org_b", status=Status.SYNCED),
    Filters(org_id="org_b", status=Status.FAILED),
    Filters(org_id="org_c", status=Status.PENDING),
    Filters(org_id="org_a", error_codes=(CODES[0].value,)),
    Filters(org_id="org_a", status=Status.FAILED, error_codes=(CODES[1].value,)),
    Filters(org_id="org_c", invoice_number="INV-07"),
    Filters(invoice_number="INV-03"),
    Filters(org_id="org_a", since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=40)),
    Filters(status=Status.FAILED),
    Filters(org_id="org_b", batch_id="b1"),
    Filters(org_id="nobody"),
    Filters(),
]


@pytest.fixture
async def store(mongo_db: AsyncDatabase[Doc]) -> MongoSyncLogReader:
    log = MongoSyncLog(mongo_db)
    assert await pushes_down_indexes(mongo_db) or await reads_by_secondary_indexes(mongo_db), (
        "the MongoDB-wire server is neither MongoDB nor the project's FerretDB build"
    )
    docs = [{"_id": s.key} | state_to_doc(s, T0) for s in states(per_org=60)]
    await mongo_db["invoices"].insert_many(docs)
    await log.ensure_indexes()
    return MongoSyncLogReader(mongo_db)


async def pages(db: AsyncDatabase[Doc], filters: Filters, comment: str = SCAN) -> list[Doc]:
    """Every page of the invoice listing's query (the reader's: filter, sort, one row more
    than the page), answered by FerretDB's full scan, or pushed down with ``comment=""``."""
    rows: list[Doc] = []
    cursor: Cursor | None = None
    while True:
        query = invoice_filter(filters, cursor)
        found = db["invoices"].find(query, comment=comment).sort(sort_spec(INVOICE_TIME))
        docs = await found.limit(PAGE + 1).to_list()
        rows += docs[:PAGE]
        if len(docs) <= PAGE:
            return rows
        last = docs[PAGE - 1]
        cursor = Cursor(last[INVOICE_TIME], str(last["_id"]))


async def pushed_pages(reader: MongoSyncLogReader, filters: Filters) -> list[str]:
    """The invoices of every page the API serves, in order, by key."""
    keys: list[str] = []
    cursor: Cursor | None = None
    while True:
        page = await reader.invoices(filters, PAGE, cursor)
        keys += [invoice_key(row.org_id, row.invoice_id) for row in page.items]
        if page.next_cursor is None:
            return keys
        cursor = Cursor.decode(page.next_cursor)


async def counts(db: AsyncDatabase[Doc], org_id: str | None, comment: str = SCAN) -> list[Doc]:
    """The health strip's aggregation (the reader's), scanned or pushed down."""
    pipeline: list[Doc] = [
        {"$match": {"org_id": org_id} if org_id else {}},
        {"$group": {"_id": {"status": "$status", "error_code": "$error_code"}, "n": {"$sum": 1}}},
    ]
    return await (await db["invoices"].aggregate(pipeline, comment=comment)).to_list()


def by_group(groups: list[Doc]) -> list[tuple[Any, ...]]:
    return sorted((repr(g["_id"]), g["n"]) for g in groups)


def counted(groups: list[Doc]) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and by error code, as ``GET /v1/stats`` reports them."""
    by_status: Counter[str] = Counter({s.value: 0 for s in Status})
    by_error: Counter[str] = Counter()
    for group in groups:
        by_status[group["_id"]["status"]] += group["n"]
        if group["_id"].get("error_code"):
            by_error[group["_id"]["error_code"]] += group["n"]
    return dict(by_status), dict(by_error)


async def raw_answers(db: AsyncDatabase[Doc], query: Doc, limit: int, comment: str) -> list[Doc]:
    found = db["invoices"].find(query, comment=comment).sort(sort_spec(INVOICE_TIME))
    return await found.limit(limit).to_list()


async def assert_same_answers(db: AsyncDatabase[Doc]) -> None:
    """The reader's queries, pushed down and scanned, answer the same."""
    for filters in VIEWS:
        scanned = await pages(db, filters)
        assert await pages(db, filters, comment="") == scanned, filters
        # each page's query as sent (the page and the row after it), and limits that end
        # inside a tie: a page hides a wrong row after its end, the raw answer does not
        for cursor in [None, *(Cursor(d[INVOICE_TIME], str(d["_id"])) for d in scanned[::PAGE])]:
            query = invoice_filter(filters, cursor)
            for limit in (1, 2, 3, PAGE + 1):
                assert await raw_answers(db, query, limit, "") == await raw_answers(
                    db, query, limit, SCAN
                ), (filters, cursor, limit)
    for org in [*ORGS, "nobody", None]:
        assert by_group(await counts(db, org, comment="")) == by_group(await counts(db, org)), org


async def test_views_answer_as_a_full_scan(
    store: MongoSyncLogReader, mongo_db: AsyncDatabase[Doc]
) -> None:
    # the data give every view several pages, and pages that end inside a tie
    assert len(await pages(mongo_db, Filters(org_id="org_a"))) == 60
    assert len(await pages(mongo_db, Filters(org_id="org_b", status=Status.FAILED))) == 15
    await assert_same_answers(mongo_db)
    # and the API's reader, over the same data, serves exactly the scanned pages and counts
    for filters in VIEWS:
        expected = [d["_id"] for d in await pages(mongo_db, filters)]
        assert await pushed_pages(store, filters) == expected, filters
    for org in [*ORGS, "nobody", None]:
        stats = await store.stats(org, None)
        assert (stats.by_status, stats.by_error_code) == counted(await counts(mongo_db, org))


ODD: list[Doc] = [
    {"_id": "odd/1", "org_id": ["org_a", "org_b"], "status": "failed", "status_at": T0},
    {"_id": "odd/2", "org_id": "org_a", "status": ["failed", "synced"], "status_at": T0},
    {"_id": "odd/3", "org_id": "org_b", "status": "synced", "status_at": "yesterday"},
    {"_id": "odd/4", "org_id": "org_c", "status": "pending"},
    {"_id": "odd/5", "org_id": "org_c", "status": "pending", "status_at": None},
    {"_id": "odd/6", "org_id": "org_a", "error_code": ["contact_missing"], "status_at": T0},
    {"_id": "odd/7", "org_id": "org_c", "invoice_number": ["INV-07"], "status_at": T0},
    {"_id": "odd/8", "org_id": "org_a", "status": "failed", "error_code": 3, "status_at": T0},
]


@pytest.mark.parametrize("odd", ODD, ids=[doc["_id"] for doc in ODD])
async def test_data_the_pushdown_cannot_trust_fall_back_to_the_scan(
    store: MongoSyncLogReader, mongo_db: AsyncDatabase[Doc], odd: Doc
) -> None:
    await mongo_db["invoices"].insert_one(odd)
    assert odd["_id"] in {doc["_id"] async for doc in mongo_db["invoices"].find(comment=SCAN)}
    await assert_same_answers(mongo_db)
