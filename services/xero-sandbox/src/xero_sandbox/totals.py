"""Invoice arithmetic as Xero does it: line amounts at 2 dp, tax per line, totals summed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_line_amount(
    quantity: Decimal | None, unit_amount: Decimal | None, discount_rate: Decimal | None
) -> Decimal | None:
    """Quantity x UnitAmount less the discount; None when neither was given."""
    if quantity is None and unit_amount is None:
        return None
    amount = (quantity if quantity is not None else Decimal(1)) * (unit_amount or ZERO)
    if discount_rate:
        amount = amount * (HUNDRED - discount_rate) / HUNDRED
    return round2(amount)


def line_tax(amount: Decimal, rate_percent: Decimal, line_amount_types: str) -> Decimal:
    """Tax of one line. Inclusive amounts already contain the tax, so it is backed out."""
    if line_amount_types == "NoTax" or not rate_percent:
        return ZERO
    rate = rate_percent / HUNDRED
    if line_amount_types == "Inclusive":
        return round2(amount * rate / (1 + rate))
    return round2(amount * rate)


def invoice_totals(
    lines: Iterable[tuple[Decimal, Decimal]], line_amount_types: str
) -> tuple[Decimal, Decimal, Decimal]:
    """(SubTotal, TotalTax, Total) from (LineAmount, TaxAmount) pairs."""
    amounts = ZERO
    tax = ZERO
    for amount, line_tax_amount in lines:
        amounts += amount
        tax += line_tax_amount
    if line_amount_types == "Inclusive":
        return amounts - tax, tax, amounts
    return amounts, tax, amounts + tax
