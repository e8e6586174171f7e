"""MongoDB helpers every service needs.

Bulk writes go out in small commands. FerretDB v1 (the local MongoDB-wire server) holds one
pooled SQLite connection per update statement until the whole command ends, out of 100 per
database: a command of about 100 updates to existing documents, or several smaller ones at
once against the same database, exhausts the pool and deadlocks that database for good.
Commands of at most ``BULK_CHUNK`` statements keep even several concurrent writers well
clear of it, and cost nothing on MongoDB.
"""

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

BULK_CHUNK = 25
# Reads in flight at once by ``find_by_ids``: each holds a pooled connection only while it runs.
PARALLEL_READS = 16

WriteOp = InsertOne[Any] | ReplaceOne[Any] | UpdateOne | UpdateMany | DeleteOne


async def bulk_write_chunked(
    collection: AsyncCollection[Any],
    operations: Sequence[WriteOp],
    *,
    ordered: bool = False,
    chunk: int = BULK_CHUNK,
) -> None:
    """``bulk_write`` in commands of at most ``chunk`` operations, in order."""
    for start in range(0, len(operations), chunk):
        await collection.bulk_write(list(operations[start : start + chunk]), ordered=ordered)


async def find_by_ids(
    collection: AsyncCollection[Any], ids: Iterable[Any], *, parallel: int = PARALLEL_READS
) -> dict[Any, Any]:
    """The documents of ``ids`` that exist, by ``_id``: one ``find_one({"_id": id})`` each,
    ``parallel`` at a time. FerretDB v1 serves only that filter from an index (``$in`` scans
    the collection), and one read at a time costs a round trip each.
    """
    wanted = list(dict.fromkeys(ids))
    found: dict[Any, Any] = {}
    gate = asyncio.Semaphore(parallel)

    async def one(key: Any) -> None:
        async with gate:
            doc = await collection.find_one({"_id": key})
        if doc is not None:
            found[key] = doc

    await asyncio.gather(*(one(key) for key in wanted))
    return {key: found[key] for key in wanted if key in found}


async def reads_by_secondary_indexes(db: AsyncDatabase[Any]) -> bool:
    """Whether the server answers queries from secondary indexes. FerretDB v1 does not (it
    pushes down ``_id`` lookups only and scans otherwise), so there a secondary index is pure
    write cost: each one roughly halves the insert rate."""
    info: dict[str, Any] = await db.client.admin.command("buildInfo")
    return "ferretdbVersion" not in info
