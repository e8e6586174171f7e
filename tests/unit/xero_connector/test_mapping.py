"""The pure core: pre-validation, the Xero payload, and the classification of Xero's own
validation messages, as tables."""

from decimal import Decimal
from typing import Any

import pytest

from sync_schemas import ErrorCode, Invoice
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.mapping import (
    OrgFacts,
    classify,
    idempotency_key,
    is_duplicate_number,
    payload_hash,
    prevalidate,
    to_xero,
    unit_decimals,
)
from xero_connector.xero_models import Account, TaxRate

ORG = OrgFacts.of(
    ["NZD", "AUD"],
    [
        TaxRate("OUTPUT2", "GST on Income", "ACTIVE", True, Decimal(15)),
        TaxRate("OUTPUT", "GST 12.5", "ARCHIVED", True, Decimal("12.5")),
        TaxRate("INPUT2", "GST on Expenses", "ACTIVE", False, Decimal(15)),
    ],
    [
        Account("a1", "200", "Sales", "REVENUE", "REVENUE", "ACTIVE", "OUTPUT2"),
        Account("a2", "400", "Advertising", "EXPENSE", "EXPENSE", "ACTIVE", "INPUT2"),
        Account("a3", "260", "Old revenue", "REVENUE", "REVENUE", "ARCHIVED", "OUTPUT2"),
    ],
)
MAPPINGS = Mappings(
    accounts={"consulting": "200", "ads": "400", "old": "260", "ghost": "999"},
    tax_rates={"GST15": "OUTPUT2", "OLD": "OUTPUT", "BUY": "INPUT2", "X": "XYZ"},
    currencies={"EUR": "NZD"},
)
SETTINGS = OrgSettings()


def invoice(**changes: Any) -> Invoice:
    line = {
        "description": "Consulting",
        "quantity": "10",
        "unit_price": "150.00",
        "tax_code": "GST15",
        "revenue_category": "consulting",
    } | changes.pop("line", {})
    data = {
        "org_id": "org_a",
        "invoice_id": "inv_1",
        "invoice_number": "INV-1",
        "version": 1,
        "customer": {"id": "cus_1", "name": "Harbour Cafe"},
        "currency": "NZD",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "status": "issued",
        "line_amount_type": "exclusive",
        "reference": "PO-1",
        "lines": [line],
    } | changes
    return Invoice.model_validate(data)


@pytest.mark.parametrize(
    ("changes", "settings", "expected"),
    [
        ({}, SETTINGS, None),
        ({"line": {"tax_code": "VAT"}}, SETTINGS, ErrorCode.TAX_RATE_UNMAPPED),
        ({"line": {"revenue_category": "hardware"}}, SETTINGS, ErrorCode.ACCOUNT_UNMAPPED),
        ({"line": {"revenue_category": None}}, SETTINGS, ErrorCode.ACCOUNT_UNMAPPED),
        (
            {"line": {"revenue_category": "hardware"}},
            OrgSettings(default_account_code="200"),
            None,
        ),
        ({"currency": "USD"}, SETTINGS, ErrorCode.CURRENCY_NOT_ENABLED),
        ({"currency": "EUR"}, SETTINGS, None),  # mapped to NZD
        ({"line": {"tax_code": "X"}}, SETTINGS, ErrorCode.TAX_RATE_INVALID),
        ({"line": {"tax_code": "OLD"}}, SETTINGS, ErrorCode.TAX_RATE_INVALID),
        ({"line": {"tax_code": "BUY"}}, SETTINGS, ErrorCode.TAX_RATE_INVALID),
        ({"line": {"revenue_category": "ads"}}, SETTINGS, ErrorCode.ACCOUNT_INVALID),
        ({"line": {"revenue_category": "old"}}, SETTINGS, ErrorCode.ACCOUNT_INVALID),
        ({"line": {"revenue_category": "ghost"}}, SETTINGS, ErrorCode.ACCOUNT_INVALID),
        ({"line": {"tax_code": None}}, SETTINGS, None),
    ],
)
def test_prevalidation(changes: dict[str, Any], settings: OrgSettings, expected: Any) -> None:
    rejection = prevalidate(invoice(**changes), settings, MAPPINGS, ORG)
    assert (rejection.code if rejection else None) == expected


URL = "https://console.example/orgs/org_a/invoices/inv_1"


def test_the_payload_is_xero_shaped() -> None:
    payload = to_xero(invoice(currency="EUR"), SETTINGS, MAPPINGS, "c-1", url=URL)
    assert payload == {
        "Type": "ACCREC",
        "InvoiceNumber": "INV-1",
        "Contact": {"ContactID": "c-1"},
        "Date": "2026-11-20",
        "DueDate": "2026-12-20",
        "LineAmountTypes": "Exclusive",
        "CurrencyCode": "NZD",
        "Status": "AUTHORISED",
        "Reference": "PO-1",
        "Url": URL,
        "LineItems": [
            {
                "Description": "Consulting",
                "Quantity": Decimal("10"),
                "UnitAmount": Decimal("150.00"),
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
            }
        ],
    }
    # Amounts are Decimals, written by the client as exact JSON numbers (the spec's type).
    assert all(
        isinstance(v, Decimal) for v in payload["LineItems"][0].values() if not isinstance(v, str)
    )


