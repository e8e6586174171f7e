"""Hypothesis strategies for hostile input: invoices that are valid but extreme, invoice-shaped
dicts that may be anything, and Kafka records that may be anything.

    valid_invoices()        # always an Invoice: extreme decimals, unicode, edge dates
    hostile_invoice_dicts() # dicts an upstream system might send: valid or not
"""

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from sync_schemas import Invoice
from sync_schemas.invoice import MAX_VERSION

IDENTIFIER = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}\Z")

# Right-to-left overrides, NUL, zero-width joiners, combining marks, astral emoji, BOM.
HOSTILE_CHARS = "\u202e\u202d\u200f\x00\u200d\u0301\ufeff\U0001f4a9\u00e9\u4e2d\n\t'\"<>&%$"
UNICODE = st.characters(codec="utf-8")  # any code point but a surrogate: all Unicode text
HOSTILE_TEXT = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters()))


def text(max_size: int) -> st.SearchStrategy[str]:
    alphabet = st.one_of(st.sampled_from(HOSTILE_CHARS), UNICODE)
    return st.text(alphabet=alphabet, min_size=1, max_size=max_size)


# Decimal strings the contract allows: up to 15 integer digits and 6 decimals, signed.
EDGE_DECIMALS = st.sampled_from(
    [
        "0",
        "-0",
        "0.000001",
        "-0.000001",
        "999999999999999.999999",
        "-999999999999999.999999",
        "100000000000000",
        "000000000000001.000000",
    ]
)
DECIMAL_STRINGS = st.one_of(EDGE_DECIMALS, st.from_regex(r"\A-?[0-9]{1,15}(\.[0-9]{1,6})?\Z"))
EDGE_DATES = st.one_of(st.sampled_from([date.min, date.max, date(2000, 2, 29)]), st.dates())


@st.composite
def line_dicts(draw: st.DrawFn, codes: st.SearchStrategy[str | None]) -> dict[str, Any]:
    return {
        "description": draw(text(4000)),
        "quantity": draw(DECIMAL_STRINGS),
        "unit_price": draw(DECIMAL_STRINGS),
        "tax_code": draw(codes),
        "revenue_category": draw(codes),
    }


# Few distinct codes, so that drawn invoices often hit (and often miss) a mapping.
CODES = st.one_of(st.sampled_from(["GST15", "GST0", "consulting", "ads"]), st.none(), text(50))


CURRENCIES = st.one_of(st.sampled_from(["NZD", "AUD"]), st.from_regex(r"\A[A-Z]{3}\Z"))


@st.composite
def valid_invoice_dicts(draw: st.DrawFn, max_lines: int = 20) -> dict[str, Any]:
    return {
        "org_id": draw(IDENTIFIER),
        "invoice_id": draw(IDENTIFIER),
        "invoice_number": draw(text(255)),
        "version": draw(st.one_of(st.integers(1, 10), st.integers(1, MAX_VERSION))),
        "customer": {
            "id": draw(IDENTIFIER),
            "name": draw(text(255)),
            "email": draw(st.one_of(st.none(), st.text(UNICODE, max_size=255))),
        },
        "currency": draw(CURRENCIES),
        "issue_date": draw(EDGE_DATES).isoformat(),
        "due_date": draw(st.one_of(st.none(), EDGE_DATES.map(date.isoformat))),
        "status": draw(st.sampled_from(["draft", "issued", "void"])),
        "line_amount_type": draw(st.sampled_from(["exclusive", "inclusive", "no_tax"])),
        "reference": draw(st.one_of(st.none(), st.text(UNICODE, max_size=255))),
        "lines": draw(st.lists(line_dicts(CODES), min_size=1, max_size=max_lines)),
    }


def valid_invoices(max_lines: int = 20) -> st.SearchStrategy[Invoice]:
    return valid_invoice_dicts(max_lines).map(Invoice.model_validate)


# -- anything an upstream system might send ------------------------------------------------------

HOSTILE_DECIMALS: st.SearchStrategy[Any] = st.one_of(
    DECIMAL_STRINGS,
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True),  # Decimal objects, as a Python caller
    st.sampled_from(
        [
            "1e400",
            "-1E+999999999",
            "9" * 400,
            "1" * 16,
            "0.0000001",
            "1,5",
            " 1",
            "NaN",
            "-Infinity",
            "",
            "٣",  # an Arabic-Indic digit: \d in some regex engines, not in a decimal string
        ]
    ),
    st.sampled_from([Decimal("1E+999999999"), Decimal("-1E-999999999"), Decimal("0E+20")]),
    st.integers(),
    st.floats(),
    st.none(),
)
HOSTILE_DATES: st.SearchStrategy[Any] = st.one_of(
    EDGE_DATES.map(date.isoformat),
    EDGE_DATES,
    st.sampled_from(["0000-01-01", "10000-01-01", "2026-02-30", "2026-13-01", "-0001-01-01", ""]),
    st.text(max_size=20),
    st.integers(),
)
HOSTILE_STRINGS: st.SearchStrategy[Any] = st.one_of(
    HOSTILE_TEXT,
    st.text(min_size=0, max_size=5),
    st.just("x" * 5000),
    st.just("\ud800"),  # a lone surrogate: not Unicode text
    st.integers(),
    st.none(),
)


LINE_REPLACEMENTS: dict[str, st.SearchStrategy[Any]] = {
    "quantity": HOSTILE_DECIMALS,
    "unit_price": HOSTILE_DECIMALS,
    "description": HOSTILE_STRINGS,
    "tax_code": HOSTILE_STRINGS,
    "revenue_category": HOSTILE_STRINGS,
}
REPLACEMENTS: dict[str, st.SearchStrategy[Any]] = {
    "org_id": HOSTILE_STRINGS,
    "invoice_id": HOSTILE_STRINGS,
    "invoice_number": HOSTILE_STRINGS,
    "version": st.one_of(st.integers(), st.floats(), st.just("1"), st.just(True)),
    "currency": st.one_of(HOSTILE_STRINGS, st.just("nzd"), st.just("NZDD")),
    "issue_date": HOSTILE_DATES,
    "due_date": HOSTILE_DATES,
    "status": st.one_of(HOSTILE_STRINGS, st.just("ISSUED")),
    "line_amount_type": HOSTILE_STRINGS,
    "reference": HOSTILE_STRINGS,
    "customer": st.one_of(
        st.none(),
        st.just({}),
        st.fixed_dictionaries({"id": IDENTIFIER, "name": HOSTILE_STRINGS}),
    ),
    "lines": st.one_of(st.just([]), st.none(), st.just("lines"), st.lists(st.integers())),
}


@st.composite
def hostile_invoice_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid invoice dict (up to 30 lines) with 0 to 3 of its fields, on the invoice or on a
    line, replaced by hostile values."""
    data = draw(valid_invoice_dicts(max_lines=30))
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(REPLACEMENTS)))
            data[name] = draw(REPLACEMENTS[name])
        elif isinstance(data["lines"], list) and data["lines"]:
            line = data["lines"][draw(st.integers(0, len(data["lines"]) - 1))]
            if isinstance(line, dict):
                name = draw(st.sampled_from(sorted(LINE_REPLACEMENTS)))
                line[name] = draw(LINE_REPLACEMENTS[name])
    return data
