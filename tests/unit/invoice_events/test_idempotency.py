"""Idempotency-Key: replay, conflict, in-progress, release on failure, expiry."""

from datetime import timedelta

import pytest

from invoice_events.decisions import StoredResponse
from invoice_events.idempotency import IdempotentRequests, KeyInProgress, KeyReused
from service_kit.errors import RetryLater
from tests.unit.invoice_events.fakes import Clock, FakeKeys

TTL, LEASE = timedelta(hours=1), timedelta(seconds=15)


class Handler:
    def __init__(self) -> None:
        self.calls = 0
        self.fail: Exception | None = None

    async def __call__(self) -> StoredResponse:
        self.calls += 1
        if self.fail:
            raise self.fail
        return StoredResponse(202, {"n": self.calls})


@pytest.fixture
def setup() -> tuple[IdempotentRequests, FakeKeys, Clock, Handler]:
    keys, clock = FakeKeys(), Clock()
    return IdempotentRequests(keys, ttl=TTL, lease=LEASE, clock=clock), keys, clock, Handler()


Setup = tuple[IdempotentRequests, FakeKeys, Clock, Handler]


async def test_replay_returns_the_first_answer_without_running_again(setup: Setup) -> None:
    requests, _, _, handle = setup
    first = await requests.run("k", "h1", handle)
    again = await requests.run("k", "h1", handle)
    assert first == (StoredResponse(202, {"n": 1}), False)
    assert again == (StoredResponse(202, {"n": 1}), True)
    assert handle.calls == 1
    with pytest.raises(KeyReused):
        await requests.run("k", "h2", handle)


async def test_a_failed_request_releases_the_key_and_an_expired_key_is_fresh(
    setup: Setup,
) -> None:
    requests, keys, clock, handle = setup
    handle.fail = RetryLater("down")
    with pytest.raises(RetryLater):
        await requests.run("k", "h1", handle)
    assert keys.docs == {}
    handle.fail = None
    assert (await requests.run("k", "h1", handle))[0].body == {"n": 2}

    clock.advance(TTL.total_seconds())
    assert await requests.run("k", "h2", handle) == (StoredResponse(202, {"n": 3}), False)
    clock.advance(TTL.total_seconds())
    assert await requests.purge() == 1


async def test_a_concurrent_repeat_is_refused_until_the_first_ends_or_dies(setup: Setup) -> None:
    requests, _, _, handle = setup

    async def nested() -> StoredResponse:
        with pytest.raises(KeyInProgress):
            await requests.run("k", "h1", handle)
        raise SystemExit  # the first request's process dies mid-way

    with pytest.raises(SystemExit):
        await requests.run("k", "h1", nested)
    # release ran on the way out, so a retry runs at once
    assert (await requests.run("k", "h1", handle))[1] is False
