"""Xero's rate limits: per tenant a minute, a day and concurrent calls; per app a minute.

Windows are fixed and start at a tenant's first call, so they reset at a different moment per
tenant, as Xero's do. ``time_scale`` shrinks both windows (60: a Xero minute is one second).
A refused call consumes nothing: it is not counted against any window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .clock import Clock

MINUTE = 60.0
DAY = 86400.0


@dataclass(slots=True)
class Limits:
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    app_per_minute: int = 10000
    time_scale: float = 1.0


@dataclass(slots=True)
class _Window:
    length: float
    start: float = -math.inf
    count: int = 0

    def roll(self, now: float) -> None:
        if now >= self.start + self.length:
            self.start = now
            self.count = 0

    def seconds_left(self, now: float) -> float:
        return self.start + self.length - now


@dataclass(slots=True)
class _TenantWindows:
    minute: _Window
    day: _Window
    in_flight: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # minute | day | appminute | concurrent
    retry_after: int = 0


class RateLimiter:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self._clock = clock
        self.configure(limits)

    def configure(self, limits: Limits) -> None:
        """New limits start fresh windows: a benchmark changing ``time_scale`` mid-run should
        not inherit a window measured on the old scale."""
        self.limits = limits
        self._tenants: dict[str, _TenantWindows] = {}
        self._app = _Window(MINUTE / limits.time_scale)

    def acquire(self, tenant_id: str) -> Decision:
        now = self._clock()
        windows = self._windows(tenant_id)
        windows.minute.roll(now)
        windows.day.roll(now)
        self._app.roll(now)
        limits = self.limits
        problem: tuple[str, float] | None = None
        if windows.day.count >= limits.per_day:
            problem = ("day", windows.day.seconds_left(now))
        elif windows.minute.count >= limits.per_minute:
            problem = ("minute", windows.minute.seconds_left(now))
        elif self._app.count >= limits.app_per_minute:
            problem = ("appminute", self._app.seconds_left(now))
        elif windows.in_flight >= limits.concurrent:
            problem = ("concurrent", 1.0)
        if problem is not None:
            kind, seconds = problem
            retry = max(1, math.ceil(seconds))
            return Decision(False, self._headers(windows), kind, retry)
        windows.day.count += 1
        windows.minute.count += 1
        self._app.count += 1
        windows.in_flight += 1
        return Decision(True, self._headers(windows))

    def release(self, tenant_id: str) -> None:
        windows = self._tenants.get(tenant_id)
        if windows is not None and windows.in_flight > 0:
            windows.in_flight -= 1

    def _windows(self, tenant_id: str) -> _TenantWindows:
        windows = self._tenants.get(tenant_id)
        if windows is None:
            scale = self.limits.time_scale
            windows = _TenantWindows(_Window(MINUTE / scale), _Window(DAY / scale))
            self._tenants[tenant_id] = windows
        return windows

    def _headers(self, windows: _TenantWindows) -> dict[str, str]:
        limits = self.limits
        return {
            "X-DayLimit-Remaining": str(max(0, limits.per_day - windows.day.count)),
            "X-MinLimit-Remaining": str(max(0, limits.per_minute - windows.minute.count)),
            "X-AppMinLimit-Remaining": str(max(0, limits.app_per_minute - self._app.count)),
        }
