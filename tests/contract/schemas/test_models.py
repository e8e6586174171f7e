"""The contract models accept the contract's example and name every bad field."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from sync_schemas import Invoice, InvoiceSyncRequested
from tests.support.samples import CONTRACT_INVOICE, invoice


def error_fields(payload: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as info:
        Invoice.model_validate(payload)
    return {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_contract_example_parses_with_exact_decimals() -> None:
    inv = Invoice.model_validate(CONTRACT_INVOICE)
    assert inv.lines[0].unit_price == Decimal("150.00")
    assert inv.model_dump(mode="json")["lines"][0]["unit_price"] == "150.00"
    assert inv.model_dump(mode="json") == CONTRACT_INVOICE


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        invoice().version = 9  # type: ignore[misc]


def test_unknown_fields_are_tolerated_and_dropped() -> None:
    inv = Invoice.model_validate({**CONTRACT_INVOICE, "added_in_a_later_release": True})
    assert "added_in_a_later_release" not in inv.model_dump()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": 0}, "version"),
        ({"currency": "nzd"}, "currency"),
        ({"status": "paid"}, "status"),
        ({"line_amount_type": "gross"}, "line_amount_type"),
        ({"issue_date": "20/11/2026"}, "issue_date"),
        ({"org_id": "org/acme"}, "org_id"),
        ({"lines": []}, "lines"),
        ({"customer": {"id": "cus_42"}}, "customer.name"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    assert field in error_fields({**CONTRACT_INVOICE, **change})


@pytest.mark.parametrize("bad", [10, 150.5, "1e3", "NaN", "12,50", "", "1" * 16])
def test_money_must_be_a_decimal_string(bad: object) -> None:
    line = {**CONTRACT_INVOICE["lines"][0], "unit_price": bad}
    assert "lines.0.unit_price" in error_fields({**CONTRACT_INVOICE, "lines": [line]})


def test_negative_and_fractional_quantities_are_decimal_strings() -> None:
    line = {**CONTRACT_INVOICE["lines"][0], "quantity": "-2.5", "unit_price": "0.123456"}
    inv = invoice(lines=[line])
    assert inv.lines[0].quantity == Decimal("-2.5")


def test_sync_request_carries_the_invoice() -> None:
    req = InvoiceSyncRequested.model_validate(
        {
            "org_id": "org_acme",
            "invoice_id": "inv_000123",
            "reason": "manual",
            "invoice": CONTRACT_INVOICE,
        }
    )
    assert req.batch_id is None and req.invoice.invoice_number == "INV-000123"
