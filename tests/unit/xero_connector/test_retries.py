"""Scheduled retries as events: an automatic retry carries its attempt; a sync parked on the
connection and released by a Connect is a reconnect request, not a retry."""

from datetime import UTC, datetime
from typing import Any

from sync_schemas import SyncReason
from tests.support.samples import invoice
from xero_connector.domain import PARKED_UNTIL, ScheduledRetry
from xero_connector.retries import ParkedSweep, RetryLoop

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Due:
    def __init__(self, *retries: ScheduledRetry) -> None:
        self.retries = list(retries)
        self.done_with: list[ScheduledRetry] = []

    async def due(self, now: datetime, limit: int = 500) -> list[ScheduledRetry]:
        return [r for r in self.retries if r.due_at <= NOW]

    async def done(self, retry: ScheduledRetry) -> None:
        self.done_with.append(retry)


async def test_retries_and_released_parked_syncs_become_requests() -> None:
    inv = invoice(invoice_id="inv_1").model_dump(mode="json")
    retry = ScheduledRetry("org_acme", "inv_1", NOW, 3, "b1", inv)
    released = ScheduledRetry("org_acme", "inv_2", NOW, 1, None, inv, parked=True)
    still_parked = ScheduledRetry("org_acme", "inv_3", PARKED_UNTIL, 1, None, inv, parked=True)
    published: list[Any] = []

    async def publish(event: Any) -> None:
        published.append(event.data)

    store = Due(retry, released, still_parked)
    assert await RetryLoop(store, publish).run_once() == 2
    first, second = published
    assert (first.reason, first.attempt, first.batch_id) == (SyncReason.RESYNC, 3, "b1")
    assert (second.reason, second.attempt) == (SyncReason.RECONNECT, None)
    assert store.done_with == [retry, released]


class ParkedStore:
    def __init__(self, parked: dict[str, int]) -> None:
        self.parked = dict(parked)
        self.released: list[str] = []

    async def orgs_still_parked(self) -> list[str]:
        return [org for org, count in self.parked.items() if count]

    async def release_parked(self, org_id: str, now: datetime) -> int:
        self.released.append(org_id)
        count, self.parked[org_id] = self.parked[org_id], 0
        return count


async def test_syncs_parked_after_their_connect_released_are_swept_once_connected() -> None:
    # org_late: a batch failing on the old connection parked 3 invoices after the Connect
    # had released the rest; org_down is still expired: its syncs keep waiting.
    store = ParkedStore({"org_late": 3, "org_down": 2})

    async def connected(org_id: str) -> bool:
        return org_id == "org_late"

    sweep = ParkedSweep(store, connected)
    assert await sweep.run_once() == 3
    assert store.released == ["org_late"] and store.parked["org_down"] == 2
    assert await sweep.run_once() == 0  # nothing left to release: the sweep is idempotent
