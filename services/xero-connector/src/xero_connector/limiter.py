"""A client-side rate limiter, so that a well-behaved run never meets a 429.

    limiter = RateLimiter(Limits(per_minute=60, concurrent=5, app_per_minute=10_000))
    async with limiter.slot(tenant_id):          # waits for a free slot; DailyLimitSpent
        answer = await call()
    limiter.observe(tenant_id, answer.limits)    # Xero's X-*-Remaining headers

Per tenant: at most ``concurrent`` calls in flight and ``per_minute`` calls sent in any
window of one (scaled) minute; per app: ``app_per_minute`` in any such window. A sliding
window over send times is stricter than Xero's fixed windows, so whatever moment Xero's
window starts, it never counts more than the limit (a small ``margin`` absorbs the difference
between our send time and Xero's arrival time). The day budget is Xero's own count
(``X-DayLimit-Remaining``): when it reaches 0 no call is sent until the day resets.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from xero_connector.metrics import LIMITER_WAIT_SECONDS, LIMITER_WAITS
from xero_connector.xero_models import RateLimits

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]


class DailyLimitSpent(Exception):
    """The tenant's daily budget is spent; try again in ``retry_after`` seconds."""

    def __init__(self, tenant_id: str, retry_after: float) -> None:
        super().__init__(f"Xero's daily API limit of tenant {tenant_id} is spent")
        self.tenant_id = tenant_id
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Limits:
    per_minute: int = 60
    concurrent: int = 5
    app_per_minute: int = 10_000
    time_scale: float = 1.0  # 60: a Xero minute lasts one second (the sandbox's time_scale)
    margin: float = 0.03  # widen each window by this fraction
    day_reset_seconds: float = 3600.0  # probe again after this long when the day budget is 0

    @property
    def window(self) -> float:
        return 60.0 / self.time_scale * (1.0 + self.margin)


class SlidingWindow:
    """At most ``limit`` events in any interval of ``seconds``."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self._sent and self._sent[0] <= now - self.seconds:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.seconds - now

    def take(self, now: float) -> None:
        self._sent.append(now)

    def fill(self, now: float) -> None:
        """Xero says the window is spent: count it full from now."""
        while len(self._sent) < self.limit:
            self._sent.append(now)


class _Tenant:
    def __init__(self, limits: Limits) -> None:
        self.minute = SlidingWindow(limits.per_minute, limits.window)
        self.concurrency = asyncio.Semaphore(limits.concurrent)
        self.day_remaining: int | None = None
        self.in_flight = 0
        self.day_blocked_until = 0.0


class RateLimiter:
    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        clock: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._app = SlidingWindow(limits.app_per_minute, limits.window)
        self._tenants: dict[str, _Tenant] = {}
        self._lock = asyncio.Lock()  # one waiter at a time takes from the shared windows

    def _tenant(self, tenant_id: str) -> _Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant(self.limits)
        return tenant

    def _check_day(self, tenant_id: str, tenant: _Tenant, now: float) -> None:
        if tenant.day_blocked_until:
            if now < tenant.day_blocked_until:
                raise DailyLimitSpent(tenant_id, tenant.day_blocked_until - now)
            # The reset moment has passed: let calls probe Xero's count again.
            tenant.day_blocked_until = 0.0
            tenant.day_remaining = None
        if tenant.day_remaining is not None and tenant.day_remaining - tenant.in_flight <= 0:
            tenant.day_blocked_until = now + self.limits.day_reset_seconds
            raise DailyLimitSpent(tenant_id, self.limits.day_reset_seconds)

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        tenant = self._tenant(tenant_id)
        started = self._clock()
        waited = False
        async with tenant.concurrency:
            while True:
                async with self._lock:
                    now = self._clock()
                    self._check_day(tenant_id, tenant, now)
                    wait = max(tenant.minute.wait(now), self._app.wait(now))
                    if wait <= 0:
                        tenant.minute.take(now)
                        self._app.take(now)
                        tenant.in_flight += 1
                        break
                waited = True
                await self._sleep(wait)
            if waited:
                LIMITER_WAITS.inc()
                LIMITER_WAIT_SECONDS.observe(self._clock() - started)
            try:
                yield
            finally:
                tenant.in_flight -= 1

    def observe(self, tenant_id: str, limits: RateLimits) -> None:
        """Xero's view after an answer: the day budget, and a minute Xero says is spent."""
        tenant = self._tenant(tenant_id)
        now = self._clock()
        if limits.day_remaining is not None:
            tenant.day_remaining = limits.day_remaining
            if limits.day_remaining > 0:
                tenant.day_blocked_until = 0.0
        if limits.minute_remaining == 0:
            tenant.minute.fill(now)
        if limits.app_minute_remaining == 0:
            self._app.fill(now)

    def day_spent(self, tenant_id: str, retry_after: float) -> None:
        """A 429 for the day: nothing goes to this tenant for ``retry_after`` seconds."""
        tenant = self._tenant(tenant_id)
        tenant.day_blocked_until = self._clock() + retry_after
        tenant.day_remaining = 0
