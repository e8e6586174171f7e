"""Settings and mappings per organisation, and the mapping check against live Xero.

settings = await config.settings("org_acme")      # the defaults for a new organisation
problems = await config.check("org_acme")         # [] when every mapped code is usable
await config.record_currencies("org_acme", ["EUR"])   # the pipeline, per invoice batch
"""

from collections.abc import Iterable
from datetime import timedelta

from service_kit.clock import Clock, utc_now
from xero_connector.checks import Problem, check_mappings
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.org_data import OrgDataCache
from xero_connector.ports import OrgConfigStore, XeroAccounting


class ConfigService:
    def __init__(
        self,
        store: OrgConfigStore,
        org_data: OrgDataCache,
        xero: XeroAccounting,
        *,
        recent_currency_days: float = 90,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._org_data = org_data
        self._xero = xero
        self._recent = timedelta(days=recent_currency_days)
        self._clock = clock

    async def settings(self, org_id: str) -> OrgSettings:
        return await self._store.get_settings(org_id) or OrgSettings()

    async def put_settings(self, org_id: str, settings: OrgSettings) -> OrgSettings:
        await self._store.put_settings(org_id, settings)
        return settings

    async def mappings(self, org_id: str) -> Mappings:
        return await self._store.get_mappings(org_id) or Mappings()

    async def put_mappings(self, org_id: str, mappings: Mappings) -> Mappings:
        await self._store.put_mappings(org_id, mappings)
        return mappings

    async def record_currencies(self, org_id: str, codes: Iterable[str]) -> None:
        await self._store.record_currencies(org_id, codes, self._clock())

    async def check(self, org_id: str) -> list[Problem]:
        """Raises NotConnected / ConnectionExpired / a XeroError when Xero cannot be asked."""
        data = await self._org_data.get(await self._xero.scope(org_id), fresh=True)
        seen = await self._store.recent_currencies(org_id, self._clock() - self._recent)
        return check_mappings(
            await self.settings(org_id),
            await self.mappings(org_id),
            tax_rates=data.tax_rates,
            accounts=data.accounts,
            currencies=data.currencies,
            seen_currencies=seen,
            org_id=org_id,
        )
