"""The token manager's decisions, over fakes: when to refresh, single flight, invalid_grant,
a lost refresh answer, fail-fast states."""

import asyncio
from dataclasses import replace

import pytest

from sync_schemas import ConnectionStatus
from tests.unit.xero_connector.fakes import (
    FakeClock,
    FakeConnections,
    FakeEvents,
    FakeIdentity,
    FakeLeases,
    connected,
)
from xero_connector.errors import ConnectionExpired, NotConnected
from xero_connector.tokens import TokenManager
from xero_connector.xero_errors import XeroUnavailable


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.connections = FakeConnections()
        self.leases = FakeLeases()
        self.identity = FakeIdentity()
        self.events = FakeEvents()

    def manager(self, holder: str = "me", **options: float) -> TokenManager:
        return TokenManager(
            self.connections,
            self.leases,
            self.identity,
            self.events,
            clock=self.clock,
            sleep=no_sleep,
            holder=holder,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_a_fresh_token_is_handed_out_without_refresh(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock)
    access = await world.manager().access("o")
    assert (access.access_token, access.tenant_id) == ("access-0", "tenant-1")
    assert world.identity.refreshed_with == []


async def test_a_token_close_to_expiry_is_refreshed_ahead(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=119)
    access = await world.manager(refresh_ahead_seconds=120).access("o")
    assert access.access_token == "access-1"
    assert world.identity.refreshed_with == ["refresh-0"]
    stored = world.connections.docs["o"]
    assert stored.tokens is not None and stored.tokens.refresh_token == "refresh-1"
    assert stored.generation == 2


async def test_a_rejected_token_is_refreshed_once_for_every_caller(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock)
    manager = world.manager()
    results = await asyncio.gather(*(manager.access("o", rejected="access-0") for _ in range(10)))
    assert {r.access_token for r in results} == {"access-1"}
    assert world.identity.refreshed_with == ["refresh-0"]


async def test_two_managers_share_one_refresh_through_the_lease(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=10)
    world.identity.delay = 0.05
    a, b = world.manager("a"), world.manager("b")
    results = await asyncio.gather(a.access("o"), b.access("o"), a.access("o"), b.access("o"))
    assert {r.access_token for r in results} == {"access-1"}
    assert len(world.identity.refreshed_with) == 1
    assert len(world.leases.acquired) == 1


async def test_invalid_grant_expires_the_connection_and_publishes(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=0)
    world.identity.refuse = True
    manager = world.manager()
    with pytest.raises(ConnectionExpired):
        await manager.access("o")
    stored = world.connections.docs["o"]
    assert stored.status is ConnectionStatus.EXPIRED and stored.tokens is None
    assert [(e.status, e.tenant_id) for e in world.events.published] == [
        (ConnectionStatus.EXPIRED, "tenant-1")
    ]
    with pytest.raises(ConnectionExpired):  # fail fast from now on
        await manager.access("o")
    assert len(world.identity.refreshed_with) == 1
    assert len(world.events.published) == 1


async def test_a_lost_refresh_answer_is_retried_with_the_same_token(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=0)
    world.identity.lose = 2
    access = await world.manager(retries=3).access("o")
    assert world.identity.refreshed_with == ["refresh-0"] * 3
    assert access.access_token == "access-3"


async def test_retries_give_up_as_unavailable_and_keep_the_stored_token(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=0)
    world.identity.lose = 5
    with pytest.raises(XeroUnavailable):
        await world.manager(retries=2).access("o")
    stored = world.connections.docs["o"]
    assert stored.tokens is not None and stored.tokens.refresh_token == "refresh-0"
    assert stored.status is ConnectionStatus.CONNECTED
    assert world.leases.held == {}  # released


async def test_no_connection_or_a_disconnected_one_fails_fast(world: World) -> None:
    manager = world.manager()
    with pytest.raises(NotConnected):
        await manager.access("nobody")
    gone = connected("o", world.clock).with_status(
        ConnectionStatus.DISCONNECTED, "bye", world.clock()
    )
    world.connections.docs["o"] = gone
    with pytest.raises(NotConnected):
        await manager.access("o")
    assert world.identity.refreshed_with == []


async def test_a_waiter_uses_the_token_another_instance_stored(world: World) -> None:
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=0)
    world.leases.held[("o", 1)] = "someone-else"
    manager = world.manager()
    waiting = asyncio.create_task(manager.access("o"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    tokens = connected("o", world.clock).tokens
    assert tokens is not None
    from xero_connector.domain import TokenPair

    await world.connections.put_tokens(
        "o",
        1,
        TokenPair("theirs", "their-refresh"),
        world.clock.now.replace(year=2027),
        world.clock(),
    )
    access = await asyncio.wait_for(waiting, 1)
    assert access.access_token == "theirs"
    assert world.identity.refreshed_with == []


async def test_a_stale_refusal_does_not_expire_the_connection_that_replaced_it(
    world: World,
) -> None:
    # A 403 answered to a request signed before Disconnect + Reconnect (generation 1 then,
    # 2 now): it says nothing of the new tokens.
    world.connections.docs["o"] = replace(connected("o", world.clock), generation=2)
    manager = world.manager()

    def status() -> ConnectionStatus:  # read afresh: mark_expired replaces the stored one
        return world.connections.docs["o"].status

    await manager.mark_expired("o", "Xero refused the tenant", generation=1)
    assert status() is ConnectionStatus.CONNECTED
    assert world.events.published == []
    await manager.mark_expired("o", "Xero refused the tenant", generation=2)
    assert status() is ConnectionStatus.EXPIRED
    assert [e.status for e in world.events.published] == [ConnectionStatus.EXPIRED]


async def test_a_refresh_that_outlasts_its_lease_keeps_it(world: World) -> None:
    # Lost answers retried within Xero's grace: the refresh runs longer than one lease, and
    # the lease is extended meanwhile so no second refresher starts.
    world.connections.docs["o"] = connected("o", world.clock, expires_in_s=0)
    world.identity.lose = 2
    await world.manager().access("o")
    assert world.leases.extended
    assert world.leases.held == {}  # released once done
