"""Before Xero: what each invoice of a batch turns into, a write or an outcome already.

    writes = await preparer.writes(scope, settings, mappings, targets, records, sync_results)
    ...                                     # the writer sends them
    await preparer.after(scope, targets, sync_results)   # forget what Xero said is stale

Voids read the current status in Xero of what we created (the planner decides DELETED,
VOIDED, nothing or a refusal); the others are pre-validated against the mappings and the
organisation's cached Xero settings (read again once when they would reject an invoice),
get their contacts for the whole group, and become a payload that is written only when it
differs from the one last written.
"""

import time
from typing import Protocol

from sync_schemas import ErrorCode, InvoiceStatus
from xero_connector.contacts import ContactResolver
from xero_connector.domain import InvoiceRecord, Mappings, OrgSettings, Used
from xero_connector.mapping import OrgFacts, cancel_payload, payload_hash, prevalidate, to_xero
from xero_connector.org_data import OrgDataCache
from xero_connector.ports import XeroAccounting, XeroScope
from xero_connector.sync import planner
from xero_connector.sync.concurrent import alongside
from xero_connector.sync.model import SyncResult, Target, Write, failed

# Codes that mean the cached organisation settings may be stale.
_CACHE_CODES = frozenset(
    {ErrorCode.CURRENCY_NOT_ENABLED, ErrorCode.TAX_RATE_INVALID, ErrorCode.ACCOUNT_INVALID}
)


class Config(Protocol):
    async def settings_and_mappings(self, org_id: str) -> tuple[OrgSettings, Mappings]: ...

    async def record_used(self, org_id: str, used: Used) -> None: ...


class Preparer:
    def __init__(
        self,
        xero: XeroAccounting,
        config: Config,
        org_data: OrgDataCache,
        contacts: ContactResolver,
        url_template: str,
        *,
        refresh_interval_seconds: float = 30.0,
    ) -> None:
        self.xero = xero
        self._config = config
        self._org_data = org_data
        self._contacts = contacts
        self._url_template = url_template
        self._refresh_interval = refresh_interval_seconds
        self._refreshed_at: dict[XeroScope, float] = {}

    async def writes(
        self,
        scope: XeroScope,
        settings: OrgSettings,
        mappings: Mappings,
        targets: list[Target],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> list[Write]:
        voids = [t for t in targets if t.invoice.status is InvoiceStatus.VOID]
        others = [t for t in targets if t.invoice.status is not InvoiceStatus.VOID]
        cancels = await self._cancels(scope, voids, records, sync_results)
        if not others:
            return cancels
        # One write per batch and organisation (what the console's "seen" lists show), which
        # nothing here reads: it goes along with the preparing, and ends even if that fails.
        return cancels + await alongside(
            self._prepare(scope, settings, mappings, others, records, sync_results),
            self._config.record_used(scope.org_id, Used.by(t.invoice for t in others)),
            cut_short=False,
        )

    async def after(
        self, scope: XeroScope, targets: list[Target], sync_results: dict[str, SyncResult]
    ) -> None:
        """What Xero refused says what is stale here: the customer's contact, the cached
        organisation settings."""
        for t in targets:
            code = sync_results.get(t.invoice_id, SyncResult()).code
            if code is ErrorCode.CONTACT_MISSING:
                await self._contacts.forget(scope, t.invoice.customer.id)
            if code in _CACHE_CODES:
                self._refreshed_at.pop(scope, None)

    async def _cancels(
        self,
        scope: XeroScope,
        voids: list[Target],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> list[Write]:
        """Void upstream: read the current status in Xero of what we created, then plan."""
        if not voids:
            return []
        links = {t.invoice_id: records[t.invoice_id].link_in(scope.tenant_id) for t in voids}
        intents = {t.invoice_id: records[t.invoice_id].intent_in(scope.tenant_id) for t in voids}
        ids = [link.xero_invoice_id for link in links.values() if link is not None]
        numbers = [n for i, intent in intents.items() if links[i] is None for n in intent.numbers]
        found = (
            await self.xero.find_invoices(scope, ids=ids, numbers=numbers) if ids or numbers else []
        )
        by_id = {f.invoice_id: f for f in found}
        writes = []
        for t in voids:
            link = links[t.invoice_id]
            current = by_id.get(link.xero_invoice_id) if link else None
            if link is None and intents[t.invoice_id].numbers:
                owner = planner.ownership(t.invoice.invoice_number, intents[t.invoice_id], found)
                current = owner.invoice if isinstance(owner, planner.Adopt) else None
            decision = planner.cancel_status(link, current)
            if isinstance(decision, SyncResult):
                sync_results[t.invoice_id] = decision
                continue
            assert current is not None
            payload = cancel_payload(current.invoice_id, decision)
            writes.append(Write(t, payload, payload_hash(payload), current.invoice_id, cancel=True))
        return writes

    async def _prepare(
        self,
        scope: XeroScope,
        settings: OrgSettings,
        mappings: Mappings,
        targets: list[Target],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> list[Write]:
        live = await self._prevalidate(scope, settings, mappings, targets, sync_results)
        contact_ids, unresolved = await self._contacts.resolve(
            scope, [t.invoice.customer for t in live], auto_create=settings.auto_create_contacts
        )
        writes = []
        for t in live:
            customer = t.invoice.customer.id
            if customer not in contact_ids:
                why = unresolved.get(customer)
                message = why.message if why else f"customer {customer} has no Xero contact"
                xero_messages = why.xero_messages if why else ()
                sync_results[t.invoice_id] = failed(
                    ErrorCode.CONTACT_MISSING, message, xero_messages
                )
                continue
            url = planner.source_url(self._url_template, scope.org_id, t.invoice_id)
            payload = to_xero(t.invoice, settings, mappings, contact_ids[customer], url=url)
            digest = payload_hash(payload)
            link = records[t.invoice_id].link_in(scope.tenant_id)
            same = planner.unchanged(link, digest)
            if same is not None:
                sync_results[t.invoice_id] = same
                continue
            xero_id = link.xero_invoice_id if link else None
            writes.append(Write(t, payload, digest, xero_id))
        return writes

    async def _prevalidate(
        self,
        scope: XeroScope,
        settings: OrgSettings,
        mappings: Mappings,
        targets: list[Target],
        sync_results: dict[str, SyncResult],
    ) -> list[Target]:
        """What Xero would refuse, known without asking it; the cached org settings are read
        again once when they would reject an invoice (they may be stale)."""
        facts = await self._facts(scope, fresh=False)
        rejections = {
            t.invoice_id: prevalidate(t.invoice, settings, mappings, facts) for t in targets
        }
        if any(r is not None and r.code in _CACHE_CODES for r in rejections.values()):
            last = self._refreshed_at.get(scope, 0.0)
            if time.monotonic() - last > self._refresh_interval:
                facts = await self._facts(scope, fresh=True)
                rejections = {
                    t.invoice_id: prevalidate(t.invoice, settings, mappings, facts) for t in targets
                }
        for invoice_id, rejection in rejections.items():
            if rejection is not None:
                sync_results[invoice_id] = failed(
                    rejection.code, rejection.message, rejection.xero_messages
                )
        return [t for t in targets if t.invoice_id not in sync_results]

    async def _facts(self, scope: XeroScope, *, fresh: bool) -> OrgFacts:
        data = await self._org_data.get(scope, fresh=fresh)
        if fresh:
            self._refreshed_at[scope] = time.monotonic()
        return OrgFacts.of(data.currency_codes, data.tax_rates, data.accounts)
