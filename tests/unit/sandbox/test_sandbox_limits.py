from __future__ import annotations

from xero_sandbox.limits import Limits, RateLimiter

from .conftest import FakeClock


def test_minute_window_is_fixed_and_starts_at_the_first_call(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(per_minute=2), clock)
    assert limiter.acquire("t").headers["X-MinLimit-Remaining"] == "1"
    limiter.release("t")
    clock.advance(50)
    assert limiter.acquire("t").allowed
    limiter.release("t")
    refused = limiter.acquire("t")
    assert (refused.allowed, refused.problem, refused.retry_after) == (False, "minute", 10)
    clock.advance(10)  # the window opened at the first call, 60 s ago
    assert limiter.acquire("t").allowed


def test_windows_are_per_tenant(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(per_minute=1), clock)
    assert limiter.acquire("a").allowed
    clock.advance(30)
    assert limiter.acquire("b").allowed
    clock.advance(31)
    assert limiter.acquire("a").allowed  # a's window reset, b's has not
    assert limiter.acquire("b").problem == "minute"


def test_time_scale_shrinks_minute_and_day(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(per_minute=1, per_day=2, time_scale=60), clock)
    assert limiter.acquire("t").allowed
    assert limiter.acquire("t").retry_after == 1
    clock.advance(1)
    assert limiter.acquire("t").allowed
    clock.advance(1)
    refused = limiter.acquire("t")
    assert refused.problem == "day"
    assert refused.retry_after == 1438  # 1440 s per scaled day, 2 s gone
    clock.advance(1438)
    assert limiter.acquire("t").allowed


def test_refused_calls_are_not_counted(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(per_minute=1, per_day=5, app_per_minute=100), clock)
    limiter.acquire("t")
    for _ in range(5):
        assert not limiter.acquire("t").allowed
    clock.advance(60)
    decision = limiter.acquire("t")
    assert decision.headers["X-DayLimit-Remaining"] == "3"
    assert decision.headers["X-AppMinLimit-Remaining"] == "99"


def test_app_minute_spans_tenants(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(app_per_minute=2), clock)
    assert limiter.acquire("a").allowed
    assert limiter.acquire("b").allowed
    assert limiter.acquire("c").problem == "appminute"


def test_concurrency_counts_in_flight_calls(clock: FakeClock) -> None:
    limiter = RateLimiter(Limits(concurrent=2), clock)
    assert limiter.acquire("t").allowed
    assert limiter.acquire("t").allowed
    refused = limiter.acquire("t")
    assert (refused.problem, refused.retry_after) == ("concurrent", 1)
    limiter.release("t")
    assert limiter.acquire("t").allowed
