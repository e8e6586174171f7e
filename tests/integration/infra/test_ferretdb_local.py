"""The local FerretDB keeps reads and writes by _id indexed.

- FerretDB v1 filters updates and deletes on ``_ferretdb_sjson->'$._id'`` while its own index
  is on ``_ferretdb_sjson->"_id"``; the wrapper adds an index on the exact expression
  (deploy/local/ferretdb/idindex.go). The proof is SQLite's own query plan for the statement
  FerretDB runs, read from the server's data file.
- FerretDB v1 pushes ``_id`` down to SQLite only when it is a filter's one key; the build
  patches its SQLite backend to push down any filter's ``_id: v`` and ``_id: {$in: [...]}``
  (deploy/local/ferretdb/sqlite-patch). The proof is ``explain``'s ``filterPushdown``, and
  the answers must stay MongoDB's: the other keys of a filter still apply.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import PyMongoError

from local_infra import MongoServer, free_port
from local_infra.provision import ferretdb_binary, real_mongod
from tests.support.eventually import eventually


@pytest.fixture(scope="module")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    if real_mongod() is not None:
        pytest.fail("a real mongod is on PATH: run with XERO_SYNC_FORCE_FERRETDB=1")
    server = MongoServer(port=free_port(), data_dir=tmp_path_factory.mktemp("ferret") / "data")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(ferretdb: MongoServer) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    """A client of the private server. A deadlocked server never answers: the socket timeout
    turns a hang into a failure."""
    connected: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        ferretdb.uri, serverSelectionTimeoutMS=5000, socketTimeoutMS=60_000
    )
    try:
        yield connected
    finally:
        await connected.close()


def update_plan(db_file: Path) -> list[str]:
    con = sqlite3.connect(db_file)
    try:
        [table] = [r[0] for r in con.execute("SELECT table_name FROM _ferretdb_collections")]
        plan = con.execute(
            f'EXPLAIN QUERY PLAN UPDATE "{table}" SET _ferretdb_sjson = ? '  # noqa: S608
            "WHERE _ferretdb_sjson->'$._id' = ?",
            ("{}", "k1"),
        ).fetchall()
    finally:
        con.close()
    return [row[-1] for row in plan]


async def test_updates_by_id_use_an_index(ferretdb: MongoServer) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(ferretdb.uri)
    try:
        await client.idx.items.insert_many([{"_id": f"k{i}", "v": i} for i in range(100)])
        db_file = ferretdb.data_dir / "idx.sqlite"

        async def indexed() -> bool:  # the keeper adds the index on its next sweep (200 ms)
            plan = update_plan(db_file)
            assert any("USING INDEX" in step and "__id_path" in step for step in plan), plan
            return True

        await eventually(indexed, what="an _id index on idx.items", timeout=5)

        result = await client.idx.items.update_one({"_id": "k7"}, {"$set": {"v": -7}})
        assert result.modified_count == 1
        assert await client.idx.items.find_one({"_id": "k7"}) == {"_id": "k7", "v": -7}
    finally:
        await client.close()


PUSHED_DOWN = [
    {"_id": "k3"},
    {"_id": "k3", "v": 3},
    {"_id": {"$in": ["k1", "k2", "nope"]}},
    {"_id": {"$in": ["k1", "k2"]}, "v": {"$gt": 1}},
]
SCANNED = [
    {"v": 3},
    {"_id": {"$gt": "k5"}},
    {"_id": {"$in": ["k1", 2]}},  # a number among the ids: left to FerretDB
]


async def test_id_conditions_are_pushed_down_and_answer_as_mongodb(ferretdb: MongoServer) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(ferretdb.uri)
    try:
        items = client.pushdown.items
        await items.insert_many([{"_id": f"k{i}", "v": i} for i in range(10)])
        for query in PUSHED_DOWN + SCANNED:
            plan = await client.pushdown.command(
                "explain", {"find": "items", "filter": query}, verbosity="queryPlanner"
            )
            assert plan["filterPushdown"] is (query in PUSHED_DOWN), query

        async def ids(query: dict[str, object]) -> list[object]:
            return sorted([doc["_id"] async for doc in items.find(query)])  # type: ignore[type-var]

        assert await ids({"_id": "k3", "v": 3}) == ["k3"]
        assert await ids({"_id": "k3", "v": 4}) == []
        assert await ids({"_id": {"$in": ["k1", "k2", "nope"]}}) == ["k1", "k2"]
        assert await ids({"_id": {"$in": ["k1", "k2"]}, "v": {"$gt": 1}}) == ["k2"]

        # A compare-and-set by _id and another key changes only a matching document.
        missed = await items.replace_one({"_id": "k4", "v": 5}, {"v": 40})
        hit = await items.replace_one({"_id": "k4", "v": 4}, {"v": 40})
        assert (missed.matched_count, hit.matched_count) == (0, 1)
        marked = await items.update_many(
            {"_id": {"$in": ["k5", "k6", "k7"]}, "v": {"$lt": 7}}, {"$set": {"marked": True}}
        )
        assert marked.modified_count == 2
        assert await ids({"marked": True}) == ["k5", "k6"]
        deleted = await items.delete_many({"_id": {"$in": ["k8", "k9"]}, "v": 9})
        assert deleted.deleted_count == 1
        assert await ids({}) == [f"k{i}" for i in range(9)]
    finally:
        await client.close()


async def test_concurrent_update_commands_do_not_exhaust_the_connection_pool(
    client: AsyncMongoClient[dict[str, object]],
) -> None:
    """FerretDB v1 kept each update statement's read open until its command ended: 12
    concurrent commands of 25 updates to existing documents needed 300 of the database's 100
    pooled SQLite connections and hung for good. The build closes each statement's read."""
    collection = client["pool"]["docs"]
    await collection.insert_many([{"_id": n, "v": 0} for n in range(300)])
    commands = [
        collection.bulk_write(
            [UpdateOne({"_id": n, "v": 0}, {"$set": {"v": 1}}) for n in range(k, 300, 12)],
            ordered=False,
        )
        for k in range(12)
    ]
    results = await asyncio.gather(*commands)
    assert sum(r.modified_count for r in results) == 300
    assert await collection.count_documents({"v": 1}) == 300
    info = await client.admin.command("buildInfo")
    assert info["ferretdbFeatures"]["updateReadsClosed"] is True


