"""Customers -> Xero ContactIDs, per organisation and tenant, with as few Xero calls as
possible and never another customer's contact.

    ids, why_not = await resolver.resolve(scope, customers, auto_create=True)
    await resolver.forget(scope, "cus_42")     # Xero refused the ContactID: ask again next time

Order: the in-memory cache, the MongoDB cache (both per tenant), then the tenant's contact
directory (all pages, re-read after ``directory_ttl_seconds``), then, for what is still missing,
one fresh lookup per customer (ContactNumber, then exact name: a contact created in Xero a
minute ago counts), then batched creates when auto-create is on.

A contact is the customer's when its ContactNumber is the customer's (``contact_number``),
or it has no ContactNumber and exactly the customer's name. A same-named contact with another
ContactNumber is another customer's: with auto-create on a distinguishable contact is created
("Name (customer id)"); with it off the invoice fails ``contact_missing`` saying which contact
holds the name.

``per_invoice=True`` is the benchmark's baseline: no caches, one lookup per invoice.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from sync_schemas import Customer
from xero_connector.ports import ContactCache, Payload, XeroAccounting, XeroScope
from xero_connector.xero_models import XeroContact

log = structlog.get_logger(__name__)
MAX_CONTACT_NUMBER = 50  # Xero's limit on ContactNumber


def contact_number(customer_id: str) -> str:
    """The ContactNumber of a customer: its id, or for an id over Xero's 50 characters a
    prefix and a digest of the whole id, so two long ids never share a number."""
    if len(customer_id) <= MAX_CONTACT_NUMBER:
        return customer_id
    digest = hashlib.sha256(customer_id.encode()).hexdigest()[:16]
    return f"{customer_id[: MAX_CONTACT_NUMBER - 17]}~{digest}"


def _name_key(name: str) -> str:
    return name.strip().casefold()


@dataclass
class _Directory:
    read_at: float
    by_number: dict[str, XeroContact] = field(default_factory=dict)
    by_name: dict[str, list[XeroContact]] = field(default_factory=dict)

    def learn(self, contact: XeroContact) -> None:
        if contact.status != "ACTIVE":
            return
        if contact.number:
            self.by_number[contact.number] = contact
        self.by_name.setdefault(_name_key(contact.name), []).append(contact)

    def candidates(self, customer: Customer) -> list[XeroContact]:
        by_number = self.by_number.get(contact_number(customer.id))
        return [
            *([by_number] if by_number else []),
            *self.by_name.get(_name_key(customer.name), []),
        ]

    def drop(self, contact_id: str) -> None:
        self.by_number = {k: c for k, c in self.by_number.items() if c.contact_id != contact_id}
        for key, named in list(self.by_name.items()):
            self.by_name[key] = [c for c in named if c.contact_id != contact_id]


@dataclass(frozen=True, slots=True)
class Unresolved:
    customer_id: str
    message: str
    xero_messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """What the directory (or a lookup) says of one customer."""

    contact: XeroContact | None  # the customer's own contact
    namesake: XeroContact | None = None  # another customer's contact with the same name


def match(customer: Customer, contacts: Sequence[XeroContact]) -> Match:
    """Pure: the customer's contact among ``contacts`` (see the module docstring)."""
    number = contact_number(customer.id)
    active = [c for c in contacts if c.status == "ACTIVE"]
    for contact in active:
        if contact.number == number:  # exactly: customer ids "acme-1" and "ACME-1" differ
            return Match(contact)
    named = [c for c in active if _name_key(c.name) == _name_key(customer.name)]
    own = next((c for c in named if not c.number), None)
    if own is not None:
        return Match(own)
    return Match(None, named[0] if named else None)


