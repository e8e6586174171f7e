"""An organisation's settings in Xero (Currencies, TaxRates, Accounts), cached per process,
organisation and tenant with a short TTL. The pipeline pre-validates against it and calls
``get(scope, fresh=True)`` after a Xero validation error; the mapping check always reads
fresh. Reads go through the typed port, so they share the tenant's rate limiter.

    data = await cache.get(XeroScope("org_acme", tenant_id))
    "EUR" in data.currency_codes
    (await cache.organisation(scope)).base_currency    # read apart: the pipeline never needs it
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service_kit.clock import Clock, utc_now
from xero_connector.ports import XeroAccounting, XeroScope
from xero_connector.xero_models import Account, Currency, Organisation, TaxRate


@dataclass(frozen=True, slots=True)
class OrgData:
    currencies: list[Currency]
    tax_rates: list[TaxRate]
    accounts: list[Account]
    fetched_at: datetime
    currency_codes: frozenset[str] = field(default=frozenset())

    @classmethod
    def of(
        cls,
        currencies: list[Currency],
        tax_rates: list[TaxRate],
        accounts: list[Account],
        at: datetime,
    ) -> "OrgData":
        codes = frozenset(c.code for c in currencies)
        return cls(currencies, tax_rates, accounts, at, codes)

    def tax_rate(self, tax_type: str) -> TaxRate | None:
        return next((r for r in self.tax_rates if r.tax_type == tax_type), None)

    def account(self, code: str) -> Account | None:
        return next((a for a in self.accounts if a.code == code), None)


class OrgDataCache:
    def __init__(self, reader: XeroAccounting, ttl_seconds: float, clock: Clock = utc_now) -> None:
        self._reader = reader
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock
        self._data: dict[XeroScope, OrgData] = {}
        self._locks: dict[XeroScope, asyncio.Lock] = {}
        self._organisations: dict[XeroScope, tuple[Organisation, datetime]] = {}

    async def get(self, scope: XeroScope, *, fresh: bool = False) -> OrgData:
        asked_at = self._clock()
        async with self._locks.setdefault(scope, asyncio.Lock()):
            cached = self._data.get(scope)
            # A fetch that finished while we waited for the lock is fresh enough.
            if cached is not None and (
                cached.fetched_at >= asked_at
                or (not fresh and self._clock() - cached.fetched_at < self._ttl)
            ):
                return cached
            currencies = await self._reader.currencies(scope)
            tax_rates = await self._reader.tax_rates(scope)
            accounts = await self._reader.accounts(scope)
            data = OrgData.of(currencies, tax_rates, accounts, self._clock())
            self._data[scope] = data
            return data

    async def organisation(self, scope: XeroScope) -> Organisation:
        """The Organisation record (its base currency), cached with the same TTL. Kept apart
        from ``get`` so the pipeline's refreshes cost no extra Xero call."""
        cached = self._organisations.get(scope)
        if cached is not None and self._clock() - cached[1] < self._ttl:
            return cached[0]
        organisation = await self._reader.organisation(scope)
        self._organisations[scope] = (organisation, self._clock())
        return organisation

    def invalidate(self, org_id: str) -> None:
        """Forget everything cached of the organisation (every tenant)."""
        for scope in [s for s in self._data if s.org_id == org_id]:
            del self._data[scope]
        for scope in [s for s in self._organisations if s.org_id == org_id]:
            del self._organisations[scope]
