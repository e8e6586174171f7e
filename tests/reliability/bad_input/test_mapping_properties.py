"""The connector's pure mapping against hostile invoices: the Invoice model refuses them with a
ValidationError, or ``prevalidate`` rejects them with an error code, or ``to_xero`` gives a
payload that is JSON with decimal-string amounts — never another exception."""

import json
import re
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
import simplejson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sync_schemas import ErrorCode, Invoice
from tests.reliability.bad_input.strategies import (
    HOSTILE_TEXT,
    hostile_invoice_dicts,
    text,
    valid_invoices,
)
from tests.support.samples import CONTRACT_INVOICE
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.mapping import (
    OrgFacts,
    Rejection,
    classify,
    idempotency_key,
    is_duplicate_number,
    payload_hash,
    prevalidate,
    to_xero,
)
from xero_connector.xero_models import Account, TaxRate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
DECIMAL_STRING = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")

ORG = OrgFacts.of(
    ["NZD", "AUD"],
    [
        TaxRate("OUTPUT2", "GST on Income", "ACTIVE", True, Decimal(15)),
        TaxRate("ZERORATEDOUTPUT", "Zero Rated", "ACTIVE", True, Decimal(0)),
        TaxRate("OUTPUT", "GST 12.5", "ARCHIVED", True, Decimal("12.5")),
        TaxRate("INPUT2", "GST on Expenses", "ACTIVE", False, Decimal(15)),
    ],
    [
        Account("a1", "200", "Sales", "REVENUE", "REVENUE", "ACTIVE", "OUTPUT2"),
        Account("a2", "400", "Advertising", "EXPENSE", "EXPENSE", "ACTIVE", "INPUT2"),
        Account("a3", "260", "Old revenue", "REVENUE", "REVENUE", "ARCHIVED", "OUTPUT2"),
    ],
)
CODE_NAMES = ["GST15", "GST0", "consulting", "ads"]

# Mappings strip their codes: a code that is only whitespace is not a code.
MAPPED_CODES = st.one_of(st.sampled_from(CODE_NAMES), text(100).filter(str.strip))
mappings = st.builds(
    Mappings,
    accounts=st.dictionaries(
        MAPPED_CODES,
        st.sampled_from(["200", "400", "260", "999", " 200 "]),
        max_size=4,
    ),
    tax_rates=st.dictionaries(
        MAPPED_CODES,
        st.sampled_from(["OUTPUT2", "ZERORATEDOUTPUT", "OUTPUT", "INPUT2", "XYZ"]),
        max_size=4,
    ),
    currencies=st.dictionaries(
        st.from_regex(r"\A[A-Z]{3}\Z"), st.sampled_from(["NZD", "AUD", "EUR"]), max_size=3
    ),
)
org_settings = st.builds(
    OrgSettings,
    invoice_status=st.sampled_from(["DRAFT", "AUTHORISED"]),
    default_account_code=st.one_of(st.none(), st.sampled_from(["200", "400", "999"])),
)
URL = "https://console.example/orgs/org_acme/invoices/inv_000123"
# Mapped well, so that most invoices get past prevalidate and into to_xero.
GOOD = Mappings(
    accounts={"consulting": "200", "ads": "200", "GST15": "200", "GST0": "200"},
    tax_rates={"GST15": "OUTPUT2", "GST0": "ZERORATEDOUTPUT", "consulting": "OUTPUT2"},
)
GOOD_SETTINGS = OrgSettings(default_account_code="200")


def label(outcome: str) -> None:
    if hypothesis.currently_in_test_context():
        hypothesis.event(outcome)


def check_mapping(invoice: Invoice, settings: OrgSettings, mapped: Mappings) -> None:
    """``prevalidate`` rejects with a code, or ``to_xero`` maps to a JSON payload."""
    rejection = prevalidate(invoice, settings, mapped, ORG)
    if rejection is not None:
        assert isinstance(rejection, Rejection)
        assert isinstance(rejection.code, ErrorCode)
        assert rejection.message
        label(f"rejected: {rejection.code}")
        return
    payload = to_xero(invoice, settings, mapped, "contact-1", url=URL)
    # What the client sends: exact JSON numbers, valid UTF-8, readable back digit for digit.
    body = simplejson.dumps(payload, use_decimal=True, ensure_ascii=False).encode()
    echoed = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    assert len(payload["LineItems"]) == len(invoice.lines)
    for item, sent, line in zip(
        payload["LineItems"], echoed["LineItems"], invoice.lines, strict=True
    ):
        assert DECIMAL_STRING.fullmatch(format(item["Quantity"], "f")), item["Quantity"]
        assert DECIMAL_STRING.fullmatch(format(item["UnitAmount"], "f")), item["UnitAmount"]
        assert sent["Quantity"] == line.quantity and sent["UnitAmount"] == line.unit_price
        assert isinstance(item["AccountCode"], str)
    digest = payload_hash(payload)
    assert SHA256.fullmatch(digest)
    assert digest == payload_hash({**payload, "InvoiceID": "xero-1"})
    key = idempotency_key(
        "PUT", invoice.org_id, [(invoice.invoice_id, str(invoice.version), digest)]
    )
    assert key.startswith("xc-")
    assert len(key) <= 128
    label("mapped")