class ContactResolver:
    def __init__(
        self,
        xero: XeroAccounting,
        cache: ContactCache,
        *,
        create_batch: int = 50,
        directory_ttl_seconds: float = 300.0,
        per_invoice: bool = False,
    ) -> None:
        self._xero = xero
        self._cache = cache
        self._create_batch = create_batch
        self._ttl = directory_ttl_seconds
        self.per_invoice = per_invoice
        self._known: dict[XeroScope, dict[str, str]] = {}
        self._directories: dict[XeroScope, _Directory] = {}

    async def forget(self, scope: XeroScope, customer_id: str) -> None:
        """Xero refused the contact we gave for this customer: drop it from every level."""
        contact_id = self._known.get(scope, {}).pop(customer_id, None)
        directory = self._directories.get(scope)
        if directory is not None and contact_id is not None:
            directory.drop(contact_id)
        await self._cache.forget(scope, customer_id)

    async def resolve(
        self, scope: XeroScope, customers: Sequence[Customer], *, auto_create: bool
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        """ContactIDs by customer id, and why the others have none."""
        if self.per_invoice:
            return await self._one_by_one(scope, list(customers), auto_create)
        unique = {c.id: c for c in customers}
        known = self._known.setdefault(scope, {})
        resolved = {cid: known[cid] for cid in unique if cid in known}
        wanted = [cid for cid in unique if cid not in resolved]
        if wanted:
            resolved.update(await self._cache.get_many(scope, wanted))
        missing = [unique[cid] for cid in unique if cid not in resolved]
        fresh: dict[str, str] = {}
        failed: dict[str, Unresolved] = {}
        if missing:
            asked_at = time.monotonic()
            directory = await self._directory(scope)
            still: list[tuple[Customer, XeroContact | None]] = []
            for customer in missing:
                found = match(customer, directory.candidates(customer))
                if found.contact is not None:
                    fresh[customer.id] = found.contact.contact_id
                else:
                    still.append((customer, found.namesake))
            if still:
                # A directory read before this call may predate a contact made in Xero since.
                stale = directory.read_at < asked_at
                created, failed = await self._create_or_explain(scope, still, auto_create, stale)
                fresh.update(created)
        if fresh:
            await self._cache.put_many(scope, fresh)
            resolved.update(fresh)
        known.update(resolved)
        return resolved, failed

    async def _directory(self, scope: XeroScope) -> _Directory:
        directory = self._directories.get(scope)
        if directory is not None and time.monotonic() - directory.read_at < self._ttl:
            return directory
        directory = _Directory(time.monotonic())
        page = 1
        while True:
            answer = await self._xero.contacts_page(scope, page)
            for contact in answer.contacts:
                directory.learn(contact)
            last = page >= answer.page_count if answer.page_count else not answer.contacts
            if last:
                break
            page += 1
        self._directories[scope] = directory
        return directory

    async def _lookup(self, scope: XeroScope, customer: Customer) -> Match:
        """Fresh from Xero: by ContactNumber, then by exact name."""
        by_number = await self._xero.contact_by_number(scope, contact_number(customer.id))
        if by_number is not None and by_number.status == "ACTIVE":
            return Match(by_number)
        return match(customer, await self._xero.contacts_named(scope, customer.name))

    async def _create_or_explain(
        self,
        scope: XeroScope,
        still: list[tuple[Customer, XeroContact | None]],
        auto_create: bool,
        stale: bool,
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        """With auto-create on, a create refused because the contact now exists looks it up
        (below), so only a failure is worth a fresh lookup first, and only when the directory
        predates this call (the seed's remedy: create the contact in Xero, re-sync)."""
        found: dict[str, str] = {}
        to_create: list[tuple[Customer, XeroContact | None]] = []
        failed: dict[str, Unresolved] = {}
        for customer, namesake in still:
            looked = Match(None, namesake)
            if stale and not auto_create:
                looked = await self._lookup(scope, customer)
            if looked.contact is not None:
                found[customer.id] = looked.contact.contact_id
            elif auto_create:
                to_create.append((customer, looked.namesake or namesake))
            else:
                failed[customer.id] = _missing(customer, looked.namesake or namesake)
        if to_create:
            created, refused = await self._create(scope, to_create)
            found.update(created)
            failed.update(refused)
        return found, failed

    async def _create(
        self, scope: XeroScope, customers: list[tuple[Customer, XeroContact | None]]
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        created: dict[str, str] = {}
        failed: dict[str, Unresolved] = {}
        for start in range(0, len(customers), self._create_batch):
            chunk = customers[start : start + self._create_batch]
            payloads = [_contact_payload(c, namesake) for c, namesake in chunk]
            text = scope.org_id + "|" + scope.tenant_id + "|" + repr(payloads)
            key = "xc-contacts-" + hashlib.sha256(text.encode()).hexdigest()
            answers = await self._xero.create_contacts(scope, payloads, key=key)
            for (customer, _), answer in zip(chunk, answers, strict=True):
                if answer.contact is not None:
                    created[customer.id] = answer.contact.contact_id
                    directory = self._directories.get(scope)
                    if directory is not None:
                        directory.learn(answer.contact)
                    continue
                looked = await self._lookup(scope, customer)  # made meanwhile by another
                if looked.contact is not None:
                    created[customer.id] = looked.contact.contact_id
                else:
                    failed[customer.id] = Unresolved(
                        customer.id,
                        f"Xero refused to create contact {customer.name!r}",
                        answer.messages,
                    )
        return created, failed

    async def _one_by_one(
        self, scope: XeroScope, customers: list[Customer], auto_create: bool
    ) -> tuple[dict[str, str], dict[str, Unresolved]]:
        """The baseline: a lookup per invoice, a create per missing contact."""
        resolved: dict[str, str] = {}
        failed: dict[str, Unresolved] = {}
        for customer in customers:
            looked = await self._lookup(scope, customer)
            if looked.contact is not None:
                resolved[customer.id] = looked.contact.contact_id
            elif auto_create:
                created, refused = await self._create(scope, [(customer, looked.namesake)])
                resolved.update(created)
                failed.update(refused)
            else:
                failed[customer.id] = _missing(customer, looked.namesake)
        return resolved, failed


def _missing(customer: Customer, namesake: XeroContact | None) -> Unresolved:
    text = f"customer {customer.id} ({customer.name}) is not a Xero contact"
    if namesake is not None:
        text += (
            f"; Xero contact {namesake.contact_id} has that name but ContactNumber "
            f"{namesake.number!r}, so it is another customer's"
        )
    return Unresolved(customer.id, text + " and auto_create_contacts is off")


def _contact_payload(customer: Customer, namesake: XeroContact | None) -> Payload:
    """Names are unique among active contacts: beside another customer's namesake, the
    customer id makes the name distinguishable."""
    name = f"{customer.name} ({customer.id})" if namesake is not None else customer.name
    payload: Payload = {"Name": name, "ContactNumber": contact_number(customer.id)}
    if customer.email:
        payload["EmailAddress"] = customer.email
    return payload
