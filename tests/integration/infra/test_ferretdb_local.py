"""The FerretDB wrapper keeps writes by _id indexed (deploy/local/ferretdb/idindex.go).

FerretDB v1 filters updates and deletes on ``_ferretdb_sjson->'$._id'`` while its own index is
on ``_ferretdb_sjson->"_id"``; the wrapper adds an index on the exact expression. The proof is
SQLite's own query plan for the statement FerretDB runs, read from the server's data file.
"""

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from local_infra import MongoServer, free_port
from local_infra.provision import real_mongod


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
        for _ in range(50):  # the keeper sweeps every 200 ms
            if any("USING INDEX" in step for step in update_plan(db_file)):
                break
            await asyncio.sleep(0.1)
        assert any("USING INDEX" in step and "__id_path" in step for step in update_plan(db_file))

        result = await client.idx.items.update_one({"_id": "k7"}, {"$set": {"v": -7}})
        assert result.modified_count == 1
        assert await client.idx.items.find_one({"_id": "k7"}) == {"_id": "k7", "v": -7}
    finally:
        await client.close()