async def test_an_update_command_written_in_one_transaction_answers_as_mongodb(
    client: AsyncMongoClient[dict[str, object]],
) -> None:
    """The build writes an update command's changed documents together, at its end
    (sqlite-patch/update_batch.go); a statement that could read a document changed earlier
    in the command must still see that change, in order, as MongoDB's statements do."""
    collection = client["batched"]["docs"]
    await collection.insert_many([{"_id": k, "n": 0, "tag": "t"} for k in "abcd"])
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": "a"}, {"$inc": {"n": 1}}),
            UpdateOne({"_id": "b", "n": 0}, {"$inc": {"n": 1}}),
            UpdateOne({"_id": "a", "n": 1}, {"$inc": {"n": 10}}),  # sees the first
            UpdateOne({"_id": {"$in": ["c", "b"]}, "n": 1}, {"$set": {"seen_b": True}}),
            UpdateOne({"tag": "t", "n": 11}, {"$set": {"by_tag": True}}),  # no _id: reads a
            UpdateOne({"_id": "e"}, {"$set": {"n": 5}}, upsert=True),
            UpdateOne({"_id": "e", "n": 5}, {"$inc": {"n": 1}}),  # sees the upsert
            UpdateOne({"_id": "c"}, {"$inc": {"n": 1}}),
        ],
        ordered=True,
    )
    assert (result.matched_count, result.modified_count, result.upserted_count) == (7, 7, 1)
    docs = {d["_id"]: d async for d in collection.find({}, {"tag": 0})}
    assert docs == {
        "a": {"_id": "a", "n": 11, "by_tag": True},
        "b": {"_id": "b", "n": 1, "seen_b": True},
        "c": {"_id": "c", "n": 1},
        "d": {"_id": "d", "n": 0},
        "e": {"_id": "e", "n": 6},
    }
    info = await client.admin.command("buildInfo")
    assert info["ferretdbFeatures"]["updateBatched"] is True


async def test_a_failing_update_command_keeps_what_its_earlier_statements_wrote(
    client: AsyncMongoClient[dict[str, object]],
) -> None:
    collection = client["batched_failure"]["docs"]
    await collection.insert_many([{"_id": "a", "n": 0}, {"_id": "b", "n": "text"}])
    # FerretDB v1 answers this write error without nModified, which PyMongo then fails
    # to read (KeyError): either way the command failed.
    with pytest.raises((PyMongoError, KeyError)):
        await collection.bulk_write(
            [
                UpdateOne({"_id": "a"}, {"$inc": {"n": 1}}),
                UpdateOne({"_id": "b"}, {"$inc": {"n": 1}}),  # $inc of a string: refused
            ],
            ordered=True,
        )
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
    assert await collection.find_one({"_id": "b"}) == {"_id": "b", "n": "text"}


async def test_concurrent_compare_and_set_commands_match_each_document_once(
    client: AsyncMongoClient[dict[str, object]],
) -> None:
    """Two writers set the same 500 documents, each only where the revision is still 0: as on
    MongoDB, every document goes to exactly one of them. FerretDB reads a statement's document
    and writes it in separate transactions; the build runs update commands on a collection one
    at a time, or both writers could match the same document (and with the writes held to the
    command's end, they did, for most of them)."""
    collection = client["cas"]["docs"]
    for round_ in range(3):
        await collection.delete_many({})
        await collection.insert_many([{"_id": f"k{n}", "rev": 0} for n in range(500)])
        results = await asyncio.gather(
            *(
                collection.bulk_write(
                    [
                        UpdateOne({"_id": f"k{n}", "rev": 0}, {"$set": {"rev": 1, "by": w}})
                        for n in range(500)
                    ],
                    ordered=False,
                )
                for w in ("a", "b")
            )
        )
        assert sum(r.matched_count for r in results) == 500, f"round {round_}"
        by = [d["by"] async for d in collection.find({}, {"by": 1})]
        assert (by.count("a"), by.count("b")) == (
            results[0].matched_count,
            results[1].matched_count,
        )


async def test_sql_statements_are_logged_with_their_arguments_at_debug_level(
    tmp_path: Path,
) -> None:
    # The build formats a statement's arguments only when debug logging is on (sql_debug.go);
    # on, the log must still show each statement and what it wrote.
    port, log_file = free_port(), tmp_path / "ferretdb.log"
    command = [str(ferretdb_binary()), "-listen-addr", f"127.0.0.1:{port}"]
    command += ["-sqlite-dir", f"{tmp_path}/", "-log-level", "debug"]
    with log_file.open("wb") as log:
        server = await asyncio.create_subprocess_exec(*command, stderr=log)
        debug: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=10_000
        )
        try:
            await debug.logs.items.insert_one({"_id": "k1", "marker": "written-value-7"})
        finally:
            await debug.close()
            server.terminate()
            await server.wait()
    logged = [line for line in log_file.read_text().splitlines() if ">>> INSERT" in line]
    assert any("written-value-7" in line for line in logged), logged
