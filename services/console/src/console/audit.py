"""The audit trail: every action an operator takes, who, when, on which organisation, and the
batch it started. Stored in MongoDB; shown on the Audit page, newest first."""

from datetime import UTC, datetime
from typing import Any, Protocol

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = ""
    at: datetime
    user: str
    role: str
    org_id: str | None = None
    action: str
    outcome: str = Field(default="ok", description="ok, or what went wrong")
    batch_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before: str | None


class AuditLog(Protocol):
    """Where actions are recorded: MongoDB (``AuditStore``), or a list in unit tests."""

    async def ensure_indexes(self) -> None: ...

    async def record(self, entry: AuditEntry) -> None: ...

    async def page(
        self, org_id: str | None = None, before: str | None = None, limit: int = 50
    ) -> AuditPage: ...


class AuditStore:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._entries = collection

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("org_id", 1), ("_id", DESCENDING)])

    async def record(self, entry: AuditEntry) -> None:
        await self._entries.insert_one(entry.model_dump(exclude={"id"}))

    async def page(
        self, org_id: str | None = None, before: str | None = None, limit: int = 50
    ) -> AuditPage:
        """Newest first; ``before`` is the last id of the previous page (keyset paging)."""
        query: dict[str, Any] = {}
        if org_id:
            query["org_id"] = org_id
        if before and ObjectId.is_valid(before):
            query["_id"] = {"$lt": ObjectId(before)}
        docs = await self._entries.find(query).sort("_id", DESCENDING).limit(limit + 1).to_list()
        items = [AuditEntry(id=str(d.pop("_id")), **d) for d in docs[:limit]]
        return AuditPage(items=items, next_before=items[-1].id if len(docs) > limit else None)


def now() -> datetime:
    return datetime.now(UTC)