@SETTINGS
@given(
    data=hostile_invoice_dicts(),
    settings=st.one_of(st.just(GOOD_SETTINGS), org_settings),
    mapped=st.one_of(st.just(GOOD), mappings),
)
@example(
    data=CONTRACT_INVOICE | {"lines": [{"description": "x", "quantity": "1e400"}]},
    settings=GOOD_SETTINGS,
    mapped=GOOD,
)
@example(
    data=CONTRACT_INVOICE
    | {"lines": [{"description": "x", "quantity": Decimal("1E+999999999"), "unit_price": "1"}]},
    settings=GOOD_SETTINGS,
    mapped=GOOD,
)
@example(data=CONTRACT_INVOICE | {"issue_date": "10000-01-01"}, settings=GOOD_SETTINGS, mapped=GOOD)
def test_a_hostile_invoice_is_refused_rejected_or_mapped(
    data: dict[str, Any], settings: OrgSettings, mapped: Mappings
) -> None:
    try:
        invoice = Invoice.model_validate(data)
    except ValidationError as error:
        refused = error
    else:
        check_mapping(invoice, settings, mapped)
        return
    assert refused.errors(), "a ValidationError names at least one field"
    label("refused by the model")


@SETTINGS
@given(invoice=valid_invoices(), settings=org_settings, mapped=mappings)
def test_a_valid_extreme_invoice_is_rejected_with_a_code_or_mapped(
    invoice: Invoice, settings: OrgSettings, mapped: Mappings
) -> None:
    check_mapping(invoice, settings, mapped)


@SETTINGS
@given(invoice=valid_invoices())
def test_a_well_mapped_extreme_invoice_maps_to_a_payload(invoice: Invoice) -> None:
    """With every code mapped and NZD: only currency decides, so most reach ``to_xero``."""
    if invoice.currency not in {"NZD", "AUD"}:
        invoice = invoice.model_copy(update={"currency": "NZD"})
    check_mapping(invoice, GOOD_SETTINGS, GOOD)


LINE = {
    "description": "\u202eenilno \x00 \U0001f4a9",
    "quantity": "-999999999999999.999999",
    "unit_price": "999999999999999.999999",
    "tax_code": "GST15",
    "revenue_category": "consulting",
}


def test_an_invoice_of_10_000_lines_maps_to_10_000_line_items() -> None:
    invoice = Invoice.model_validate(
        CONTRACT_INVOICE
        | {"issue_date": "9999-12-31", "due_date": "0001-01-01"}
        | {"lines": [LINE] * 10_000}
    )
    assert prevalidate(invoice, GOOD_SETTINGS, GOOD, ORG) is None
    payload = to_xero(invoice, GOOD_SETTINGS, GOOD, "contact-1", url=URL)
    assert len(payload["LineItems"]) == 10_000
    assert payload["LineItems"][-1]["Quantity"] == Decimal("-999999999999999.999999")
    assert (payload["Date"], payload["DueDate"]) == ("9999-12-31", "0001-01-01")
    assert SHA256.fullmatch(payload_hash(payload))


def test_the_10_000th_line_unmapped_is_rejected_naming_it() -> None:
    lines = [LINE] * 9_999 + [LINE | {"tax_code": "VAT\u202e"}]
    invoice = Invoice.model_validate(CONTRACT_INVOICE | {"lines": lines})
    rejection = prevalidate(invoice, GOOD_SETTINGS, GOOD, ORG)
    assert rejection is not None
    assert rejection.code is ErrorCode.TAX_RATE_UNMAPPED
    assert rejection.message.startswith("line 10000: ")


@pytest.mark.parametrize(
    "amount", ["1" * 16, "0.0000001", "1e3", "NaN", "Infinity", "1,5", " 1", "+1", "٣", ""]
)
def test_amounts_outside_the_decimal_strings_are_refused_by_the_model(amount: str) -> None:
    with pytest.raises(ValidationError, match="decimal string"):
        Invoice.model_validate(CONTRACT_INVOICE | {"lines": [LINE | {"quantity": amount}]})


@SETTINGS
@given(messages=st.lists(st.one_of(HOSTILE_TEXT, st.sampled_from(["Account must be valid"]))))
def test_classify_gives_a_code_for_any_messages(messages: list[str]) -> None:
    code = classify(messages)
    assert isinstance(code, ErrorCode)
    assert code is not ErrorCode.INVALID_EVENT
    assert isinstance(is_duplicate_number(messages), bool)
