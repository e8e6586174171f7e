"""A service's store work is counted as the server receives it: one command per round trip,
and the statements inside it (``service_kit.mongo_metrics``, read by ``make bench``)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, UpdateOne

from service_kit.mongo_metrics import COMMANDS, STATEMENTS, StoreCommands

pytestmark = pytest.mark.integration


@pytest.fixture
async def counted(mongodb_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000, event_listeners=[StoreCommands()]
    )
    try:
        yield client
    finally:
        await client.close()


def counts(command: str, collection: str) -> tuple[float, float]:
    return (
        COMMANDS.labels(command, collection)._value.get(),
        STATEMENTS.labels(command, collection)._value.get(),
    )


async def test_commands_and_their_statements_are_counted(
    counted: AsyncMongoClient[dict[str, Any]], unique: str
) -> None:
    collection = counted[unique[:60]][unique[:40]]
    name = collection.name
    try:
        inserted = counts("insert", name)
        await collection.insert_many([{"_id": n} for n in range(7)])
        assert counts("insert", name) == (inserted[0] + 1, inserted[1] + 7)

        updated = counts("update", name)
        await collection.bulk_write([UpdateOne({"_id": n}, {"$set": {"x": 1}}) for n in range(3)])
        assert counts("update", name) == (updated[0] + 1, updated[1] + 3)

        found = counts("find", name)
        assert len(await collection.find({"_id": {"$in": [1, 2]}}).to_list()) == 2
        assert counts("find", name) == (found[0] + 1, found[1] + 1)

        deleted = counts("delete", name)
        await collection.delete_many({"_id": {"$lt": 3}})
        assert counts("delete", name) == (deleted[0] + 1, deleted[1] + 1)
    finally:
        await counted.drop_database(collection.database.name)
