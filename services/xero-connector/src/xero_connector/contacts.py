"""Customers -> Xero ContactIDs, with as few Xero calls as possible.

    ids, why_not = await resolver.resolve(org, tenant, customers, auto_create=True)

Order: the in-memory cache, the MongoDB cache (``_id`` = ``{org}/{customer}``), then the
organisation's contact directory (read once per process and organisation, 1,000 contacts a
page), matching ContactNumber = customer id first, then the name; the rest are created in
batched PUTs (``summarizeErrors=false``) when auto-create is on. A create that Xero refuses
because the number or the name is taken (the directory was stale) resolves that one contact
by a lookup. The sandbox's ``where`` has no ``OR``, hence the directory rather than batched
``ContactNumber=="a" OR ...`` lookups.

``per_invoice=True`` is the benchmark's baseline: no caches, one lookup per invoice.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from sync_schemas import Customer
from xero_connector.gateway import XeroGateway
from xero_connector.mapping import NIL_GUID, element_failed, element_messages
from xero_connector.xero_errors import XeroNotFound

log = structlog.get_logger(__name__)
PAGE_SIZE = 1000


class ContactCache(Protocol):
    async def get_many(self, org_id: str, customer_ids: Sequence[str]) -> dict[str, str]: ...

    async def put_many(self, org_id: str, contacts: dict[str, str]) -> None: ...

    async def forget(self, org_id: str, customer_id: str) -> None: ...


@dataclass
class _Directory:
    by_number: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unresolved:
    customer_id: str
    message: str
    xero_messages: tuple[str, ...] = ()


class ContactResolver:
    def __init__(
        self,
        gateway: XeroGateway,
        cache: ContactCache,
        *,
        create_batch: int = 50,
        per_invoice: bool = False,
    ) -> None:
        self._gateway = gateway
        self._cache = cache
        self._create_batch = create_batch
        self.per_invoice = per_invoice
        self._known: dict[str, dict[str, str]] = {}
        self._directories: dict[str, _Directory] = {}

    def forget(self, org_id: str, customer_id: str) -> None:
        self._known.get(org_id, {}).pop(customer_id, None)

    async def forget_stored(self, org_id: str, customer_id: str) -> None:
        self.forget(org_id, customer_id)
        await self._cache.forget(org_id, customer_id)

    async def resolve(
        self, org_id: str, tenant_id: str, customers: Sequence[Customer], *, auto_create: bool
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        """ContactIDs by customer id, and why the others have none."""
        if self.per_invoice:
            return await self._one_by_one(org_id, tenant_id, customers, auto_create)
        unique = {c.id: c for c in customers}
        known = self._known.setdefault(org_id, {})
        resolved = {cid: known[cid] for cid in unique if cid in known}
        wanted = [cid for cid in unique if cid not in resolved]
        if wanted:
            stored = await self._cache.get_many(org_id, wanted)
            resolved.update(stored)
            known.update(stored)
        fresh: dict[str, str] = {}
        missing = [unique[cid] for cid in unique if cid not in resolved]
        if missing:
            directory = await self._directory(org_id, tenant_id)
            still: list[Customer] = []
            for customer in missing:
                contact = directory.by_number.get(customer.id) or directory.by_name.get(
                    customer.name.strip().lower()
                )
                if contact:
                    fresh[customer.id] = contact
                else:
                    still.append(customer)
            failed: dict[str, Unresolved] = {}
            if still and auto_create:
                created, failed = await self._create(org_id, tenant_id, still, directory)
                fresh.update(created)
            elif still:
                failed = {
                    c.id: Unresolved(
                        c.id,
                        f"customer {c.id} ({c.name}) is not a Xero contact "
                        "and auto_create_contacts is off",
                    )
                    for c in still
                }
            if fresh:
                resolved.update(fresh)
                known.update(fresh)
                await self._cache.put_many(org_id, fresh)
            return resolved, failed
        return resolved, {}

    async def _directory(self, org_id: str, tenant_id: str) -> _Directory:
        directory = self._directories.get(org_id)
        if directory is not None:
            return directory
        directory = _Directory()
        page = 1
        while True:
            answer = await self._gateway.call(
                org_id, tenant_id, "GET", "/Contacts", params={"page": page, "pageSize": PAGE_SIZE}
            )
            contacts = (answer.body or {}).get("Contacts") or []
            for contact in contacts:
                self._learn(directory, contact)
            if len(contacts) < PAGE_SIZE:
                break
            page += 1
        self._directories[org_id] = directory
        return directory

    @staticmethod
    def _learn(directory: _Directory, contact: dict[str, object]) -> None:
        contact_id = str(contact.get("ContactID") or "")
        if not contact_id or contact_id == NIL_GUID:
            return
        if contact.get("ContactStatus", "ACTIVE") != "ACTIVE":
            return
        if contact.get("ContactNumber"):
            directory.by_number[str(contact["ContactNumber"])] = contact_id
        if contact.get("Name"):
            directory.by_name.setdefault(str(contact["Name"]).strip().lower(), contact_id)

    async def _create(
        self, org_id: str, tenant_id: str, customers: list[Customer], directory: _Directory
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        created: dict[str, str] = {}
        failed: dict[str, Unresolved] = {}
        for start in range(0, len(customers), self._create_batch):
            chunk = customers[start : start + self._create_batch]
            body = {"Contacts": [_contact_payload(c) for c in chunk]}
            key = (
                "xc-contacts-"
                + hashlib.sha256(
                    (org_id + "|" + "|".join(f"{c.id}:{c.name}" for c in chunk)).encode()
                ).hexdigest()
            )
            answer = await self._gateway.call(
                org_id,
                tenant_id,
                "PUT",
                "/Contacts",
                params={"summarizeErrors": "false"},
                json=body,
                headers={"Idempotency-Key": key},
                safe=True,  # the key makes a replay return the first answer
            )
            elements = (answer.body or {}).get("Contacts") or []
            for customer, element in zip(chunk, elements, strict=False):
                if not element_failed(element):
                    created[customer.id] = str(element["ContactID"])
                    self._learn(directory, element)
                    continue
                found = await self._lookup(org_id, tenant_id, customer)
                if found:
                    created[customer.id] = found
                else:
                    messages = tuple(element_messages(element))
                    failed[customer.id] = Unresolved(
                        customer.id,
                        f"Xero refused to create contact {customer.name!r}",
                        messages,
                    )
        return created, failed

    async def _lookup(self, org_id: str, tenant_id: str, customer: Customer) -> str | None:
        """One contact by ContactNumber, then by name (after a refused create)."""
        try:
            answer = await self._gateway.call(org_id, tenant_id, "GET", f"/Contacts/{customer.id}")
            contacts = (answer.body or {}).get("Contacts") or []
            if contacts:
                return str(contacts[0]["ContactID"])
        except XeroNotFound:
            pass
        name = customer.name.replace('"', '\\"')
        answer = await self._gateway.call(
            org_id, tenant_id, "GET", "/Contacts", params={"where": f'Name=="{name}"'}
        )
        contacts = (answer.body or {}).get("Contacts") or []
        return str(contacts[0]["ContactID"]) if contacts else None

    async def _one_by_one(
        self, org_id: str, tenant_id: str, customers: Sequence[Customer], auto_create: bool
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        """The baseline: a lookup per invoice, a create per missing contact."""
        resolved: dict[str, str] = {}
        failed: dict[str, Unresolved] = {}
        for customer in customers:
            found = await self._lookup(org_id, tenant_id, customer)
            if found is None and auto_create:
                created, refused = await self._create(org_id, tenant_id, [customer], _Directory())
                found = created.get(customer.id)
                failed.update(refused)
            if found is not None:
                resolved[customer.id] = found
            elif customer.id not in failed:
                failed[customer.id] = Unresolved(
                    customer.id, f"customer {customer.id} ({customer.name}) is not a Xero contact"
                )
        return resolved, failed


def _contact_payload(customer: Customer) -> dict[str, str]:
    payload = {"Name": customer.name, "ContactNumber": customer.id[:50]}
    if customer.email:
        payload["EmailAddress"] = customer.email
    return payload
