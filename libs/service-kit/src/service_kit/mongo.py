"""MongoDB helpers every service needs.

Bulk writes go out in small commands. FerretDB v1 (the local MongoDB-wire server) holds one
pooled SQLite connection per update statement until the whole command ends, out of 100 per
database: a command of about 100 updates to existing documents, or several smaller ones at
once against the same database, exhausts the pool and deadlocks that database for good.
Commands of at most ``BULK_CHUNK`` statements keep even several concurrent writers well
clear of it, and cost nothing on MongoDB.
"""

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

BULK_CHUNK = 25

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
