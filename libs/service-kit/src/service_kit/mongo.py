"""MongoDB helpers every service needs.

Bulk writes go out in commands of a size the server is known to take. Stock FerretDB v1
holds one pooled SQLite connection per update statement until the whole command ends, out of
100 per database: a command of about 100 updates to existing documents, or several smaller
ones at once against the same database, exhausts the pool and deadlocks that database for
good. There commands of at most ``BULK_CHUNK`` statements are the rule. MongoDB, and the
project's FerretDB build (which closes each statement's read and writes a command's changes
in one transaction: ``deploy/local/ferretdb/sqlite-patch``), take ``LARGE_BULK_CHUNK``:
fewer round trips, and on the local build fewer transactions. ``learn_bulk_limit``, called
once at a service's start, picks the size for the process.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

BULK_CHUNK = 25
LARGE_BULK_CHUNK = 500
# Ids per query of ``find_by_ids``.
READ_CHUNK = 500

WriteOp = InsertOne[Any] | ReplaceOne[Any] | UpdateOne | UpdateMany | DeleteOne
DUPLICATE_KEY = 11000


async def insert_if_new(collection: AsyncCollection[Any], document: Any) -> bool:
    """Insert ``document``; False (and nothing written) when its ``_id`` or another unique
    key is taken: the way to claim a key exactly once without transactions."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


async def insert_new(collection: AsyncCollection[Any], documents: Sequence[Any]) -> list[int]:
    """Insert the ``documents`` (unordered, one command) whose keys are not taken; returns the
    positions of those that were (already stored: a redelivery, a repeat). Any other write
    error is raised."""
    if not documents:
        return []
    try:
        await collection.insert_many(list(documents), ordered=False)
    except BulkWriteError as error:
        failures = error.details.get("writeErrors", [])
        if any(failure.get("code") != DUPLICATE_KEY for failure in failures):
            raise
        return [int(failure["index"]) for failure in failures]
    return []


class _BulkLimit:
    """The statements per command this process sends (``learn_bulk_limit``)."""

    chunk = BULK_CHUNK


async def learn_bulk_limit(db: AsyncDatabase[Any]) -> int:
    """Ask the server once which command size it takes safely (see the module's docstring)
    and use it for every ``bulk_write_chunked`` of the process; the size."""
    info: dict[str, Any] = await db.client.admin.command("buildInfo")
    features = info.get("ferretdbFeatures") or {}
    safe = "ferretdbVersion" not in info or features.get("updateReadsClosed") is True
    _BulkLimit.chunk = LARGE_BULK_CHUNK if safe else BULK_CHUNK
    return _BulkLimit.chunk


async def bulk_write_chunked(
    collection: AsyncCollection[Any],
    operations: Sequence[WriteOp],
    *,
    ordered: bool = False,
    chunk: int | None = None,
) -> int:
    """``bulk_write`` in commands of at most ``chunk`` operations (default: the size
    ``learn_bulk_limit`` chose), in order; how many documents the filters matched."""
    size = chunk or _BulkLimit.chunk
    matched = 0
    for start in range(0, len(operations), size):
        part = list(operations[start : start + size])
        matched += (await collection.bulk_write(part, ordered=ordered)).matched_count
    return matched


async def find_by_ids(
    collection: AsyncCollection[Any], ids: Iterable[Any], *, chunk: int = READ_CHUNK
) -> dict[Any, Any]:
    """The documents of ``ids`` that exist, by ``_id``, in the order asked: one
    ``{_id: {$in: [...]}}`` query per ``chunk`` distinct ids. MongoDB answers it from the
    ``_id`` index; so does the local FerretDB, whose build pushes ``$in`` on ``_id`` down to
    SQLite (``deploy/local/ferretdb/sqlite-patch``; FerretDB itself would scan)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[Any, Any] = {}
    for start in range(0, len(wanted), chunk):
        query = {"_id": {"$in": wanted[start : start + chunk]}}
        async for doc in collection.find(query):
            found[doc["_id"]] = doc
    return {key: found[key] for key in wanted if key in found}


async def reads_by_secondary_indexes(db: AsyncDatabase[Any]) -> bool:
    """Whether the server answers queries from secondary indexes. FerretDB v1 does not (it
    pushes down ``_id`` lookups only and scans otherwise), so there a secondary index is pure
    write cost: each one roughly halves the insert rate."""
    info: dict[str, Any] = await db.client.admin.command("buildInfo")
    return "ferretdbVersion" not in info


async def pushes_down_indexes(db: AsyncDatabase[Any]) -> bool:
    """Whether the server is the project's FerretDB build with its index pushdown on
    (``deploy/local/ferretdb/sqlite-patch``): it reads equality, sort-with-limit and counting
    queries through SQLite indexes on the fields they name, so the few indexes that serve the
    operator's views are worth their write cost there."""
    info: dict[str, Any] = await db.client.admin.command("buildInfo")
    features = info.get("ferretdbFeatures") or {}
    return features.get("indexPushdown") is True
