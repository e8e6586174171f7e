"""Reading an invoice element of a PUT/POST onto a candidate Invoice: its fields and line items.

Only the shape of the data is checked here; a value that cannot be read at all (a non-numeric
amount, an unknown ``LineAmountTypes``) refuses the whole request, as Xero's
``PostDataInvalidException`` does. The business rules live in ``invoices``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from . import messages
from .errors import PostDataInvalid
from .model import Invoice, LineItem
from .totals import ZERO, round_unit
from .xero_json import JsonDict, parse_date, parse_decimal

LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
_TEXT_FIELDS = {"InvoiceNumber": "invoice_number", "Reference": "reference", "Url": "url"}


def text(raw: JsonDict, field: str) -> str | None:
    """A text field; numbers are taken as their text (``"InvoiceNumber": 1001`` works)."""
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PostDataInvalid(f"{field} must be a string")
    return str(value)


def number(raw: JsonDict, field: str) -> Decimal | None:
    """An amount sent as a JSON number (already a Decimal) or as a numeric string."""
    value = raw.get(field)
    if value is None:
        return None
    parsed = parse_decimal(value)
    if parsed is None:
        raise PostDataInvalid(f"{field} must be a number")
    return parsed


def apply_fields(
    invoice: Invoice, raw: JsonDict, errors: list[str], *, unit_dp: int, creating: bool = True
) -> None:
    """Copy the fields an element sets onto the candidate (an update keeps the others)."""
    for field, attribute in _TEXT_FIELDS.items():
        if field in raw:
            setattr(invoice, attribute, text(raw, field) or None)
    if "CurrencyCode" in raw:
        invoice.currency_code = text(raw, "CurrencyCode") or invoice.currency_code
    rate = number(raw, "CurrencyRate")
    if rate is not None:
        invoice.currency_rate = rate
    if creating and "Status" in raw:
        invoice.status = (text(raw, "Status") or "DRAFT").upper()
    elif "Status" in raw:
        invoice.status = (text(raw, "Status") or invoice.status).upper()
    if "LineAmountTypes" in raw:
        kind = LINE_AMOUNT_TYPES.get((text(raw, "LineAmountTypes") or "").casefold())
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
        invoice.line_items = [line(item, unit_dp) for item in lines]


def line(raw: Any, unit_dp: int) -> LineItem:
    """A line item. Its UnitAmount is rounded to the request's unit decimal places (2, or 4
    with ``unitdp=4``) before anything is computed from it, as Xero does."""
    if not isinstance(raw, dict):
        raise PostDataInvalid("LineItem must be an object")
    unit_amount = number(raw, "UnitAmount")
    return LineItem(
        line_item_id=text(raw, "LineItemID") or str(uuid.uuid4()),
        description=text(raw, "Description"),
        quantity=number(raw, "Quantity"),
        unit_amount=round_unit(unit_amount, unit_dp) if unit_amount is not None else None,
        account_code=text(raw, "AccountCode"),
        tax_type=text(raw, "TaxType"),
        line_amount=ZERO,
        tax_amount=ZERO,
        discount_rate=number(raw, "DiscountRate"),
        item_code=text(raw, "ItemCode"),
        given_line_amount=number(raw, "LineAmount"),
        given_tax_amount=number(raw, "TaxAmount"),
    )
