"""The functional core of the pipeline. Pure: no I/O.

    rejection = prevalidate(invoice, settings, mappings, org)   # None when Xero may be asked
    payload = to_xero(invoice, settings, mappings, contact_id, xero_invoice_id=None)
    digest = payload_hash(payload)
    code = classify(["Account code '999' is not a valid code for this document."])

``classify`` is the one place that reads Xero's message strings (see the table tests).
"""

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync_schemas import ErrorCode, Invoice, InvoiceStatus, LineAmountType
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.xero_models import Account, TaxRate

ACTIVE = "ACTIVE"
REVENUE = "REVENUE"
NIL_GUID = "00000000-0000-0000-0000-000000000000"
Payload = dict[str, Any]

_LINE_AMOUNT_TYPES = {
    LineAmountType.EXCLUSIVE: "Exclusive",
    LineAmountType.INCLUSIVE: "Inclusive",
    LineAmountType.NO_TAX: "NoTax",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an invoice fails without (or after) asking Xero."""

    code: ErrorCode
    message: str
    xero_messages: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class OrgFacts:
    """What pre-validation needs of the Xero organisation (from the cached org data)."""

    currencies: frozenset[str]
    tax_rates: dict[str, TaxRate]
    accounts: dict[str, Account]

    @classmethod
    def of(
        cls, currencies: Iterable[str], tax_rates: Iterable[TaxRate], accounts: Iterable[Account]
    ) -> "OrgFacts":
        return cls(
            frozenset(currencies),
            {r.tax_type: r for r in tax_rates},
            {a.code: a for a in accounts},
        )


def account_code(category: str | None, settings: OrgSettings, mappings: Mappings) -> str | None:
    if category is not None and category in mappings.accounts:
        return mappings.accounts[category]
    return settings.default_account_code


def prevalidate(
    invoice: Invoice, settings: OrgSettings, mappings: Mappings, org: OrgFacts
) -> Rejection | None:
    """The first reason Xero would refuse this invoice that is known without asking it."""
    for number, line in enumerate(invoice.lines, start=1):
        if line.tax_code is not None and line.tax_code not in mappings.tax_rates:
            return Rejection(
                ErrorCode.TAX_RATE_UNMAPPED,
                f"line {number}: tax code {line.tax_code!r} has no mapping to a Xero TaxType",
            )
        if account_code(line.revenue_category, settings, mappings) is None:
            what = repr(line.revenue_category) if line.revenue_category else "(none)"
            return Rejection(
                ErrorCode.ACCOUNT_UNMAPPED,
                f"line {number}: revenue category {what} has no account mapping "
                "and there is no default account",
            )
    currency = mappings.xero_currency(invoice.currency)
    if currency not in org.currencies:
        via = f" (mapped from {invoice.currency})" if currency != invoice.currency else ""
        return Rejection(
            ErrorCode.CURRENCY_NOT_ENABLED,
            f"currency {currency}{via} is not enabled in the Xero organisation",
        )
    for number, line in enumerate(invoice.lines, start=1):
        if line.tax_code is not None:
            tax_type = mappings.tax_rates[line.tax_code]
            rate = org.tax_rates.get(tax_type)
            if rate is None or rate.status != ACTIVE or not rate.can_apply_to_revenue:
                why = "does not exist" if rate is None else f"is {rate.status} or not for sales"
                return Rejection(
                    ErrorCode.TAX_RATE_INVALID,
                    f"line {number}: tax code {line.tax_code!r} is mapped to TaxType "
                    f"{tax_type!r}, which {why} in Xero",
                )
        code = account_code(line.revenue_category, settings, mappings)
        assert code is not None
        account = org.accounts.get(code)
        if account is None or account.status != ACTIVE or account.klass != REVENUE:
            return Rejection(
                ErrorCode.ACCOUNT_INVALID,
                f"line {number}: account code {code!r} is not an active revenue account in Xero",
            )
    return None


def xero_status(invoice: Invoice, settings: OrgSettings) -> str:
    if invoice.status is InvoiceStatus.DRAFT:
        return "DRAFT"
    if invoice.status is InvoiceStatus.VOID:
        return "VOIDED"
    return settings.invoice_status.value


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def to_xero(
    invoice: Invoice,
    settings: OrgSettings,
    mappings: Mappings,
    contact_id: str,
    xero_invoice_id: str | None = None,
) -> Payload:
    """The Xero ``Invoice`` element for an invoice that passed ``prevalidate``."""
    lines: list[Payload] = []
    for line in invoice.lines:
        item: Payload = {
            "Description": line.description,
            "Quantity": _decimal(line.quantity),
            "UnitAmount": _decimal(line.unit_price),
            "AccountCode": account_code(line.revenue_category, settings, mappings),
        }
        if line.tax_code is not None:
            item["TaxType"] = mappings.tax_rates[line.tax_code]
        lines.append(item)
    payload: Payload = {
        "Type": "ACCREC",
        "InvoiceNumber": invoice.invoice_number,
        "Contact": {"ContactID": contact_id},
        "Date": invoice.issue_date.isoformat(),
        "LineAmountTypes": _LINE_AMOUNT_TYPES[invoice.line_amount_type],
        "CurrencyCode": mappings.xero_currency(invoice.currency),
        "Status": xero_status(invoice, settings),
        "LineItems": lines,
    }
    if invoice.due_date is not None:
        payload["DueDate"] = invoice.due_date.isoformat()
    if invoice.reference:
        payload["Reference"] = invoice.reference
    if xero_invoice_id is not None:
        payload["InvoiceID"] = xero_invoice_id
    return payload


def payload_hash(payload: Payload) -> str:
    """Stable digest of what Xero would hold (the InvoiceID left out)."""
    body = {k: v for k, v in payload.items() if k != "InvoiceID"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(org_id: str, parts: Sequence[tuple[str, int, str]]) -> str:
    """One key per (org, request content): ``parts`` are (invoice_id, version, payload hash)
    of every element, so the same key never carries another request. At most 128 chars."""
    text = org_id + "|" + "|".join(f"{i}:{v}:{h}" for i, v, h in sorted(parts))
    return "xc-" + hashlib.sha256(text.encode()).hexdigest()


# -- Xero's ValidationErrors -> error codes ------------------------------------------------------

DUPLICATE_NUMBER = re.compile(r"^Invoice # must be unique", re.IGNORECASE)

_RULES: list[tuple[re.Pattern[str], ErrorCode]] = [
    (re.compile(r"^Account code '.*' is not a valid code", re.I), ErrorCode.ACCOUNT_INVALID),
    (re.compile(r"^Account must be valid", re.I), ErrorCode.ACCOUNT_INVALID),
    (re.compile(r"^The TaxType code '.*' does not exist", re.I), ErrorCode.TAX_RATE_INVALID),
    (
        re.compile(r"^Organisation is not subscribed to currency", re.I),
        ErrorCode.CURRENCY_NOT_ENABLED,
    ),
    (
        re.compile(r"^The Contact with the specified ContactID could not be found", re.I),
        ErrorCode.CONTACT_MISSING,
    ),
    (re.compile(r"^A Contact must be specified", re.I), ErrorCode.CONTACT_MISSING),
]


def classify(messages: Sequence[str]) -> ErrorCode:
    """The error code of an element's ValidationErrors: the first message with a specific
    code decides; anything else is ``xero_validation`` (the messages are passed through)."""
    for message in messages:
        for pattern, code in _RULES:
            if pattern.search(message.strip()):
                return code
    return ErrorCode.XERO_VALIDATION


def is_duplicate_number(messages: Sequence[str]) -> bool:
    return any(DUPLICATE_NUMBER.search(m.strip()) for m in messages)


def element_messages(element: Payload) -> list[str]:
    return [
        str(e["Message"])
        for e in element.get("ValidationErrors") or []
        if isinstance(e, dict) and e.get("Message")
    ]


def element_failed(element: Payload) -> bool:
    return bool(
        element.get("HasErrors")
        or element.get("HasValidationErrors")
        or element.get("StatusAttributeString") == "ERROR"
        or element_messages(element)
    )
