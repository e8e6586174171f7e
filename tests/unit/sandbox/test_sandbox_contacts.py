from __future__ import annotations

from typing import Any

import pytest

from xero_sandbox import contacts
from xero_sandbox.model import Org
from xero_sandbox.seed import build_org

NOW = 1_800_000_000.0


@pytest.fixture
def org() -> Org:
    return build_org(
        tenant_id="t",
        name="Org",
        base_currency="NZD",
        currencies=None,
        tax_rates=None,
        accounts=None,
        now=NOW,
    )


def _write(org: Org, *elements: dict[str, Any], update: bool = False) -> list[list[str]]:
    results = contacts.write(org, list(elements), allow_update=update, now=NOW)
    return [[e["Message"] for e in r.body.get("ValidationErrors", [])] for r in results]


def test_name_is_required_and_unique_among_active(org: Org) -> None:
    taken = (
        "The contact name Cafe is already assigned to another contact. The contact name must "
        "be unique across all active contacts."
    )
    assert _write(org, {"Name": "Cafe"}, {"Name": "Cafe"}, {"Name": " "}) == [
        [],
        [taken],
        ["Contact Name cannot be empty."],
    ]


def test_archived_contacts_free_their_name(org: Org) -> None:
    _write(org, {"Name": "Cafe", "ContactNumber": "C1"})
    assert _write(org, {"ContactNumber": "C1", "ContactStatus": "ARCHIVED"}, update=True) == [[]]
    assert _write(org, {"Name": "Cafe"}) == [[]]
    assert len(org.contacts) == 2


def test_contact_number_rules(org: Org) -> None:
    assert _write(org, {"Name": "A", "ContactNumber": "x" * 51}) == [
        ["The Contact Number must not exceed 50 characters."]
    ]
    _write(org, {"Name": "A", "ContactNumber": "N-1"})
    assert _write(org, {"Name": "B", "ContactNumber": "n-1"}) == [
        [
            "The contact number n-1 is already assigned to another contact. The contact "
            "number must be unique across all contacts."
        ]
    ]


def test_email_must_be_valid_but_need_not_be_unique(org: Org) -> None:
    assert _write(org, {"Name": "A", "EmailAddress": "nope"}) == [["Email address must be valid."]]
    assert _write(
        org, {"Name": "A", "EmailAddress": "a@x.nz"}, {"Name": "B", "EmailAddress": "a@x.nz"}
    ) == [[], []]


def test_post_updates_by_id_or_number(org: Org) -> None:
    (created,) = contacts.write(
        org, [{"Name": "A", "ContactNumber": "N"}], allow_update=False, now=NOW
    )
    contact_id = created.body["ContactID"]
    assert _write(org, {"ContactID": contact_id, "Name": "A2"}, update=True) == [[]]
    assert _write(org, {"ContactNumber": "N", "EmailAddress": "a@b.co"}, update=True) == [[]]
    contact = org.contacts[contact_id]
    assert (contact.name, contact.email, len(org.contacts)) == ("A2", "a@b.co", 1)
    assert contacts.by_name(org, "a") is None
    assert contacts.by_name(org, "a2") is contact
