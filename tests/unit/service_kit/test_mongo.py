"""find_by_ids: one primary-key read per distinct id, a bounded number at once."""

import asyncio
from typing import Any

import pytest

from service_kit.mongo import find_by_ids

pytestmark = pytest.mark.unit


class RecordingCollection:
    """find_one over a dict, recording the filters and the most reads in flight."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs
        self.filters: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.filters.append(query)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        return self.docs.get(query["_id"])


async def test_returns_the_existing_documents_in_the_order_asked() -> None:
    collection = RecordingCollection({"b": {"_id": "b"}, "a": {"_id": "a"}})
    found = await find_by_ids(collection, ["a", "missing", "b", "a"])  # type: ignore[arg-type]
    assert list(found) == ["a", "b"]
    assert found["b"] == {"_id": "b"}
    assert sorted(f["_id"] for f in collection.filters) == ["a", "b", "missing"]


async def test_bounds_the_reads_in_flight() -> None:
    collection = RecordingCollection({})
    await find_by_ids(collection, [str(i) for i in range(50)], parallel=4)  # type: ignore[arg-type]
    assert collection.most_in_flight == 4
    assert await find_by_ids(collection, []) == {}  # type: ignore[arg-type]
