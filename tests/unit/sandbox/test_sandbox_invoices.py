"""Invoice rules and messages, table-driven, on an in-memory NZ org."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from xero_sandbox import contacts, invoices, listing
from xero_sandbox.errors import PostDataInvalid
from xero_sandbox.model import Org, TaxRate
from xero_sandbox.seed import build_org

NOW = 1_800_000_000.0


@pytest.fixture
def org() -> Org:
    built = build_org(
        tenant_id="t",
        name="Org",
        base_currency="NZD",
        currencies=["AUD"],
        tax_rates=None,
        accounts=None,
        now=NOW,
    )
    built.tax_rates["PENDING1"] = TaxRate("PENDING1", "Pending", Decimal(5), status="PENDING")
    contacts.create(built, "Harbour Cafe", "cus_42", None, {}, NOW)
    return built


def _contact_id(org: Org) -> str:
    found = contacts.by_name(org, "Harbour Cafe")
    assert found is not None
    return found.contact_id


def _invoice(org: Org, **overrides: Any) -> dict[str, Any]:
    line = {
        "Description": "Consulting",
        "Quantity": 2,
        "UnitAmount": 50,
        "AccountCode": "200",
        "TaxType": "OUTPUT2",
    }
    line.update(overrides.pop("line", {}))
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": {"ContactID": _contact_id(org)},
        "InvoiceNumber": "INV-1",
        "DueDate": "2026-12-20",
        "Status": "AUTHORISED",
        "LineItems": [line],
    }
    body.update(overrides)
    return body


def _messages(org: Org, element: dict[str, Any], *, allow_update: bool = False) -> list[str]:
    (result,) = invoices.write(org, [element], allow_update=allow_update, now=NOW)
    return [error["Message"] for error in result.body.get("ValidationErrors", [])]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"line": {"AccountCode": "999"}},
            "Account code '999' is not a valid code for this document.",
        ),
        (
            {"line": {"AccountCode": "400"}},
            "Account code '400' is not a valid code for this document.",
        ),
        (
            {"line": {"AccountCode": "090"}},
            "Account code '090' is not a valid code for this document.",
        ),
        (
            {"line": {"TaxType": "XYZ"}},
            "The TaxType code 'XYZ' does not exist or cannot be used for this type of transaction.",
        ),
        (
            {"line": {"TaxType": "OUTPUT"}},  # archived
            "The TaxType code 'OUTPUT' does not exist or cannot be used for this type of "
            "transaction.",
        ),
        (
            {"line": {"TaxType": "INPUT2"}},  # not for revenue
            "The TaxType code 'INPUT2' does not exist or cannot be used for this type of "
            "transaction.",
        ),
        (
            {"line": {"TaxType": "PENDING1"}},
            "The TaxType code 'PENDING1' does not exist or cannot be used for this type of "
            "transaction.",
        ),
        ({"CurrencyCode": "EUR"}, "Organisation is not subscribed to currency EUR"),
        (
            {"Contact": {"ContactID": "7d3f4c1e-0000-4000-8000-000000000000"}},
            "The Contact with the specified ContactID could not be found",
        ),
        ({"Contact": None}, "A Contact must be specified for this type of transaction"),
        ({"Type": None}, "Invoice Type must be specified"),
        ({"Status": "VOIDED"}, "Invoice not of valid status for creation"),
        ({"line": {"Description": None}}, "The description field is mandatory for each line item."),
        ({"line": {"AccountCode": None}}, "Account must be valid."),
        ({"LineItems": []}, "An invoice must have at least one line item."),
        ({"DueDate": None}, "Due Date must be specified"),
        ({"Date": "20th of never"}, "Date must be a valid date"),
        (
            {"line": {"LineAmount": 99}},
            "The line total 99.00 does not match the expected line total 100.00",
        ),
    ],
)
def test_validation_messages(org: Org, overrides: dict[str, Any], message: str) -> None:
    assert _messages(org, _invoice(org, **overrides)) == [message]
    assert org.invoices == {}


def test_drafts_may_lack_account_due_date_and_lines(org: Org) -> None:
    draft = _invoice(org, Status="DRAFT", DueDate=None, LineItems=[])
    assert _messages(org, draft) == []


def test_invoice_number_unique_for_sales_only(org: Org) -> None:
    assert _messages(org, _invoice(org)) == []
    assert _messages(org, _invoice(org, InvoiceNumber="inv-1")) == ["Invoice # must be unique."]
    bill = _invoice(org, Type="ACCPAY", line={"AccountCode": "400", "TaxType": "INPUT2"})
    assert _messages(org, bill) == []


def test_deleting_frees_the_number_and_voiding_keeps_it(org: Org) -> None:
    (draft,) = invoices.write(org, [_invoice(org, Status="DRAFT")], allow_update=False, now=NOW)
    draft_id = draft.body["InvoiceID"]
    assert _messages(org, {"InvoiceID": draft_id, "Status": "DELETED"}, allow_update=True) == []
    (auth,) = invoices.write(org, [_invoice(org)], allow_update=False, now=NOW)
    void = {"InvoiceID": auth.body["InvoiceID"], "Status": "VOIDED"}
    assert _messages(org, void, allow_update=True) == []
    assert _messages(org, _invoice(org)) == ["Invoice # must be unique."]


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("DRAFT", "AUTHORISED", True),
        ("DRAFT", "VOIDED", False),
        ("SUBMITTED", "DELETED", True),
        ("AUTHORISED", "DELETED", False),
        ("AUTHORISED", "DRAFT", False),
        ("AUTHORISED", "VOIDED", True),
    ],
)
def test_status_transitions(org: Org, start: str, target: str, allowed: bool) -> None:
    (created,) = invoices.write(org, [_invoice(org, Status=start)], allow_update=False, now=NOW)
    change = {"InvoiceID": created.body["InvoiceID"], "Status": target}
    expected = [] if allowed else ["Invoice not of valid status for modification"]
    assert _messages(org, change, allow_update=True) == expected
    if allowed:
        assert _messages(org, change | {"Reference": "x"}, allow_update=True) == (
            []
            if target not in ("VOIDED", "DELETED")
            else ["Invoice not of valid status for modification"]
        )


def test_update_keeps_unsent_fields_and_replaces_lines(org: Org) -> None:
    (created,) = invoices.write(org, [_invoice(org, Reference="R1")], allow_update=False, now=NOW)
    update = {
        "InvoiceID": created.body["InvoiceID"],
        "LineItems": [
            {"Description": "New", "Quantity": 1, "UnitAmount": 10, "AccountCode": "260"}
        ],
    }
    (updated,) = invoices.write(org, [update], allow_update=True, now=NOW + 1)
    assert updated.ok
    assert updated.body["Reference"] == "R1"
    assert (updated.body["SubTotal"], updated.body["TotalTax"], updated.body["Total"]) == (
        10,
        1.5,
        11.5,
    )
    assert len(org.invoices) == 1


def test_put_ignores_invoice_id_and_unknown_id_on_post_is_refused(org: Org) -> None:
    unknown = "7d3f4c1e-0000-4000-8000-000000000000"
    assert _messages(org, {"InvoiceID": unknown, "Status": "VOIDED"}, allow_update=True) == [
        "The Invoice with the specified InvoiceID could not be found"
    ]
    (created,) = invoices.write(
        org, [_invoice(org, InvoiceID=unknown)], allow_update=False, now=NOW
    )
    assert created.ok and created.body["InvoiceID"] != unknown


def test_contact_resolution_by_number_name_or_creation(org: Org) -> None:
    existing = _contact_id(org)
    batch = [
        _invoice(org, InvoiceNumber="A", Contact={"ContactNumber": "cus_42"}),
        _invoice(org, InvoiceNumber="B", Contact={"Name": "HARBOUR CAFE"}),
        _invoice(org, InvoiceNumber="C", Contact={"Name": "Brand New Ltd"}),
        _invoice(org, InvoiceNumber="D", Contact={"Name": "Brand New Ltd"}),
    ]
    results = invoices.write(org, batch, allow_update=False, now=NOW)
    ids = [r.body["Contact"]["ContactID"] for r in results]
    assert ids[:2] == [existing, existing]
    assert ids[2] == ids[3] != existing
    assert len(org.contacts) == 2


def test_invalid_invoice_creates_no_contact(org: Org) -> None:
    bad = _invoice(org, Contact={"Name": "Ghost Ltd"}, CurrencyCode="EUR")
    assert _messages(org, bad) == ["Organisation is not subscribed to currency EUR"]
    assert contacts.by_name(org, "Ghost Ltd") is None


def test_auto_numbering_skips_taken_numbers(org: Org) -> None:
    invoices.write(org, [_invoice(org, InvoiceNumber="INV-0001")], allow_update=False, now=NOW)
    (auto,) = invoices.write(org, [_invoice(org, InvoiceNumber=None)], allow_update=False, now=NOW)
    assert auto.body["InvoiceNumber"] == "INV-0002"


def test_malformed_numbers_refuse_the_whole_request(org: Org) -> None:
    with pytest.raises(PostDataInvalid):
        invoices.write(org, [_invoice(org, line={"Quantity": "ten"})], allow_update=False, now=NOW)


def test_discount_and_tax_override(org: Org) -> None:
    line = {"DiscountRate": 10, "TaxAmount": 14.99}
    (result,) = invoices.write(org, [_invoice(org, line=line)], allow_update=False, now=NOW)
    item = result.body["LineItems"][0]
    assert (item["LineAmount"], item["TaxAmount"]) == (90.0, 14.99)
    assert result.body["IsDiscounted"] is True


def _line_json(org: Org, **line: Any) -> dict[str, Any]:
    (result,) = invoices.write(org, [_invoice(org, line=line)], allow_update=False, now=NOW)
    assert result.ok, result.body.get("ValidationErrors")
    item: dict[str, Any] = result.body["LineItems"][0]
    return item


@pytest.mark.parametrize(
    ("unit_amount", "quantity", "unit_dp", "unit", "line_amount"),
    [
        (Decimal("0.1648"), 1000, 2, 0.16, 160.0),  # rounded before the line is computed
        (Decimal("0.1648"), 1000, 4, 0.1648, 164.8),
        (Decimal("0.16485"), 1000, 4, 0.1649, 164.9),  # more than 4 places: rounded to 4
        ("1.795", 1, 2, 1.8, 1.8),  # a numeric string, as some clients send
        (Decimal("33.335"), 3, 2, 33.34, 100.02),
        (150, 10, 2, 150.0, 1500.0),
    ],
)
def test_unit_amount_decimal_places(
    org: Org, unit_amount: Any, quantity: int, unit_dp: int, unit: float, line_amount: float
) -> None:
    element = _invoice(org, line={"UnitAmount": unit_amount, "Quantity": quantity})
    (result,) = invoices.write(org, [element], allow_update=False, now=NOW, unit_dp=unit_dp)
    item = result.body["LineItems"][0]
    assert (item["UnitAmount"], item["LineAmount"]) == (unit, line_amount)
    (saved,) = org.invoices.values()
    assert listing.invoice_json(org, saved, 4)["LineItems"][0]["UnitAmount"] == unit
    # A read without unitdp=4 answers UnitAmount at 2 places whatever is stored.
    assert listing.invoice_json(org, saved)["LineItems"][0]["UnitAmount"] == round(unit, 2)


def test_tax_per_line_then_summed_as_in_rounding_in_xero(org: Org) -> None:
    lines = [
        {"Description": d, "Quantity": 1, "UnitAmount": Decimal(u), "AccountCode": "200"}
        for d, u in (("A", "25.06"), ("B", "25.61"), ("C", "25.63"))
    ]
    (result,) = invoices.write(org, [_invoice(org, LineItems=lines)], allow_update=False, now=NOW)
    body = result.body
    assert [line["TaxAmount"] for line in body["LineItems"]] == [3.76, 3.84, 3.84]
    assert (body["SubTotal"], body["TotalTax"], body["Total"]) == (76.3, 11.44, 87.74)


def test_line_amount_alone_derives_the_unit_amount(org: Org) -> None:
    item = _line_json(org, Quantity=3, UnitAmount=None, LineAmount=Decimal("100.00"))
    assert (item["UnitAmount"], item["LineAmount"]) == (33.33, 100.0)


def test_post_without_id_updates_the_sales_invoice_holding_the_number(org: Org) -> None:
    (first,) = invoices.write(org, [_invoice(org, Reference="R1")], allow_update=False, now=NOW)
    again = _invoice(org, InvoiceNumber="inv-1", Reference="R2", line={"Quantity": 3})
    (second,) = invoices.write(org, [again], allow_update=True, now=NOW + 1)
    assert second.ok
    assert second.body["InvoiceID"] == first.body["InvoiceID"]
    assert (second.body["Reference"], second.body["Total"]) == ("R2", 172.5)
    assert len(org.invoices) == 1
    # PUT still refuses the taken number.
    assert _messages(org, _invoice(org)) == ["Invoice # must be unique."]


def test_post_by_number_keeps_the_status_rules(org: Org) -> None:
    (auth,) = invoices.write(org, [_invoice(org)], allow_update=False, now=NOW)
    void = {"InvoiceID": auth.body["InvoiceID"], "Status": "VOIDED"}
    assert _messages(org, void, allow_update=True) == []
    # A VOIDED invoice keeps its number, so the POST hits it and is refused.
    assert _messages(org, _invoice(org), allow_update=True) == [
        "Invoice not of valid status for modification"
    ]
    assert len(org.invoices) == 1


def test_post_by_number_creates_when_the_number_is_free_or_not_a_sales_one(org: Org) -> None:
    (draft,) = invoices.write(org, [_invoice(org, Status="DRAFT")], allow_update=False, now=NOW)
    deleted = {"InvoiceID": draft.body["InvoiceID"], "Status": "DELETED"}
    assert _messages(org, deleted, allow_update=True) == []
    (fresh,) = invoices.write(org, [_invoice(org)], allow_update=True, now=NOW)
    assert fresh.ok and fresh.body["InvoiceID"] != draft.body["InvoiceID"]  # DELETED freed it
    bill = _invoice(org, Type="ACCPAY", line={"AccountCode": "400", "TaxType": "INPUT2"})
    (saved_bill,) = invoices.write(org, [bill], allow_update=True, now=NOW)
    (second_bill,) = invoices.write(org, [bill], allow_update=True, now=NOW)
    assert saved_bill.ok and second_bill.ok
    assert len({saved_bill.body["InvoiceID"], second_bill.body["InvoiceID"]}) == 2
    assert len(org.invoices) == 4
