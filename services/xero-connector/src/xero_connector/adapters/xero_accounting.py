"""The typed Xero port over the rate-limited gateway: the one place that knows the Accounting
API's paths, query parameters and answer shapes. Every call, org data included, takes a slot
of the tenant's limiter and waits out 429s.

    xero = GatewayAccounting(gateway, tokens)
    scope = await xero.scope("org_acme")                   # the connected tenant
    written = await xero.create_invoices(scope, payloads, key=key, unitdp=2)
    found = await xero.find_invoices(scope, numbers=["INV-1", "INV-0001"])
"""

from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

from xero_connector.adapters.xero_client import BeforeSend
from xero_connector.gateway import XeroGateway
from xero_connector.ports import Payload, XeroAccess, XeroScope
from xero_connector.xero_errors import XeroError, XeroNotFound
from xero_connector.xero_models import (
    Account,
    ContactPage,
    Currency,
    Organisation,
    TaxRate,
    WrittenContact,
    WrittenInvoice,
    XeroContact,
    XeroInvoice,
    parse_accounts,
    parse_contact_page,
    parse_contacts,
    parse_currencies,
    parse_invoices,
    parse_organisation,
    parse_tax_rates,
    parse_written_contacts,
    parse_written_invoices,
)

CONTACTS_PAGE_SIZE = 1000
# GUIDs per GET: more than about 50 makes Xero's URL too long (XERO.md).
IDS_PER_GET = 50
NUMBERS_PER_GET = 25


class Access(Protocol):
    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess: ...


class WriterCheck(Protocol):
    async def check(self, org_id: str, epoch: int) -> None: ...


