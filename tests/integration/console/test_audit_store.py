"""The audit trail in a real MongoDB-wire server: recorded, newest first, by organisation,
paged by key."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from console.audit import AuditEntry, AuditStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def entry(i: int, org_id: str, **fields: Any) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(seconds=i),
        user="ada",
        role="admin",
        org_id=org_id,
        action=f"action_{i}",
        **fields,
    )


async def test_entries_come_back_newest_first_by_organisation_and_page(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = AuditStore(mongo_db["audit"])
    await store.ensure_indexes()
    for i in range(5):
        await store.record(entry(i, "org_a" if i % 2 == 0 else "org_b"))
    await store.record(entry(5, "org_a", batch_id="b_1", detail={"count": 3}))

    first = await store.page("org_a", limit=2)
    assert [e.action for e in first.items] == ["action_5", "action_4"]
    assert first.items[0].batch_id == "b_1" and first.items[0].detail == {"count": 3}
    assert first.next_before is not None
    second = await store.page("org_a", before=first.next_before, limit=2)
    assert [e.action for e in second.items] == ["action_2", "action_0"]
    assert second.next_before is None

    everything = await store.page(limit=50)
    assert len(everything.items) == 6 and everything.items[0].at == T0 + timedelta(seconds=5)
