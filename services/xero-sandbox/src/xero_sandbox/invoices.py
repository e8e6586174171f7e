"""Invoices: Xero's create/update rules, validation messages and arithmetic.

Each element of a batch is decided on its own and, when valid, saved at once; nothing here
awaits, so a batch is atomic with respect to other requests on the event loop.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from . import contacts, messages, render
from .batch import ElementResult, error_echo
from .contacts import ContactRef
from .errors import PostDataInvalid
from .invoice_input import apply_fields, text
from .model import ZERO_GUID, Invoice, LineItem, Org
from .totals import UNIT_DP, ZERO, invoice_totals, line_amounts, line_tax, round2
from .xero_json import JsonDict

TYPES = frozenset({"ACCREC", "ACCPAY"})
CREATABLE = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"})
# Which status an invoice may move to, from each status that can still change at all.
TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"}),
    "SUBMITTED": frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"}),
    "AUTHORISED": frozenset({"AUTHORISED", "VOIDED"}),
    # PAID, VOIDED and DELETED are final: every change is refused.
}


def write(
    org: Org, elements: list[Any], *, allow_update: bool, now: float, unit_dp: int = UNIT_DP
) -> list[ElementResult]:
    """A PUT (``allow_update=False``) or POST batch; ``unit_dp`` is the request's ``unitdp``."""
    return [_write_one(org, element, allow_update, now, unit_dp) for element in elements]


def _write_one(org: Org, raw: Any, allow_update: bool, now: float, unit_dp: int) -> ElementResult:
    if not isinstance(raw, dict):
        raise PostDataInvalid("Invoice must be an object")
    invoice_id = text(raw, "InvoiceID")
    # PUT only creates: Xero allocates the InvoiceID, so one sent with a PUT is ignored.
    if allow_update and invoice_id and invoice_id != ZERO_GUID:
        existing = org.invoices.get(invoice_id)
        if existing is None:
            echo = {**raw, "InvoiceID": invoice_id}
            return ElementResult(
                False, error_echo(echo, [messages.INVOICE_ID_NOT_FOUND], "HasErrors")
            )
        return _update(org, existing, raw, now, unit_dp)
    holder = _sales_invoice_numbered_as(org, raw) if allow_update else None
    if holder is not None:
        return _update(org, holder, raw, now, unit_dp)
    return _create(org, raw, now, unit_dp)


def _sales_invoice_numbered_as(org: Org, raw: JsonDict) -> Invoice | None:
    """The sales invoice holding the element's InvoiceNumber. Xero is reported to *update* it
    when a POST without InvoiceID reuses a taken ACCREC number (README: the pessimistic
    reading), so a client can never count on POST to refuse a duplicate."""
    kind = text(raw, "Type")
    number = text(raw, "InvoiceNumber")
    if kind not in (None, "ACCREC") or not number:
        return None
    holder_id = org.accrec_by_number.get(number.casefold())
    return org.invoices[holder_id] if holder_id else None


def _create(org: Org, raw: JsonDict, now: float, unit_dp: int) -> ElementResult:
    candidate = Invoice(
        invoice_id=ZERO_GUID,
        type=text(raw, "Type") or "",
        contact_id=None,
        status="DRAFT",
        line_amount_types="Exclusive",
        currency_code=org.base_currency,
        updated_at=now,
        date=datetime.fromtimestamp(now, tz=UTC).date(),
    )
    errors: list[str] = []
    apply_fields(candidate, raw, errors, unit_dp=unit_dp)
    if candidate.status not in CREATABLE:
        errors.append(messages.INVOICE_NOT_CREATABLE)
    ref, contact_errors = contacts.resolve_reference(org, raw.get("Contact"))
    errors.extend(contact_errors)
    errors.extend(_price_and_validate(org, candidate))
    if errors or ref is None:
        return _failed(candidate, raw, ref, errors, unit_dp)

    candidate.invoice_id = str(uuid.uuid4())
    candidate.seq = org.take_seq()
    if candidate.type == "ACCREC" and not candidate.invoice_number:
        candidate.invoice_number = _next_number(org)
    return _saved(org, candidate, ref, None, unit_dp)


def _update(org: Org, existing: Invoice, raw: JsonDict, now: float, unit_dp: int) -> ElementResult:
    target = (text(raw, "Status") or existing.status).upper()
    allowed = TRANSITIONS.get(existing.status, frozenset())
    # An invoice with payments is frozen until they are removed, even while still AUTHORISED.
    if target not in allowed or existing.payments:
        return _failed(existing, raw, None, [messages.INVOICE_NOT_MODIFIABLE], unit_dp)
    if target in ("VOIDED", "DELETED"):
        # Cancelling only changes the status; Xero ignores other fields sent with it.
        cancelled = replace(existing, status=target, updated_at=now)
        return _saved(org, cancelled, None, existing, unit_dp)

    candidate = replace(existing, line_items=[replace(line) for line in existing.line_items])
    errors: list[str] = []
    apply_fields(candidate, raw, errors, unit_dp=unit_dp, creating=False)
    ref: ContactRef | None
    if "Contact" in raw:
        ref, contact_errors = contacts.resolve_reference(org, raw["Contact"])
        errors.extend(contact_errors)
    else:
        ref = ContactRef(org.contacts[existing.contact_id]) if existing.contact_id else None
    errors.extend(_price_and_validate(org, candidate))
    if errors or ref is None:
        return _failed(candidate, raw, ref, errors or [messages.CONTACT_MISSING], unit_dp)
    candidate.updated_at = now
    return _saved(org, candidate, ref, existing, unit_dp)


def _saved(
    org: Org, invoice: Invoice, ref: ContactRef | None, previous: Invoice | None, unit_dp: int
) -> ElementResult:
    if previous is not None:
        _unindex(org, previous)
    if ref is not None:
        contact = contacts.materialize(org, ref, invoice.updated_at)
        invoice.contact_id = contact.contact_id
        if invoice.type == "ACCREC":
            contact.is_customer = True
        else:
            contact.is_supplier = True
    org.invoices[invoice.invoice_id] = invoice
    _index(org, invoice)
    assert invoice.contact_id is not None
    contact_json = render.contact_summary(org.contacts[invoice.contact_id])
    body = render.invoice(invoice, contact_json, unit_dp)
    body["StatusAttributeString"] = "OK"
    return ElementResult(True, body)


def _failed(
    candidate: Invoice, raw: JsonDict, ref: ContactRef | None, errors: list[str], unit_dp: int
) -> ElementResult:
    if ref is not None and ref.existing is not None:
        contact_json = render.contact_summary(ref.existing)
    else:
        given = raw.get("Contact")
        contact_json = dict(given) if isinstance(given, dict) else {}
    body = render.invoice(candidate, contact_json, unit_dp)
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

    given = line.given_line_amount
    amounts = line_amounts(line.quantity, line.unit_amount, line.discount_rate, given)
    if given is not None and amounts.expected is not None:
        errors.append(messages.line_total_mismatch(given, amounts.expected))
    line.quantity, line.unit_amount = amounts.quantity, amounts.unit_amount
    line.line_amount = amounts.line_amount
    if line.given_tax_amount is not None:
        line.tax_amount = round2(line.given_tax_amount)
    else:
        line.tax_amount = line_tax(line.line_amount, rate_percent, invoice.line_amount_types)
    return errors
