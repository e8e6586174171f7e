"""Hand-written in-memory fakes of the service's ports."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from invoice_events.decisions import KeyRecord, KeyState, PublishState, Snapshot, StoredResponse
from service_kit.errors import RetryLater
from sync_schemas import CloudEvent


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeSnapshots:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], Snapshot] = {}
        self.reads: list[list[tuple[str, str]]] = []  # the keys of each get_by_keys
        self.fail_marks = 0  # mark_published raises mark_error this many times
        self.mark_error: BaseException = RetryLater("MongoDB is unavailable")

    async def get(self, org_id: str, invoice_id: str) -> Snapshot | None:
        return self.docs.get((org_id, invoice_id))

    async def get_by_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Snapshot]:
        self.reads.append(list(keys))
        return {key: self.docs[key] for key in keys if key in self.docs}

    async def insert_many(self, snapshots: Sequence[Snapshot]) -> list[bool]:
        return [await self.insert(snapshot) for snapshot in snapshots]

    async def insert(self, snapshot: Snapshot) -> bool:
        key = (snapshot.invoice.org_id, snapshot.invoice.invoice_id)
        if key in self.docs:
            return False
        self.docs[key] = snapshot
        return True

    async def replace_if(self, expected_claim: str, snapshot: Snapshot) -> bool:
        key = (snapshot.invoice.org_id, snapshot.invoice.invoice_id)
        if key not in self.docs or self.docs[key].claim != expected_claim:
            return False
        self.docs[key] = snapshot
        return True

    async def mark_published(self, marks: Sequence[tuple[str, str, str]]) -> None:
        if self.fail_marks:
            self.fail_marks -= 1
            raise self.mark_error
        for org_id, invoice_id, event_id in marks:
            doc = self.docs.get((org_id, invoice_id))
            if doc and doc.event_id == event_id and doc.state is PublishState.PENDING:
                self.docs[(org_id, invoice_id)] = replace(doc, state=PublishState.PUBLISHED)

    async def stale_pending(self, claimed_before: datetime, limit: int) -> list[Snapshot]:
        stale = [
            d
            for d in self.docs.values()
            if d.state is PublishState.PENDING and d.claimed_at <= claimed_before
        ]
        return stale[:limit]


class FakePublisher:
    """Records what it publishes; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.events: list[CloudEvent[Any]] = []
        self.fail = 0

    async def publish(self, event: CloudEvent[Any]) -> None:
        if self.fail:
            self.fail -= 1
            raise RetryLater("kafka is down")
        self.events.append(event)


class FakeKeys:
    def __init__(self) -> None:
        self.docs: dict[str, KeyRecord] = {}

    async def get(self, key_id: str) -> KeyRecord | None:
        return self.docs.get(key_id)

    async def insert(self, record: KeyRecord) -> bool:
        if record.key_id in self.docs:
            return False
        self.docs[record.key_id] = record
        return True

    async def replace_if(self, expected_claim: str, record: KeyRecord) -> bool:
        if self.docs.get(record.key_id) is None or self.docs[record.key_id].claim != expected_claim:
            return False
        self.docs[record.key_id] = record
        return True

    async def complete(self, key_id: str, claim: str, response: StoredResponse) -> None:
        if key_id in self.docs and self.docs[key_id].claim == claim:
            self.docs[key_id] = replace(self.docs[key_id], state=KeyState.DONE, response=response)

    async def release(self, key_id: str, claim: str) -> None:
        if key_id in self.docs and self.docs[key_id].claim == claim:
            del self.docs[key_id]

    async def purge(self, created_before: datetime) -> int:
        old = [k for k, r in self.docs.items() if r.created_at <= created_before]
        for k in old:
            del self.docs[k]
        return len(old)
