"""Documents, indexes (a unique one included) and queries on the real MongoDB-wire server."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Db = AsyncDatabase[dict[str, Any]]


async def test_unique_index_refuses_a_duplicate_event_id(mongo_db: Db) -> None:
    entries = mongo_db["entries"]
    await entries.create_index([("event_id", ASCENDING)], unique=True, name="event_id_unique")
    await entries.insert_one({"event_id": "evt-1", "status": "synced"})

    with pytest.raises(DuplicateKeyError):
        await entries.insert_one({"event_id": "evt-1", "status": "failed"})

    assert await entries.count_documents({}) == 1
    info = await entries.index_information()
    assert info["event_id_unique"]["unique"] is True


async def test_unordered_bulk_insert_keeps_the_new_and_reports_the_duplicates(mongo_db: Db) -> None:
    entries = mongo_db["entries"]
    await entries.create_index([("event_id", ASCENDING)], unique=True)
    await entries.insert_one({"event_id": "evt-2"})

    with pytest.raises(BulkWriteError) as info:
        await entries.insert_many([{"event_id": f"evt-{i}"} for i in range(1, 6)], ordered=False)

    assert info.value.details["nInserted"] == 4
    assert [e["code"] for e in info.value.details["writeErrors"]] == [11000]
    assert await entries.count_documents({}) == 5


async def test_compound_index_serves_a_filtered_sorted_query(mongo_db: Db) -> None:
    entries = mongo_db["entries"]
    await entries.create_index([("org_id", ASCENDING), ("occurred_at", DESCENDING)])
    start = datetime(2026, 11, 1, tzinfo=UTC)
    await entries.insert_many(
        [
            {
                "org_id": "org_a" if i % 3 else "org_b",
                "n": i,
                "occurred_at": start + timedelta(minutes=i),
            }
            for i in range(30)
        ]
    )

    cursor = entries.find(
        {"org_id": "org_a", "occurred_at": {"$gte": start + timedelta(minutes=10)}}
    )
    found = await cursor.sort("occurred_at", DESCENDING).limit(5).to_list()

    assert [d["n"] for d in found] == [29, 28, 26, 25, 23]
    assert found[0]["occurred_at"].tzinfo is not None


async def test_upsert_with_a_version_guard_never_goes_backwards(mongo_db: Db) -> None:
    """The pattern later services use: only a newer version replaces the current state."""
    current = mongo_db["current"]
    key = {"org_id": "org_a", "invoice_id": "inv_1"}

    async def record(version: int, status: str) -> None:
        await current.update_one(
            {**key, "version": {"$lt": version}}, {"$set": {"version": version, "status": status}}
        )
        await current.update_one(
            key, {"$setOnInsert": {"version": version, "status": status}}, upsert=True
        )

    await record(3, "synced")
    await record(2, "failed")  # late result of an older version

    doc = await current.find_one(key)
    assert doc is not None and (doc["version"], doc["status"]) == (3, "synced")


async def test_large_bulk_updates_go_out_in_safe_chunks(mongo_db: Db) -> None:
    """600 updates of existing documents in the commands of 25 a stock FerretDB v1 takes (see
    service_kit.mongo): they complete, in order."""
    from pymongo import UpdateOne

    from service_kit.mongo import BULK_CHUNK, bulk_write_chunked

    items = mongo_db["items"]
    await items.insert_many([{"_id": f"k{i}", "n": 0} for i in range(300)])
    ops = [UpdateOne({"_id": f"k{i % 300}"}, {"$inc": {"n": 1}}) for i in range(600)]
    chunked = bulk_write_chunked(items, ops, ordered=True, chunk=BULK_CHUNK)
    assert await asyncio.wait_for(chunked, timeout=60) == 600
    assert {d["n"] for d in await items.find().to_list()} == {2}


async def test_the_server_takes_large_bulk_commands(
    mongo_db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB and the project's FerretDB build (it closes each update statement's read and
    writes a command in one transaction) take commands of LARGE_BULK_CHUNK statements: three
    writers sending 500 updates of existing documents each, at once, complete."""
    from pymongo import UpdateOne

    from service_kit import mongo
    from service_kit.mongo import LARGE_BULK_CHUNK, bulk_write_chunked, learn_bulk_limit

    monkeypatch.setattr(mongo._BulkLimit, "chunk", mongo.BULK_CHUNK)  # restored afterwards
    assert await learn_bulk_limit(mongo_db) == LARGE_BULK_CHUNK
    items = mongo_db["items"]
    await items.insert_many([{"_id": f"k{i}", "n": 0} for i in range(1500)])
    commands = [
        bulk_write_chunked(
            items, [UpdateOne({"_id": f"k{i}"}, {"$inc": {"n": 1}}) for i in range(k, 1500, 3)]
        )
        for k in range(3)
    ]
    assert await asyncio.wait_for(asyncio.gather(*commands), timeout=120) == [500, 500, 500]
    assert {d["n"] for d in await items.find().to_list()} == {1}
