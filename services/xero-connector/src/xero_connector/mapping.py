"""The functional core of the pipeline. Pure: no I/O.

    rejection = prevalidate(invoice, settings, mappings, org)   # None when Xero may be asked
    payload = to_xero(invoice, settings, mappings, contact_id, url=source_url)
    digest = payload_hash(payload)
    unitdp = unit_decimals([invoice])                           # 4 when a price needs it
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
    """The status a live invoice is written with (a void is a cancel: see the planner)."""
    if invoice.status is InvoiceStatus.DRAFT:
        return "DRAFT"
    return settings.invoice_status.value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def unit_decimals(invoices: Iterable[Invoice]) -> int:
    """Xero's ``unitdp``: without ``unitdp=4`` it takes unit amounts to 2 decimal places, so
    an invoice with a quantity or unit price of 3 or 4 decimals must be sent with 4."""
    fine = any(
        _places(line.quantity) > 2 or _places(line.unit_price) > 2
        for invoice in invoices
        for line in invoice.lines
    )
    return 4 if fine else 2


def to_xero(
    invoice: Invoice,
    settings: OrgSettings,
    mappings: Mappings,
    contact_id: str,
    *,
    url: str,
) -> Payload:
    """The Xero ``Invoice`` element for an invoice that passed ``prevalidate``. Quantities and
    amounts are ``Decimal``: the client writes them as exact JSON numbers (Xero's spec types
    them ``number``). ``url`` is the link back to the source document, shown in Xero as
    "Go to [app]", and this integration's mark on the invoices it creates."""
    lines: list[Payload] = []
    for line in invoice.lines:
        item: Payload = {
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": line.unit_price,
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
    payload["Url"] = url
    return payload


def cancel_payload(xero_invoice_id: str, status: str) -> Payload:
    """Cancelling only changes the status (Xero ignores other fields sent with it)."""
    return {"InvoiceID": xero_invoice_id, "Status": status}


def payload_hash(payload: Payload) -> str:
    """Stable digest of what Xero would hold (the InvoiceID left out)."""
    body = {k: v for k, v in payload.items() if k != "InvoiceID"}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_exact
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _exact(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} in a Xero payload")


def idempotency_key(method: str, org_id: str, parts: Sequence[tuple[str, ...]]) -> str:
    """One key per (method, org, request content): ``parts`` name every element (invoice id,
    version, payload hash, the events asking), so the same key never carries another request
    and a new request after a fix never replays an old answer. At most 128 chars."""
    text = f"{method}|{org_id}|" + "|".join(":".join(p) for p in sorted(parts))
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
