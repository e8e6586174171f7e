"""Paying invoices (the control API's doing) and what a payment freezes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from xero_sandbox import contacts, invoices, listing
from xero_sandbox.model import Invoice, Org
from xero_sandbox.payments import PaymentRefused, pay
from xero_sandbox.seed import build_org

NOW = 1_800_000_000.0
NOT_MODIFIABLE = "Invoice not of valid status for modification"


@pytest.fixture
def org() -> Org:
    built = build_org(
        tenant_id="t",
        name="Org",
        base_currency="NZD",
        currencies=None,
        tax_rates=None,
        accounts=None,
        now=NOW,
    )
    contacts.create(built, "Harbour Cafe", None, None, {}, NOW)
    return built


def _create(org: Org, status: str = "AUTHORISED", kind: str = "ACCREC") -> Invoice:
    line = {"Description": "Work", "Quantity": 2, "UnitAmount": 50, "AccountCode": "200"}
    if kind == "ACCPAY":
        line["AccountCode"] = "400"
    element = {
        "Type": kind,
        "Contact": {"Name": "Harbour Cafe"},
        "InvoiceNumber": "INV-1",
        "DueDate": "2026-12-20",
        "Status": status,
        "LineItems": [line],
    }
    (result,) = invoices.write(org, [element], allow_update=False, now=NOW)
    assert result.ok, result.body.get("ValidationErrors")
    return org.invoices[result.body["InvoiceID"]]


def _save(org: Org, invoice: Invoice) -> Invoice:
    org.invoices[invoice.invoice_id] = invoice
    return invoice


def _update_messages(org: Org, change: dict[str, Any]) -> list[str]:
    (result,) = invoices.write(org, [change], allow_update=True, now=NOW + 10)
    return [error["Message"] for error in result.body.get("ValidationErrors", [])]


@pytest.mark.parametrize("kind", ["ACCREC", "ACCPAY"])
def test_full_payment_makes_it_paid(org: Org, kind: str) -> None:
    invoice = _create(org, kind=kind)
    paid = _save(org, pay(invoice, None, NOW + 5))
    body = listing.invoice_json(org, paid)
    assert (body["Status"], body["AmountPaid"], body["AmountDue"]) == ("PAID", 115.0, 0.0)
    assert body["FullyPaidOnDate"] == "/Date(1799971200000+0000)/"
    assert [p["Amount"] for p in body["Payments"]] == [115.0]
    assert paid.updated_at == NOW + 5


def test_partial_payments_add_up_to_paid(org: Org) -> None:
    invoice = _save(org, pay(_create(org), Decimal("15.004"), NOW))
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "AUTHORISED",
        Decimal("15.00"),
        Decimal("100.00"),
    )
    assert listing.invoice_json(org, invoice).get("FullyPaidOnDate") is None
    settled = pay(invoice, Decimal(100), NOW)
    assert (settled.status, settled.amount_due, len(settled.payments)) == ("PAID", Decimal(0), 2)


@pytest.mark.parametrize(
    ("status", "amount", "message"),
    [
        ("DRAFT", None, "Payments can only be made against Authorised documents"),
        ("SUBMITTED", None, "Payments can only be made against Authorised documents"),
        (
            "AUTHORISED",
            Decimal("115.01"),
            "Payment amount exceeds the amount outstanding on this document",
        ),
        ("AUTHORISED", Decimal(0), "Payment amount must be greater than zero"),
    ],
)
def test_refused_payments(org: Org, status: str, amount: Decimal | None, message: str) -> None:
    with pytest.raises(PaymentRefused, match=message):
        pay(_create(org, status), amount, NOW)


def test_a_paid_invoice_cannot_be_paid_again(org: Org) -> None:
    paid = pay(_create(org), None, NOW)
    with pytest.raises(PaymentRefused):
        pay(paid, Decimal(1), NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"Reference": "changed"},
        {"Status": "AUTHORISED"},
        {"Status": "VOIDED"},
        {"Status": "DELETED"},
        {"Url": "https://app.example/inv/1"},
    ],
)
@pytest.mark.parametrize("settle", [True, False])
def test_paid_or_part_paid_invoices_are_frozen(
    org: Org, change: dict[str, Any], settle: bool
) -> None:
    invoice = _create(org)
    _save(org, pay(invoice, None if settle else Decimal(10), NOW))
    before = org.invoices[invoice.invoice_id]
    assert _update_messages(org, {"InvoiceID": invoice.invoice_id, **change}) == [NOT_MODIFIABLE]
    # The same refusal when the POST finds it by its number.
    assert _update_messages(org, {"InvoiceNumber": "INV-1", **change}) == [NOT_MODIFIABLE]
    assert org.invoices[invoice.invoice_id] is before