@pytest.mark.parametrize(
    ("prices", "unitdp"),
    [
        ((("10", "150.00"),), 2),
        ((("10", "150.5"), ("1", "3")), 2),
        ((("10", "150.125"),), 4),
        ((("2.5", "1"), ("1", "0.0001")), 4),
        ((("0.125", "150"),), 4),
        ((("10", "150.1000"),), 2),  # trailing zeros are not decimals Xero would round
    ],
)
def test_unitdp_4_whenever_a_quantity_or_unit_price_has_more_than_2_decimals(
    prices: tuple[tuple[str, str], ...], unitdp: int
) -> None:
    lines = [
        {"description": "x", "quantity": q, "unit_price": p, "tax_code": "GST15"} for q, p in prices
    ]
    assert unit_decimals([invoice(lines=lines)]) == unitdp


@pytest.mark.parametrize(
    ("status", "line_amount_type", "xero_status", "xero_lat"),
    [
        ("draft", "inclusive", "DRAFT", "Inclusive"),
        ("issued", "no_tax", "AUTHORISED", "NoTax"),
    ],
)
def test_status_and_line_amount_types(
    status: str, line_amount_type: str, xero_status: str, xero_lat: str
) -> None:
    payload = to_xero(
        invoice(status=status, line_amount_type=line_amount_type), SETTINGS, MAPPINGS, "c", url=URL
    )
    assert (payload["Status"], payload["LineAmountTypes"]) == (xero_status, xero_lat)


def test_hash_ignores_the_invoice_id_and_sees_every_change() -> None:
    base = to_xero(invoice(), SETTINGS, MAPPINGS, "c", url=URL)
    assert payload_hash(base) == payload_hash({**base, "InvoiceID": "x"})
    assert payload_hash(base) != payload_hash(
        to_xero(invoice(reference="PO-2"), SETTINGS, MAPPINGS, "c", url=URL)
    )


def test_idempotency_keys_follow_the_content() -> None:
    one = idempotency_key("PUT", "org", [("inv_1", "1", "h1"), ("inv_2", "1", "h2")])
    assert one == idempotency_key("PUT", "org", [("inv_2", "1", "h2"), ("inv_1", "1", "h1")])
    assert one != idempotency_key("PUT", "org", [("inv_1", "2", "h1"), ("inv_2", "1", "h2")])
    assert one != idempotency_key("PUT", "org2", [("inv_1", "1", "h1"), ("inv_2", "1", "h2")])
    assert one != idempotency_key("POST", "org", [("inv_1", "1", "h1"), ("inv_2", "1", "h2")])
    again = idempotency_key("PUT", "org", [("inv_1", "1", "h1", "ev-2"), ("inv_2", "1", "h2")])
    assert one != again  # a new request (after a fix) never replays the first answer
    assert len(one) <= 128


# Xero's own messages (design/XERO.md; the sandbox's messages.py marks which are Xero's).
CLASSIFICATION = [
    (["Account code '999' is not a valid code for this document."], ErrorCode.ACCOUNT_INVALID),
    (["Account must be valid."], ErrorCode.ACCOUNT_INVALID),
    (
        ["The TaxType code 'XYZ' does not exist or cannot be used for this type of transaction."],
        ErrorCode.TAX_RATE_INVALID,
    ),
    (["Organisation is not subscribed to currency EUR"], ErrorCode.CURRENCY_NOT_ENABLED),
    (
        ["The Contact with the specified ContactID could not be found"],
        ErrorCode.CONTACT_MISSING,
    ),
    (["A Contact must be specified for this type of transaction"], ErrorCode.CONTACT_MISSING),
    (["Invoice # must be unique."], ErrorCode.XERO_VALIDATION),
    (["Invoice not of valid status for creation"], ErrorCode.XERO_VALIDATION),
    (["The description field is mandatory for each line item."], ErrorCode.XERO_VALIDATION),
    (
        ["The line total 10.00 does not match the expected line total 11.00"],
        ErrorCode.XERO_VALIDATION,
    ),
    (
        [
            "Invoice not of valid status for creation",
            "Account code '1' is not a valid code for this document.",
        ],
        ErrorCode.ACCOUNT_INVALID,
    ),
    ([], ErrorCode.XERO_VALIDATION),
]


@pytest.mark.parametrize(("messages", "code"), CLASSIFICATION)
def test_classification_of_xero_messages(messages: list[str], code: ErrorCode) -> None:
    assert classify(messages) is code


def test_a_duplicate_number_is_recognised() -> None:
    assert is_duplicate_number(["Invoice # must be unique."])
    assert not is_duplicate_number(["Account must be valid."])
