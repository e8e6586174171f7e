"""Contacts: create/update batches with Xero's uniqueness rules, lookups by index, and the
resolution of an invoice's ``Contact`` reference (match by ID, number or name, else create)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from . import messages, render
from .batch import ElementResult, error_echo
from .errors import PostDataInvalid
from .model import ZERO_GUID, Contact, Org
from .xero_json import JsonDict

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Optional fields stored verbatim and echoed on reads.
_EXTRA_FIELDS = (
    "FirstName",
    "LastName",
    "AccountNumber",
    "CompanyNumber",
    "TaxNumber",
    "BankAccountDetails",
    "Addresses",
    "Phones",
    "ContactPersons",
    "DefaultCurrency",
)


def _name_key(name: str) -> str:
    return name.strip().casefold()


def index(org: Org, contact: Contact) -> None:
    if contact.contact_number:
        org.contacts_by_number[contact.contact_number.casefold()] = contact.contact_id
    if contact.status == "ACTIVE":
        org.active_contacts_by_name[_name_key(contact.name)] = contact.contact_id
    if contact.email:
        org.contacts_by_email.setdefault(contact.email.casefold(), set()).add(contact.contact_id)


def unindex(org: Org, contact: Contact) -> None:
    if contact.contact_number:
        org.contacts_by_number.pop(contact.contact_number.casefold(), None)
    key = _name_key(contact.name)
    if org.active_contacts_by_name.get(key) == contact.contact_id:
        del org.active_contacts_by_name[key]
    if contact.email:
        org.contacts_by_email.get(contact.email.casefold(), set()).discard(contact.contact_id)


def by_name(org: Org, name: str) -> Contact | None:
    contact_id = org.active_contacts_by_name.get(_name_key(name))
    return org.contacts[contact_id] if contact_id else None


def by_number(org: Org, number: str) -> Contact | None:
    contact_id = org.contacts_by_number.get(number.casefold())
    return org.contacts[contact_id] if contact_id else None


def by_id_or_number(org: Org, key: str) -> Contact | None:
    return org.contacts.get(key) or by_number(org, key)


def _text(raw: JsonDict, field: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise PostDataInvalid(f"{field} must be a string")
    return str(value)


def field_errors(
    org: Org,
    name: str | None,
    number: str | None,
    email: str | None,
    self_id: str | None,
    *,
    active: bool = True,
) -> list[str]:
    """Xero's contact rules: a name, unique among active contacts; a unique ContactNumber of
    at most 50 characters; a well-formed e-mail when one is given."""
    errors: list[str] = []
    if not name or not name.strip():
        errors.append(messages.CONTACT_NAME_EMPTY)
    else:
        # An archived contact does not hold its name.
        holder = by_name(org, name) if active else None
        if holder is not None and holder.contact_id != self_id:
            errors.append(messages.contact_name_taken(name))
    if number:
        if len(number) > 50:
            errors.append(messages.CONTACT_NUMBER_TOO_LONG)
        holder = by_number(org, number)
        if holder is not None and holder.contact_id != self_id:
            errors.append(messages.contact_number_taken(number))
    if email and not _EMAIL.match(email):
        errors.append(messages.EMAIL_INVALID)
    return errors


def create(
    org: Org,
    name: str,
    number: str | None,
    email: str | None,
    extra: JsonDict,
    now: float,
    *,
    status: str = "ACTIVE",
) -> Contact:
    contact = Contact(
        contact_id=str(uuid.uuid4()),
        name=name,
        updated_at=now,
        status=status,
        seq=org.take_seq(),
        contact_number=number or None,
        email=email or None,
        extra=extra,
    )
    org.contacts[contact.contact_id] = contact
    index(org, contact)
    return contact


def _extras(raw: JsonDict) -> JsonDict:
    return {key: raw[key] for key in _EXTRA_FIELDS if raw.get(key) is not None}


def write(org: Org, elements: list[Any], *, allow_update: bool, now: float) -> list[ElementResult]:
    """Apply a PUT (create only) or POST (create or update) batch, element by element, so a
    later element sees the earlier ones (two equal names in one batch clash)."""
    return [_write_one(org, element, allow_update, now) for element in elements]


def _write_one(org: Org, raw: Any, allow_update: bool, now: float) -> ElementResult:
    if not isinstance(raw, dict):
        raise PostDataInvalid("Contact must be an object")
    target: Contact | None = None
    contact_id = _text(raw, "ContactID")
    number = _text(raw, "ContactNumber")
    if allow_update and contact_id and contact_id != ZERO_GUID:
        target = org.contacts.get(contact_id)
        if target is None:
            echo = {**raw, "ContactID": contact_id}
            return ElementResult(
                False, error_echo(echo, [messages.CONTACT_ID_NOT_FOUND], "HasValidationErrors")
            )
    elif allow_update and number:
        target = by_number(org, number)

    name = _text(raw, "Name") if "Name" in raw or target is None else target.name
    if number is None and target is not None:
        number = target.contact_number
    email = _text(raw, "EmailAddress") if "EmailAddress" in raw or target is None else None
    if target is not None and "EmailAddress" not in raw:
        email = target.email
    status = _text(raw, "ContactStatus") or (target.status if target else "ACTIVE")

    self_id = target.contact_id if target else None
    errors = field_errors(org, name, number, email, self_id, active=status == "ACTIVE")
    if errors:
        echo = {**raw, "ContactID": target.contact_id if target else ZERO_GUID}
        return ElementResult(False, error_echo(echo, errors, "HasValidationErrors"))

    assert name is not None  # field_errors refused an empty one
    if target is None:
        contact = create(org, name, number, email, _extras(raw), now, status=status)
    else:
        contact = target
        unindex(org, contact)
        contact.name = name
        contact.contact_number = number or None
        contact.email = email or None
        contact.status = status
        contact.extra.update(_extras(raw))
        contact.updated_at = now
        index(org, contact)
    body = render.contact(contact)
    body["StatusAttributeString"] = "OK"
    return ElementResult(True, body)


@dataclass(slots=True)
class ContactRef:
    """What an invoice's ``Contact`` points at: an existing contact, or one to create."""

    existing: Contact | None
    name: str | None = None
    number: str | None = None
    email: str | None = None


def resolve_reference(org: Org, raw: Any) -> tuple[ContactRef | None, list[str]]:
    """Xero's matching for an invoice contact: ContactID, else ContactNumber, else an active
    contact of the same name (case-insensitive); an unknown name means a new contact."""
    if not isinstance(raw, dict) or not raw:
        return None, [messages.CONTACT_MISSING]
    contact_id = _text(raw, "ContactID")
    if contact_id and contact_id != ZERO_GUID:
        found = org.contacts.get(contact_id)
        if found is None:
            return None, [messages.CONTACT_ID_NOT_FOUND]
        return ContactRef(found), []
    number = _text(raw, "ContactNumber")
    if number:
        found = by_number(org, number)
        if found is not None:
            return ContactRef(found), []
    name = _text(raw, "Name")
    if name:
        found = by_name(org, name)
        if found is not None:
            return ContactRef(found), []
    email = _text(raw, "EmailAddress")
    errors = field_errors(org, name, number, email, None)
    if errors:
        return None, errors
    return ContactRef(None, name, number, email), []


def materialize(org: Org, ref: ContactRef, now: float) -> Contact:
    if ref.existing is not None:
        return ref.existing
    assert ref.name is not None
    return create(org, ref.name, ref.number, ref.email, {}, now)
