"""Invoices: Xero's create/update rules, validation messages and arithmetic.

Each element of a batch is decided on its own and, when valid, saved at once; nothing here
awaits, so a batch is atomic with respect to other requests on the event loop.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from . import contacts, messages, render
from .batch import ElementResult, error_echo
from .contacts import ContactRef
from .errors import PostDataInvalid
from .model import ZERO_GUID, Invoice, LineItem, Org
from .totals import ZERO, expected_line_amount, invoice_totals, line_tax, round2
from .xero_json import JsonDict, parse_date, parse_decimal

TYPES = frozenset({"ACCREC", "ACCPAY"})
CREATABLE = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"})
# Which status an invoice may move to, from each status that can still change at all.
TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"}),
    "SUBMITTED": frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"}),
    "AUTHORISED": frozenset({"AUTHORISED", "VOIDED"}),
}
LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
_TEXT_FIELDS = {"InvoiceNumber": "invoice_number", "Reference": "reference", "Url": "url"}


def write(org: Org, elements: list[Any], *, allow_update: bool, now: float) -> list[ElementResult]:
    return [_write_one(org, element, allow_update, now) for element in elements]


def _write_one(org: Org, raw: Any, allow_update: bool, now: float) -> ElementResult:
    if not isinstance(raw, dict):
        raise PostDataInvalid("Invoice must be an object")
    invoice_id = _text(raw, "InvoiceID")
    # PUT only creates: Xero allocates the InvoiceID, so one sent with a PUT is ignored.
    if allow_update and invoice_id and invoice_id != ZERO_GUID:
        existing = org.invoices.get(invoice_id)
        if existing is None:
            echo = {**raw, "InvoiceID": invoice_id}
            return ElementResult(
                False, error_echo(echo, [messages.INVOICE_ID_NOT_FOUND], "HasErrors")
            )
        return _update(org, existing, raw, now)
    return _create(org, raw, now)


def _create(org: Org, raw: JsonDict, now: float) -> ElementResult:
    candidate = Invoice(
        invoice_id=ZERO_GUID,
        type=_text(raw, "Type") or "",
        contact_id=None,
        status="DRAFT",
        line_amount_types="Exclusive",
        currency_code=org.base_currency,
        updated_at=now,
        date=datetime.fromtimestamp(now, tz=UTC).date(),
    )
    errors: list[str] = []
    _apply_fields(candidate, raw, errors)
    if candidate.status not in CREATABLE:
        errors.append(messages.INVOICE_NOT_CREATABLE)
    ref, contact_errors = contacts.resolve_reference(org, raw.get("Contact"))
    errors.extend(contact_errors)
    errors.extend(_price_and_validate(org, candidate))
    if errors or ref is None:
        return _failed(candidate, raw, ref, errors)

    candidate.invoice_id = str(uuid.uuid4())
    candidate.seq = org.take_seq()
    if candidate.type == "ACCREC" and not candidate.invoice_number:
        candidate.invoice_number = _next_number(org)
    return _saved(org, candidate, ref, None, now)


def _update(org: Org, existing: Invoice, raw: JsonDict, now: float) -> ElementResult:
    target = (_text(raw, "Status") or existing.status).upper()
    allowed = TRANSITIONS.get(existing.status, frozenset())
    if target not in allowed:
        return _failed(existing, raw, None, [messages.INVOICE_NOT_MODIFIABLE])
    if target in ("VOIDED", "DELETED"):
        # Cancelling only changes the status; Xero ignores other fields sent with it.
        cancelled = replace(existing, status=target, updated_at=now)
        return _saved(org, cancelled, None, existing, now)

    candidate = replace(existing, line_items=[replace(line) for line in existing.line_items])
    errors: list[str] = []
    _apply_fields(candidate, raw, errors, creating=False)
    ref: ContactRef | None
    if "Contact" in raw:
        ref, contact_errors = contacts.resolve_reference(org, raw["Contact"])
        errors.extend(contact_errors)
    else:
        ref = ContactRef(org.contacts[existing.contact_id]) if existing.contact_id else None
    errors.extend(_price_and_validate(org, candidate))
    if errors or ref is None:
        return _failed(candidate, raw, ref, errors or [messages.CONTACT_MISSING])
    candidate.updated_at = now
    return _saved(org, candidate, ref, existing, now)


def _saved(
    org: Org, invoice: Invoice, ref: ContactRef | None, previous: Invoice | None, now: float
) -> ElementResult:
    if previous is not None:
        _unindex(org, previous)
    if ref is not None:
        contact = contacts.materialize(org, ref, now)
        invoice.contact_id = contact.contact_id
        if invoice.type == "ACCREC":
            contact.is_customer = True
        else:
            contact.is_supplier = True
    org.invoices[invoice.invoice_id] = invoice
    _index(org, invoice)
    assert invoice.contact_id is not None
    body = render.invoice(invoice, render.contact_summary(org.contacts[invoice.contact_id]))
    body["StatusAttributeString"] = "OK"
    return ElementResult(True, body)


def _failed(
    candidate: Invoice, raw: JsonDict, ref: ContactRef | None, errors: list[str]
) -> ElementResult:
    if ref is not None and ref.existing is not None:
        contact_json = render.contact_summary(ref.existing)
    else:
        given = raw.get("Contact")
        contact_json = dict(given) if isinstance(given, dict) else {}
    body = render.invoice(candidate, contact_json)
    return ElementResult(False, error_echo(body, errors, "HasErrors"))


def _index(org: Org, invoice: Invoice) -> None:
    number = invoice.invoice_number
    if number:
        key = number.casefold()
        org.invoices_by_number.setdefault(key, set()).add(invoice.invoice_id)
        if invoice.type == "ACCREC" and invoice.status != "DELETED":
            org.accrec_by_number[key] = invoice.invoice_id
    if invoice.contact_id:
        org.invoices_by_contact.setdefault(invoice.contact_id, set()).add(invoice.invoice_id)


def _unindex(org: Org, invoice: Invoice) -> None:
    number = invoice.invoice_number
    if number:
        key = number.casefold()
        org.invoices_by_number.get(key, set()).discard(invoice.invoice_id)
        if org.accrec_by_number.get(key) == invoice.invoice_id:
            del org.accrec_by_number[key]
    if invoice.contact_id:
        org.invoices_by_contact.get(invoice.contact_id, set()).discard(invoice.invoice_id)


def _next_number(org: Org) -> str:
    """Xero numbers sales invoices INV-0001, INV-0002, ... skipping numbers already taken."""
    while True:
        number = f"INV-{org.next_invoice_number:04d}"
        org.next_invoice_number += 1
        if number.casefold() not in org.accrec_by_number:
            return number


def _text(raw: JsonDict, field: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PostDataInvalid(f"{field} must be a string")
    return str(value)


def _number(raw: JsonDict, field: str) -> Decimal | None:
    value = raw.get(field)
    if value is None:
        return None
    number = parse_decimal(value)
    if number is None:
        raise PostDataInvalid(f"{field} must be a number")
    return number


def _apply_fields(
    invoice: Invoice, raw: JsonDict, errors: list[str], *, creating: bool = True
) -> None:
    """Copy the fields an element sets onto the candidate (an update keeps the others)."""
    for field, attribute in _TEXT_FIELDS.items():
        if field in raw:
            setattr(invoice, attribute, _text(raw, field) or None)
    if "CurrencyCode" in raw:
        invoice.currency_code = _text(raw, "CurrencyCode") or invoice.currency_code
    rate = _number(raw, "CurrencyRate")
    if rate is not None:
        invoice.currency_rate = rate
    if creating and "Status" in raw:
        invoice.status = (_text(raw, "Status") or "DRAFT").upper()
    elif "Status" in raw:
        invoice.status = (_text(raw, "Status") or invoice.status).upper()
    if "LineAmountTypes" in raw:
        kind = LINE_AMOUNT_TYPES.get((_text(raw, "LineAmountTypes") or "").casefold())
        if kind is None:
            raise PostDataInvalid("LineAmountTypes must be Exclusive, Inclusive or NoTax")
        invoice.line_amount_types = kind
    for field in ("Date", "DueDate"):
        if field in raw and raw[field] is not None:
            day = parse_date(raw[field])
            if day is None:
                errors.append(messages.DATE_INVALID)
            elif field == "Date":
                invoice.date = day
            else:
                invoice.due_date = day
    if "LineItems" in raw:
        lines = raw["LineItems"]
        if not isinstance(lines, list):
            raise PostDataInvalid("LineItems must be a list")
        invoice.line_items = [_line(line) for line in lines]


def _line(raw: Any) -> LineItem:
    if not isinstance(raw, dict):
        raise PostDataInvalid("LineItem must be an object")
    return LineItem(
        line_item_id=_text(raw, "LineItemID") or str(uuid.uuid4()),
        description=_text(raw, "Description"),
        quantity=_number(raw, "Quantity"),
        unit_amount=_number(raw, "UnitAmount"),
        account_code=_text(raw, "AccountCode"),
        tax_type=_text(raw, "TaxType"),
        line_amount=ZERO,
        tax_amount=ZERO,
        discount_rate=_number(raw, "DiscountRate"),
        item_code=_text(raw, "ItemCode"),
        given_line_amount=_number(raw, "LineAmount"),
        given_tax_amount=_number(raw, "TaxAmount"),
    )


def _price_and_validate(org: Org, invoice: Invoice) -> list[str]:
    """Compute line and invoice totals and return every rule the invoice breaks."""
    errors: list[str] = []
    if invoice.type not in TYPES:
        errors.append(messages.INVOICE_TYPE_MISSING)
    if invoice.currency_code not in org.currencies:
        errors.append(messages.currency_not_subscribed(invoice.currency_code))
    number = invoice.invoice_number
    if invoice.type == "ACCREC" and number:
        holder = org.accrec_by_number.get(number.casefold())
        if holder is not None and holder != invoice.invoice_id:
            errors.append(messages.INVOICE_NUMBER_NOT_UNIQUE)
    draft = invoice.status == "DRAFT"
    for line in invoice.line_items:
        errors.extend(_price_line(org, invoice, line, draft))
    invoice.sub_total, invoice.total_tax, invoice.total = invoice_totals(
        ((line.line_amount, line.tax_amount) for line in invoice.line_items),
        invoice.line_amount_types,
    )
    if not draft and not invoice.line_items:
        errors.append(messages.LINE_ITEMS_MISSING)
    if not draft and invoice.due_date is None:
        errors.append(messages.DUE_DATE_MISSING)
    return errors


def _price_line(org: Org, invoice: Invoice, line: LineItem, draft: bool) -> list[str]:
    errors: list[str] = []
    if not line.description:
        errors.append(messages.LINE_DESCRIPTION_MISSING)
    sales = invoice.type != "ACCPAY"  # an unknown type is reported once, not per line
    account = org.accounts.get(line.account_code) if line.account_code else None
    if line.account_code is not None:
        usable = account is not None and account.status == "ACTIVE"
        if account is not None and sales:
            usable = usable and account.klass == "REVENUE"
        elif account is not None:
            usable = usable and account.type != "BANK"
        if not usable:
            errors.append(messages.account_code_invalid(line.account_code))
    elif not draft:
        errors.append(messages.ACCOUNT_MISSING)
    if line.tax_type is None and account is not None and invoice.line_amount_types != "NoTax":
        line.tax_type = account.tax_type
    rate_percent = ZERO
    if line.tax_type is not None:
        rate = org.tax_rates.get(line.tax_type)
        usable = rate is not None and rate.status == "ACTIVE"
        if rate is not None:
            usable = usable and (rate.can_apply_to_revenue if sales else rate.can_apply_to_expenses)
            rate_percent = rate.effective_rate
        if not usable:
            errors.append(messages.tax_type_invalid(line.tax_type))

    expected = expected_line_amount(line.quantity, line.unit_amount, line.discount_rate)
    given = line.given_line_amount
    if given is not None and expected is not None and round2(given) != expected:
        errors.append(messages.line_total_mismatch(given, expected))
    line.line_amount = round2(given) if given is not None else (expected or ZERO)
    if line.quantity is None:
        line.quantity = Decimal(1)
    if line.unit_amount is None:
        line.unit_amount = line.line_amount / line.quantity if line.quantity else ZERO
    if line.given_tax_amount is not None:
        line.tax_amount = round2(line.given_tax_amount)
    else:
        line.tax_amount = line_tax(line.line_amount, rate_percent, invoice.line_amount_types)
    return errors
