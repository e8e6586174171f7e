"""The explicit link: an operator adopts an invoice that is already in Xero (one typed by
hand, or another app's) after the sync refused it as ``invoice_number_taken``. Later
versions of the invoice then update that Xero invoice by its InvoiceID.

    linked = await links.link("org_acme", "inv_1", xero_invoice_id)
    await links.unlink("org_acme", "inv_1")
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import structlog

from xero_connector.domain import InvoiceRecord, Link
from xero_connector.errors import LinkRefused, UnknownInvoice
from xero_connector.ports import XeroAccounting
from xero_connector.xero_models import XeroInvoice

log = structlog.get_logger(__name__)


class LinkRecords(Protocol):
    async def get_many(
        self, org_id: str, invoice_ids: Sequence[str]
    ) -> dict[str, InvoiceRecord]: ...

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None: ...

    async def unlink(self, org_id: str, invoice_id: str) -> None: ...

    async def linked_to(self, org_id: str, xero_invoice_id: str) -> list[str]: ...


class LinkService:
    def __init__(self, xero: XeroAccounting, records: LinkRecords) -> None:
        self._xero = xero
        self._records = records

    async def link(self, org_id: str, invoice_id: str, xero_invoice_id: str) -> XeroInvoice:
        """Refused unless the Xero invoice exists in the connected tenant, is a sales invoice
        (ACCREC), carries the invoice's number and is not linked to another invoice."""
        record = (await self._records.get_many(org_id, [invoice_id])).get(invoice_id)
        if record is None or record.number is None:
            raise UnknownInvoice(
                f"invoice {invoice_id} of {org_id} has not been synced yet: sync it first"
            )
        scope = await self._xero.scope(org_id)
        found = await self._xero.find_invoices(scope, ids=[xero_invoice_id])
        target = next((f for f in found if f.invoice_id == xero_invoice_id), None)
        if target is None:
            raise LinkRefused(f"Xero invoice {xero_invoice_id} is not in the connected tenant")
        if target.type != "ACCREC":
            raise LinkRefused(f"Xero invoice {xero_invoice_id} is a {target.type}, not ACCREC")
        if target.number.casefold() != record.number.casefold():
            raise LinkRefused(
                f"Xero invoice {xero_invoice_id} is number {target.number}, "
                f"not the invoice's {record.number}"
            )
        others = [
            i for i in await self._records.linked_to(org_id, xero_invoice_id) if i != invoice_id
        ]
        if others:
            raise LinkRefused(f"Xero invoice {xero_invoice_id} is linked to invoice {others[0]}")
        # Version 0 and no payload hash: the next sync of any version updates it. (Link
        # writes never go below a stored version, so a previous link is forgotten first.)
        link = Link(scope.tenant_id, xero_invoice_id, 0, "", target.status)
        await self._records.unlink(org_id, invoice_id)
        # ``new``: a batch that stopped after storing the intents left no links document.
        await self._records.settle(org_id, {}, {invoice_id: link}, new={invoice_id})
        log.info("xero.invoice_linked", org_id=org_id, invoice_id=invoice_id)
        return target

    async def unlink(self, org_id: str, invoice_id: str) -> None:
        await self._records.unlink(org_id, invoice_id)
        log.info("xero.invoice_unlinked", org_id=org_id, invoice_id=invoice_id)
