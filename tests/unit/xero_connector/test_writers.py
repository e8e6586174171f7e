"""One writer per organisation: acquire, take over after expiry, fence a zombie, release."""

from datetime import datetime, timedelta

import pytest

from tests.unit.xero_connector.fakes import FakeClock
from xero_connector.writers import Fenced, WriterLeases


class MemoryLeases:
    """Epoch documents by insert, as the Mongo adapter keeps them."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, int], tuple[str, datetime]] = {}

    async def latest(self, org_id: str) -> tuple[int, str, datetime] | None:
        epochs = [e for (o, e) in self.docs if o == org_id]
        if not epochs:
            return None
        holder, expires = self.docs[org_id, max(epochs)]
        return max(epochs), holder, expires

    async def create(self, org_id: str, epoch: int, holder: str, expires_at: datetime) -> bool:
        if (org_id, epoch) in self.docs:
            return False
        self.docs[org_id, epoch] = (holder, expires_at)
        return True

    async def exists(self, org_id: str, epoch: int) -> bool:
        return (org_id, epoch) in self.docs

    async def extend(self, org_id: str, epoch: int, expires_at: datetime) -> None:
        holder, _ = self.docs[org_id, epoch]
        self.docs[org_id, epoch] = (holder, expires_at)


def two(clock: FakeClock) -> tuple[WriterLeases, WriterLeases, MemoryLeases]:
    store = MemoryLeases()

    async def tick(seconds: float) -> None:
        clock.advance(seconds)

    a = WriterLeases(store, "a", ttl_seconds=60, poll_seconds=5, clock=clock, sleep=tick)
    b = WriterLeases(store, "b", ttl_seconds=60, poll_seconds=5, clock=clock, sleep=tick)
    return a, b, store


async def test_the_first_writer_gets_epoch_1_and_keeps_it() -> None:
    a, _, _ = two(FakeClock())
    assert await a.acquire("org") == 1
    assert await a.acquire("org") == 1
    await a.check("org", 1)


async def test_a_successor_waits_out_a_live_lease_then_takes_over_and_fences_the_zombie() -> None:
    clock = FakeClock()
    a, b, _ = two(clock)
    await a.acquire("org")
    with pytest.raises(Fenced):
        await b.acquire("org", wait_seconds=10)  # a's lease is live for 60 s
    assert await b.acquire("org") == 2  # waited it out (a stopped renewing)
    with pytest.raises(Fenced):  # a wakes up and would write: refused
        await a.check("org", 1)
    await b.check("org", 2)


async def test_renewing_keeps_a_busy_writer_in_place() -> None:
    clock = FakeClock()
    a, b, _ = two(clock)
    await a.acquire("org")
    for _ in range(5):
        clock.advance(50)
        await a.check("org", 1)  # every write renews
    with pytest.raises(Fenced):
        await b.acquire("org", wait_seconds=30)


async def test_a_release_lets_the_successor_in_at_once() -> None:
    clock = FakeClock()
    a, b, _ = two(clock)
    await a.acquire("org")
    await a.release_all()
    assert await b.acquire("org", wait_seconds=0) == 2


class CountingLeases(MemoryLeases):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def latest(self, org_id: str) -> tuple[int, str, datetime] | None:
        self.calls += 1
        return await super().latest(org_id)

    async def extend(self, org_id: str, epoch: int, expires_at: datetime) -> None:
        self.calls += 1
        await super().extend(org_id, epoch, expires_at)


async def test_a_lease_renewed_a_moment_ago_is_kept_without_asking_the_store() -> None:
    clock = FakeClock()
    store = CountingLeases()
    a = WriterLeases(store, "a", ttl_seconds=60, clock=clock)
    assert await a.acquire("org") == 1
    taken = store.calls
    clock.advance(0.5)
    assert await a.acquire("org") == 1  # the next batch, half a second later
    assert store.calls == taken
    clock.advance(0.6)  # RENEW_EVERY since the renewal: renewed again, by the store
    assert await a.acquire("org") == 1
    assert store.calls == taken + 2
    assert store.docs["org", 1][1] == clock() + timedelta(seconds=60)


async def test_a_released_lease_is_not_kept_from_memory() -> None:
    clock = FakeClock()
    a, b, _ = two(clock)
    await a.acquire("org")
    await a.release_all()
    assert await b.acquire("org", wait_seconds=0) == 2
    with pytest.raises(Fenced):  # a moment after its renewal, but released: the store decides
        await a.acquire("org", wait_seconds=0)


async def test_a_lease_kept_from_memory_still_fences_the_write_when_a_later_epoch_exists() -> None:
    # A successor should not get in within a second of a renewal; if it does all the same
    # (clocks apart by most of a lease), each write's check still refuses.
    clock = FakeClock()
    a, _, store = two(clock)
    await a.acquire("org")
    await store.create("org", 2, "b", clock() + timedelta(seconds=60))
    assert await a.acquire("org") == 1  # from memory
    with pytest.raises(Fenced):
        await a.check("org", 1)
    with pytest.raises(Fenced):  # and the next batch asks the store
        await a.acquire("org", wait_seconds=0)
