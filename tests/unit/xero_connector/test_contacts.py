"""Customers to contacts: whose contact is whose (tables), and the resolver's levels over a
hand-written fake of the Xero port."""

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from sync_schemas import Customer
from xero_connector.contacts import ContactResolver, contact_number, match
from xero_connector.ports import XeroScope
from xero_connector.xero_models import ContactPage, WrittenContact, XeroContact

SCOPE = XeroScope("org_a", "tenant-1")


def contact(cid: str, name: str, number: str | None = None, status: str = "ACTIVE") -> XeroContact:
    return XeroContact(cid, name, number, status)


HARBOUR = Customer(id="cus_42", name="Harbour Cafe Ltd")


@pytest.mark.parametrize(
    ("contacts", "own", "namesake"),
    [
        ([], None, None),
        ([contact("c1", "Other", "cus_42")], "c1", None),  # the number decides, not the name
        ([contact("c1", "Harbour Cafe Ltd")], "c1", None),  # no number: the exact name
        ([contact("c1", " harbour cafe ltd ")], "c1", None),  # as Xero compares names
        ([contact("c1", "Harbour Cafe Ltd", "cus_7")], None, "c1"),  # another customer's
        ([contact("c1", "Harbour Cafe Ltd", "cus_7"), contact("c2", "X", "cus_42")], "c2", None),
        ([contact("c1", "Harbour Cafe Ltd", "cus_42", status="ARCHIVED")], None, None),
        ([contact("c1", "Harbour Cafe")], None, None),  # not exactly the name
        # ContactNumbers compare exactly: "CUS_42" is another customer's id
        ([contact("c1", "Harbour Cafe Ltd", "CUS_42")], None, "c1"),
    ],
)
def test_whose_contact_is_whose(
    contacts: list[XeroContact], own: str | None, namesake: str | None
) -> None:
    found = match(HARBOUR, contacts)
    assert (found.contact.contact_id if found.contact else None) == own
    assert (found.namesake.contact_id if found.namesake else None) == namesake


def test_long_customer_ids_get_distinct_contact_numbers_within_50_characters() -> None:
    a, b = "c" * 60 + "-a", "c" * 60 + "-b"
    assert len(contact_number(a)) == len(contact_number(b)) == 50
    assert contact_number(a) != contact_number(b)
    assert contact_number("cus_42") == "cus_42"
    assert contact_number("x" * 50) == "x" * 50


class FakeXero:
    """The contact half of the Xero port, in memory, counting calls."""

    def __init__(self, *contacts: XeroContact) -> None:
        self.contacts = list(contacts)
        self.calls: list[str] = []

    async def contacts_page(self, scope: XeroScope, page: int) -> ContactPage:
        self.calls.append("page")
        return ContactPage(list(self.contacts), 1)

    async def contact_by_number(self, scope: XeroScope, number: str) -> XeroContact | None:
        self.calls.append("by_number")
        return next((c for c in self.contacts if c.number == number), None)

    async def contacts_named(self, scope: XeroScope, name: str) -> list[XeroContact]:
        self.calls.append("named")
        return [c for c in self.contacts if c.name == name]

    async def create_contacts(
        self, scope: XeroScope, contacts: Sequence[Mapping[str, Any]], *, key: str
    ) -> list[WrittenContact]:
        self.calls.append("create")
        made = [
            contact(f"new-{len(self.contacts) + i}", c["Name"], c["ContactNumber"])
            for i, c in enumerate(contacts)
        ]
        self.contacts += made
        return [WrittenContact(c) for c in made]


class MemoryCache:
    def __init__(self) -> None:
        self.docs: dict[tuple[XeroScope, str], str] = {}

    async def get_many(self, scope: XeroScope, customer_ids: Sequence[str]) -> dict[str, str]:
        return {c: self.docs[scope, c] for c in customer_ids if (scope, c) in self.docs}

    async def put_many(self, scope: XeroScope, contacts: Mapping[str, str]) -> None:
        self.docs.update({(scope, c): i for c, i in contacts.items()})

    async def forget(self, scope: XeroScope, customer_id: str) -> None:
        self.docs.pop((scope, customer_id), None)

    async def forget_org(self, org_id: str) -> None:
        self.docs = {k: v for k, v in self.docs.items() if k[0].org_id != org_id}


def resolver(xero: FakeXero, cache: MemoryCache | None = None) -> ContactResolver:
    return ContactResolver(xero, cache or MemoryCache(), directory_ttl_seconds=300)  # type: ignore[arg-type]


async def test_a_contact_made_in_xero_after_a_miss_is_found_without_waiting_for_the_ttl() -> None:
    xero = FakeXero()
    contacts = resolver(xero)
    ids, missing = await contacts.resolve(SCOPE, [HARBOUR], auto_create=False)
    assert ids == {} and "cus_42" in missing
    xero.contacts.append(contact("c9", "Harbour Cafe Ltd", "cus_42"))  # made by hand
    ids, missing = await contacts.resolve(SCOPE, [HARBOUR], auto_create=False)
    assert ids == {"cus_42": "c9"} and missing == {}


async def test_a_refused_contact_is_dropped_from_every_level() -> None:
    xero = FakeXero(contact("c1", "Harbour Cafe Ltd", "cus_42"))
    cache = MemoryCache()
    contacts = resolver(xero, cache)
    assert (await contacts.resolve(SCOPE, [HARBOUR], auto_create=False))[0] == {"cus_42": "c1"}
    xero.contacts = [contact("c2", "Harbour Cafe Ltd", "cus_42")]  # c1 archived, c2 made
    await contacts.forget(SCOPE, "cus_42")
    assert cache.docs == {}
    assert (await contacts.resolve(SCOPE, [HARBOUR], auto_create=False))[0] == {"cus_42": "c2"}


async def test_contacts_are_kept_per_tenant() -> None:
    xero = FakeXero(contact("c1", "Harbour Cafe Ltd", "cus_42"))
    contacts = resolver(xero)
    await contacts.resolve(SCOPE, [HARBOUR], auto_create=False)
    xero.contacts = []
    other = XeroScope("org_a", "tenant-2")
    ids, missing = await contacts.resolve(other, [HARBOUR], auto_create=False)
    assert ids == {} and "cus_42" in missing


async def test_beside_a_namesake_a_distinguishable_contact_is_created() -> None:
    xero = FakeXero(contact("c1", "Harbour Cafe Ltd", "cus_7"))
    ids, _ = await resolver(xero).resolve(SCOPE, [HARBOUR], auto_create=True)
    made = xero.contacts[-1]
    assert ids == {"cus_42": made.contact_id}
    assert (made.name, made.number) == ("Harbour Cafe Ltd (cus_42)", "cus_42")


async def test_with_auto_create_on_no_lookup_per_new_customer() -> None:
    xero = FakeXero()
    customers = [Customer(id=f"cus_{n}", name=f"Customer {n}") for n in range(20)]
    ids, _ = await resolver(xero).resolve(SCOPE, customers, auto_create=True)
    assert len(ids) == 20 and xero.calls == ["page", "create"]
