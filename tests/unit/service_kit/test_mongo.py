"""find_by_ids: one ``$in`` query per chunk of distinct ids, the documents in the order asked."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from service_kit.mongo import find_by_ids

pytestmark = pytest.mark.unit


class RecordingCollection:
    """``find({_id: {$in: ids}})`` over a dict, recording the queries."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs
        self.queries: list[list[str]] = []

    def find(self, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        ids = query["_id"]["$in"]
        self.queries.append(ids)

        async def matching() -> AsyncIterator[dict[str, Any]]:
            for key in reversed(ids):  # any order: the server owes none
                if key in self.docs:
                    yield self.docs[key]

        return matching()


async def test_returns_the_existing_documents_in_the_order_asked() -> None:
    collection = RecordingCollection({"b": {"_id": "b"}, "a": {"_id": "a"}})
    found = await find_by_ids(collection, ["a", "missing", "b", "a"])  # type: ignore[arg-type]
    assert list(found) == ["a", "b"]
    assert found["b"] == {"_id": "b"}
    assert collection.queries == [["a", "missing", "b"]]


async def test_asks_in_chunks_and_not_at_all_for_nothing() -> None:
    collection = RecordingCollection({str(i): {"_id": str(i)} for i in range(0, 50, 7)})
    found = await find_by_ids(collection, [str(i) for i in range(50)], chunk=20)  # type: ignore[arg-type]
    assert [len(q) for q in collection.queries] == [20, 20, 10]
    assert list(found) == [str(i) for i in range(0, 50, 7)]
    assert await find_by_ids(collection, []) == {}  # type: ignore[arg-type]
    assert len(collection.queries) == 3
