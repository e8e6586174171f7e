"""Invoice arithmetic as Xero does it: unit prices at 2 dp (4 dp with ``unitdp=4``), line
amounts at 2 dp, tax per line, totals summed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Decimal places of UnitAmount: Xero's default, and what ``?unitdp=4`` opts in to.
UNIT_DP = 2
UNIT_DP_OPT_IN = 4


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_unit(value: Decimal, places: int) -> Decimal:
    """A UnitAmount as Xero keeps it: rounded to the request's unit decimal places."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LineAmounts:
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    expected: Decimal | None = None  # set when a given LineAmount disagrees with the product


def line_amounts(
    quantity: Decimal | None,
    unit_amount: Decimal | None,
    discount_rate: Decimal | None,
    given: Decimal | None,
) -> LineAmounts:
    """Quantity x UnitAmount less the discount, at 2 dp. The spec (``LineItem.LineAmount``):
    omit Quantity or UnitAmount, give a LineAmount, and Xero calculates the missing one."""
    if given is not None:
        amount = round2(given)
        if unit_amount is None:
            count = Decimal(1) if quantity is None else quantity
            unit = amount / count if count else ZERO
            return LineAmounts(count, round_unit(unit, UNIT_DP_OPT_IN), amount)
        if quantity is None:
            count = amount / unit_amount if unit_amount else Decimal(1)
            return LineAmounts(round_unit(count, UNIT_DP_OPT_IN), unit_amount, amount)
    count = Decimal(1) if quantity is None else quantity
    unit = ZERO if unit_amount is None else unit_amount
    product = count * unit
    if discount_rate:
        product = product * (HUNDRED - discount_rate) / HUNDRED
    expected = round2(product)
    if given is not None and round2(given) != expected:
        return LineAmounts(count, unit, round2(given), expected)
    return LineAmounts(count, unit, expected)


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
