"""Settings and mappings per organisation, and the mapping check against live Xero.

settings = await config.settings("org_acme")      # the defaults for a new organisation
settings, mappings = await config.settings_and_mappings("org_acme")   # one read, the pipeline
problems = await config.check("org_acme")         # [] when every mapped code is usable
choices = await config.choices("org_acme")        # what the mappings may name, from Xero
await config.record_used("org_acme", Used.by(invoices))   # the pipeline, once per batch
seen = await config.seen("org_acme")              # what recent invoices used, mapped or not
"""

from datetime import timedelta

from service_kit.clock import Clock, utc_now
from xero_connector.checks import Problem, check_mappings
from xero_connector.choices import Choices, revenue_choices
from xero_connector.domain import Mappings, OrgSettings, Used
from xero_connector.org_data import OrgDataCache
from xero_connector.ports import OrgConfigStore, XeroAccounting
from xero_connector.seen import SeenCodes, seen_codes


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

    async def settings_and_mappings(self, org_id: str) -> tuple[OrgSettings, Mappings]:
        """The settings and the mappings as one read saw them (the defaults where unset)."""
        settings, mappings = await self._store.get_settings_and_mappings(org_id)
        return settings or OrgSettings(), mappings or Mappings()

    async def put_mappings(self, org_id: str, mappings: Mappings) -> Mappings:
        await self._store.put_mappings(org_id, mappings)
        return mappings

    async def record_used(self, org_id: str, used: Used) -> None:
        await self._store.record_used(org_id, used, self._clock())

    async def seen(self, org_id: str) -> SeenCodes:
        """What invoices used in the last ``recent_currency_days``, each marked mapped or not
        by the stored mappings and settings (no Xero call)."""
        last_seen = await self._store.seen_since(org_id, self._clock() - self._recent)
        settings, mappings = await self.settings_and_mappings(org_id)
        return seen_codes(last_seen, mappings, settings)

    async def check(self, org_id: str, proposal: Mappings | None = None) -> list[Problem]:
        """The stored mappings, or ``proposal`` (not saved), against the live organisation.
        Raises NotConnected / ConnectionExpired / a XeroError when Xero cannot be asked."""
        data = await self._org_data.get(await self._xero.scope(org_id), fresh=True)
        seen = await self._store.seen_since(org_id, self._clock() - self._recent)
        return check_mappings(
            await self.settings(org_id),
            proposal if proposal is not None else await self.mappings(org_id),
            tax_rates=data.tax_rates,
            accounts=data.accounts,
            currencies=data.currencies,
            seen_currencies=sorted(seen.currencies),
            org_id=org_id,
        )

    async def choices(self, org_id: str, *, refresh: bool = False) -> Choices:
        """The accounts, tax rates and currencies a mapping may name, from the cached reads
        of the live organisation (``refresh`` drops the organisation's cache first). Raises
        NotConnected / ConnectionExpired / a XeroError when Xero cannot be asked."""
        scope = await self._xero.scope(org_id)
        if refresh:
            self._org_data.invalidate(org_id)
        data = await self._org_data.get(scope)
        return revenue_choices(data, await self._org_data.organisation(scope))