class GatewayAccounting:
    """``writers``: every write (invoices, contacts) checks that this instance is still the
    organisation's writer (writers.py) and raises Fenced if not. The check runs each time the
    write is about to go, in the limiter's slot and alongside the token read: a write that
    waited (its turn, a 429's Retry-After) is checked when it goes, not when it began."""

    def __init__(
        self, gateway: XeroGateway, tokens: Access, writers: WriterCheck | None = None
    ) -> None:
        self._gateway = gateway
        self._tokens = tokens
        self._writers = writers

    def _write_check(self, scope: XeroScope) -> BeforeSend | None:
        if self._writers is None:
            return None
        if scope.epoch <= 0:
            raise AssertionError("a Xero write needs the organisation's writer epoch")
        return partial(self._writers.check, scope.org_id, scope.epoch)

    async def scope(self, org_id: str) -> XeroScope:
        access = await self._tokens.access(org_id)
        return XeroScope(org_id, access.tenant_id, access.generation)

    # -- invoices ---------------------------------------------------------------------------

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Payload], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        return await self._write_invoices("PUT", scope, invoices, key, unitdp)

    async def update_invoices(
        self, scope: XeroScope, invoices: Sequence[Payload], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        assert all(i.get("InvoiceID") for i in invoices), "updates go by InvoiceID only"
        return await self._write_invoices("POST", scope, invoices, key, unitdp)

    async def _write_invoices(
        self, method: str, scope: XeroScope, invoices: Sequence[Payload], key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        check = self._write_check(scope)
        params: dict[str, str | int] = {"summarizeErrors": "false"}
        if unitdp != 2:
            params["unitdp"] = unitdp
        answer = await self._gateway.call(
            scope.org_id,
            scope.tenant_id,
            method,
            "/Invoices",
            params=params,
            json={"Invoices": list(invoices)},
            headers={"Idempotency-Key": key},
            safe=False,  # an unknown outcome is the caller's to resolve (look up first)
            before_send=check,
        )
        written = parse_written_invoices(answer.body)
        if len(written) != len(invoices):
            raise XeroError(f"Xero answered {len(written)} elements for {len(invoices)} sent")
        return written

    async def find_invoices(
        self, scope: XeroScope, *, numbers: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> list[XeroInvoice]:
        found: dict[str, XeroInvoice] = {}
        # InvoiceNumbers= is comma-separated: a number holding a comma is asked alone.
        for number in dict.fromkeys(n for n in numbers if "," in n):
            quoted = number.replace("\\", "\\\\").replace('"', '\\"')
            for invoice in await self._invoices(scope, {"where": f'InvoiceNumber=="{quoted}"'}):
                found[invoice.invoice_id] = invoice
        unique_numbers = list(dict.fromkeys(n for n in numbers if "," not in n))
        for start in range(0, len(unique_numbers), NUMBERS_PER_GET):
            chunk = ",".join(unique_numbers[start : start + NUMBERS_PER_GET])
            for invoice in await self._invoices(scope, {"InvoiceNumbers": chunk}):
                found[invoice.invoice_id] = invoice
        unique_ids = list(dict.fromkeys(ids))
        for start in range(0, len(unique_ids), IDS_PER_GET):
            chunk = ",".join(unique_ids[start : start + IDS_PER_GET])
            for invoice in await self._invoices(scope, {"IDs": chunk}):
                found[invoice.invoice_id] = invoice
        return list(found.values())

    async def _invoices(self, scope: XeroScope, params: dict[str, str | int]) -> list[XeroInvoice]:
        answer = await self._get(scope, "/Invoices", params)
        return parse_invoices(answer)

    # -- contacts ---------------------------------------------------------------------------

    async def contacts_page(self, scope: XeroScope, page: int) -> ContactPage:
        answer = await self._get(scope, "/Contacts", {"page": page, "pageSize": CONTACTS_PAGE_SIZE})
        return parse_contact_page(answer)

    async def contact_by_number(self, scope: XeroScope, number: str) -> XeroContact | None:
        try:
            answer = await self._get(scope, f"/Contacts/{number}", None)
        except XeroNotFound:
            return None
        contacts = [c for c in parse_contacts(answer) if c.number == number]
        return contacts[0] if contacts else None

    async def contacts_named(self, scope: XeroScope, name: str) -> list[XeroContact]:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        answer = await self._get(scope, "/Contacts", {"where": f'Name=="{quoted}"'})
        wanted = name.strip().casefold()
        return [c for c in parse_contacts(answer) if c.name.strip().casefold() == wanted]

    async def create_contacts(
        self, scope: XeroScope, contacts: Sequence[Payload], *, key: str
    ) -> list[WrittenContact]:
        check = self._write_check(scope)
        answer = await self._gateway.call(
            scope.org_id,
            scope.tenant_id,
            "PUT",
            "/Contacts",
            params={"summarizeErrors": "false"},
            json={"Contacts": list(contacts)},
            headers={"Idempotency-Key": key},
            safe=True,  # the key makes a replay return the first answer
            before_send=check,
        )
        written = parse_written_contacts(answer.body)
        if len(written) != len(contacts):
            raise XeroError(f"Xero answered {len(written)} contacts for {len(contacts)} sent")
        return written

    # -- organisation settings --------------------------------------------------------------

    async def organisation(self, scope: XeroScope) -> Organisation:
        return parse_organisation(await self._get_dict(scope, "/Organisation"))

    async def currencies(self, scope: XeroScope) -> list[Currency]:
        return parse_currencies(await self._get_dict(scope, "/Currencies"))

    async def tax_rates(self, scope: XeroScope) -> list[TaxRate]:
        return parse_tax_rates(await self._get_dict(scope, "/TaxRates"))

    async def accounts(self, scope: XeroScope) -> list[Account]:
        return parse_accounts(await self._get_dict(scope, "/Accounts"))

    # -- plumbing ---------------------------------------------------------------------------

    async def _get(self, scope: XeroScope, path: str, params: dict[str, str | int] | None) -> Any:
        answer = await self._gateway.call(scope.org_id, scope.tenant_id, "GET", path, params=params)
        return answer.body

    async def _get_dict(self, scope: XeroScope, path: str) -> dict[str, Any]:
        body = await self._get(scope, path, None)
        if not isinstance(body, dict):
            raise XeroError(f"GET {path} answered an unexpected body")
        return body
