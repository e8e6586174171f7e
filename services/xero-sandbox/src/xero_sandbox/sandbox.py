"""The whole emulated world in one object: organisations, OAuth state, limits, idempotency,
faults and observations. One per app; ``reset`` forgets everything."""

from __future__ import annotations

import random
import uuid

from . import contacts
from .clock import Clock, system_clock
from .config import Settings
from .faults import Faults
from .idempotency import IdempotencyStore
from .limits import Limits, RateLimiter
from .model import Account, Org, TaxRate
from .observe import RequestLog, Stats
from .seed import build_org
from .tokens import TokenStore


def limits_from(settings: Settings) -> Limits:
    return Limits(
        per_minute=settings.per_minute,
        per_day=settings.per_day,
        concurrent=settings.concurrent,
        app_per_minute=settings.app_per_minute,
        time_scale=settings.time_scale,
    )


class Sandbox:
    def __init__(
        self, settings: Settings, clock: Clock = system_clock, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._rng = rng
        self.reset()

    def reset(self) -> None:
        settings = self.settings
        self.orgs: dict[str, Org] = {}
        self.tokens = TokenStore(self.clock)
        self.limiter = RateLimiter(limits_from(settings), self.clock)
        self.idempotency = IdempotencyStore(settings.idempotency_ttl_seconds, self.clock)
        self.faults = Faults(self._rng)
        self.log = RequestLog(settings.request_log_size)
        self.stats = Stats()

    def create_org(
        self,
        *,
        name: str,
        base_currency: str,
        currencies: list[str] | None = None,
        tax_rates: list[TaxRate] | None = None,
        accounts: list[Account] | None = None,
        contact_list: list[tuple[str, str | None, str | None]] | None = None,
        tenant_id: str | None = None,
    ) -> Org:
        now = self.clock()
        org = build_org(
            tenant_id=tenant_id or str(uuid.uuid4()),
            name=name,
            base_currency=base_currency,
            currencies=currencies,
            tax_rates=tax_rates,
            accounts=accounts,
            now=now,
        )
        for contact_name, number, email in contact_list or []:
            contacts.create(org, contact_name, number, email, {}, now)
        self.orgs[org.tenant_id] = org
        return org

    def newest_org(self) -> Org | None:
        return next(reversed(self.orgs.values()), None)
