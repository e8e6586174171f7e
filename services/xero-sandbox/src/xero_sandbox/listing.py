"""The read side of Contacts and Invoices: filters applied through the indexes where a filter
pins a key, and a scan only otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from . import contacts, render
from .errors import QueryParseError
from .model import Contact, Invoice, Org
from .query import (
    Getter,
    equality,
    matches,
    paginate,
    parse_where,
    split_list,
    unit_decimal_places,
)
from .totals import UNIT_DP
from .xero_json import JsonDict

CONTACT_FIELDS: dict[str, Getter[Contact]] = {
    "ContactID": lambda c: c.contact_id,
    "Name": lambda c: c.name,
    "EmailAddress": lambda c: c.email,
    "ContactNumber": lambda c: c.contact_number,
    "ContactStatus": lambda c: c.status,
    "FirstName": lambda c: c.extra.get("FirstName"),
    "LastName": lambda c: c.extra.get("LastName"),
    "AccountNumber": lambda c: c.extra.get("AccountNumber"),
    "IsCustomer": lambda c: c.is_customer,
    "IsSupplier": lambda c: c.is_supplier,
}

INVOICE_FIELDS: dict[str, Getter[Invoice]] = {
    "InvoiceID": lambda i: i.invoice_id,
    "InvoiceNumber": lambda i: i.invoice_number,
    "Reference": lambda i: i.reference,
    "Status": lambda i: i.status,
    "Type": lambda i: i.type,
    "CurrencyCode": lambda i: i.currency_code,
    "Contact.ContactID": lambda i: i.contact_id,
    "ContactID": lambda i: i.contact_id,
}


def _page(params: Mapping[str, str]) -> tuple[int | None, int | None]:
    try:
        page = int(params["page"]) if params.get("page") else None
        size = int(params["pageSize"]) if params.get("pageSize") else None
    except ValueError as error:
        raise QueryParseError("page and pageSize must be integers") from error
    return page, size


def _truthy(value: str | None) -> bool:
    return (value or "").casefold() == "true"


def list_contacts(org: Org, params: Mapping[str, str]) -> tuple[list[JsonDict], JsonDict | None]:
    clauses = parse_where(params.get("where"), CONTACT_FIELDS)
    include_archived = _truthy(params.get("includeArchived"))
    ids = split_list(params.get("IDs"))
    pool: Iterable[Contact]
    if ids:
        pool = [org.contacts[i] for i in dict.fromkeys(ids) if i in org.contacts]
    elif (number := equality(clauses, "ContactNumber")) is not None:
        found = contacts.by_number(org, number)
        pool = [found] if found else []
    elif (name := equality(clauses, "Name")) is not None and not include_archived:
        found = contacts.by_name(org, name)
        pool = [found] if found else []
    elif (email := equality(clauses, "EmailAddress")) is not None:
        pool = [org.contacts[i] for i in org.contacts_by_email.get(email, ())]
    else:
        pool = org.contacts.values()
    term = (params.get("searchTerm") or "").casefold()
    chosen = [
        contact
        for contact in pool
        if (include_archived or ids or contact.status == "ACTIVE")
        and matches(clauses, CONTACT_FIELDS, contact)
        and (not term or _contact_has(contact, term))
    ]
    chosen.sort(key=lambda contact: contact.seq)
    page, size = _page(params)
    shown, pagination = paginate(chosen, page, size)
    return [render.contact(contact) for contact in shown], pagination


def _contact_has(contact: Contact, term: str) -> bool:
    fields = (
        contact.name,
        contact.email,
        contact.contact_number,
        contact.extra.get("FirstName"),
        contact.extra.get("LastName"),
        contact.extra.get("CompanyNumber"),
    )
    return any(isinstance(value, str) and term in value.casefold() for value in fields)


def list_invoices(org: Org, params: Mapping[str, str]) -> tuple[list[JsonDict], JsonDict | None]:
    clauses = parse_where(params.get("where"), INVOICE_FIELDS)
    ids = split_list(params.get("IDs"))
    numbers = split_list(params.get("InvoiceNumbers"))
    contact_ids = split_list(params.get("ContactIDs"))
    statuses = {status.upper() for status in split_list(params.get("Statuses"))}
    pool: Iterable[Invoice]
    if ids:
        pool = [org.invoices[i] for i in dict.fromkeys(ids) if i in org.invoices]
    elif numbers:
        pool = _by_numbers(org, numbers)
    elif contact_ids:
        pool = [org.invoices[i] for c in contact_ids for i in org.invoices_by_contact.get(c, ())]
    elif (number := equality(clauses, "InvoiceNumber")) is not None:
        pool = _by_numbers(org, [number])
    else:
        pool = org.invoices.values()
    term = (params.get("searchTerm") or "").casefold()
    wanted_contacts = set(contact_ids)
    chosen = [
        invoice
        for invoice in pool
        if (not statuses or invoice.status in statuses)
        and (not wanted_contacts or invoice.contact_id in wanted_contacts)
        and matches(clauses, INVOICE_FIELDS, invoice)
        and (not term or _invoice_has(invoice, term))
    ]
    chosen.sort(key=lambda invoice: invoice.seq)
    page, size = _page(params)
    shown, pagination = paginate(chosen, page, size)
    unit_dp = unit_decimal_places(params)
    return [invoice_json(org, invoice, unit_dp) for invoice in shown], pagination


def _by_numbers(org: Org, numbers: list[str]) -> list[Invoice]:
    ids = {i for number in numbers for i in org.invoices_by_number.get(number.casefold(), ())}
    return [org.invoices[i] for i in ids]


def _invoice_has(invoice: Invoice, term: str) -> bool:
    return any(
        isinstance(value, str) and term in value.casefold()
        for value in (invoice.invoice_number, invoice.reference)
    )


def invoice_json(org: Org, invoice: Invoice, unit_dp: int = UNIT_DP) -> JsonDict:
    contact = org.contacts.get(invoice.contact_id or "")
    return render.invoice(invoice, render.contact_summary(contact) if contact else {}, unit_dp)


def find_invoice(org: Org, key: str) -> Invoice | None:
    """``/Invoices/{InvoiceID}`` also accepts an InvoiceNumber, as Xero's does."""
    found = org.invoices.get(key)
    if found is not None:
        return found
    ids = org.invoices_by_number.get(key.casefold())
    return org.invoices[min(ids, key=lambda i: org.invoices[i].seq)] if ids else None
