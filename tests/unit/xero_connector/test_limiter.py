"""The client-side limiter on a fake clock: never more than the limits, waits when full."""

import asyncio

import pytest

from xero_connector.limiter import DailyLimitSpent, Limits, RateLimiter
from xero_connector.xero_models import RateLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeClock, **limits: float) -> RateLimiter:
    spec = Limits(**({"margin": 0.0} | limits))  # type: ignore[arg-type]
    return RateLimiter(spec, clock=clock, sleep=clock.sleep)


async def test_per_minute_limit_waits_for_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=3, time_scale=60)  # a minute lasts 1 s
    sent = []
    for _ in range(7):
        async with rl.slot("t"):
            sent.append(clock.now)
    assert sent == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]


async def test_no_window_of_a_minute_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=5, time_scale=1)
    sent = []
    for step in range(40):
        clock.now += step % 7  # irregular arrivals
        async with rl.slot("t"):
            sent.append(clock.now)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60) <= 5


async def test_tenants_are_limited_apart_and_the_app_together() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=2, app_per_minute=3, time_scale=60)
    for tenant in ("a", "b", "a"):
        async with rl.slot(tenant):
            pass
    assert clock.now == 0.0
    async with rl.slot("b"):  # the app's 4th call in the window waits
        pass
    assert clock.now == 1.0


async def test_concurrency_is_capped() -> None:
    clock = FakeClock()
    rl = limiter(clock, concurrent=2, per_minute=100)
    in_flight = 0
    peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with rl.slot("t"):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(call() for _ in range(6)))
    assert peak == 2


async def test_a_spent_day_refuses_without_calling_until_the_reset() -> None:
    clock = FakeClock()
    rl = limiter(clock, day_reset_seconds=100)
    async with rl.slot("t"):
        pass
    rl.observe("t", RateLimits(day_remaining=0))
    with pytest.raises(DailyLimitSpent) as refused:
        async with rl.slot("t"):
            pass
    assert refused.value.retry_after == 100
    clock.now += 101
    async with rl.slot("t"):  # probes Xero again after the reset
        pass


async def test_a_429_for_the_day_blocks_for_its_retry_after() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.day_spent("t", 30)
    with pytest.raises(DailyLimitSpent):
        async with rl.slot("t"):
            pass
    clock.now += 31
    async with rl.slot("t"):
        pass


async def test_xero_saying_the_minute_is_spent_makes_us_wait() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=60, time_scale=60)
    async with rl.slot("t"):
        pass
    rl.observe("t", RateLimits(minute_remaining=0))
    async with rl.slot("t"):
        pass
    assert clock.now == pytest.approx(1.0)
