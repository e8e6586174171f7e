"""Invoice and contact rules over plain HTTP, and the control API that plays the people and
other apps working in the same Xero org: typed-in invoices and contacts, payments."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from .conftest import api_headers, connect, invoice

API = "/api.xro/2.0"
NOT_MODIFIABLE = "Invoice not of valid status for modification"
NAME_TAKEN = (
    "The contact name Harbour Cafe is already assigned to another contact. The contact name "
    "must be unique across all active contacts."
)


@pytest.fixture
def headers(http: httpx.Client, tenant_id: str) -> dict[str, str]:
    return api_headers(connect(http, tenant_id), tenant_id)


def _contact(http: httpx.Client, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"Contacts": [{"Name": "Harbour Cafe", **fields}]}
    saved = http.put(f"{API}/Contacts", headers=headers, json=body)
    assert saved.status_code == 200, saved.text
    contact: dict[str, Any] = saved.json()["Contacts"][0]
    return contact


def _bill(number: str, contact: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    line = {"Description": "Stock", "Quantity": 1, "UnitAmount": 40, "AccountCode": "400"}
    return invoice(number, "", Type="ACCPAY", Contact=contact, LineItems=[line], **overrides)


def _type_in(http: httpx.Client, tenant: str, *elements: dict[str, Any]) -> list[dict[str, Any]]:
    typed = http.post(f"/_sandbox/orgs/{tenant}/invoices", json={"Invoices": list(elements)})
    assert typed.status_code == 200, typed.text
    answered: list[dict[str, Any]] = typed.json()["Invoices"]
    return answered


def _messages(element: dict[str, Any]) -> list[str]:
    return [error["Message"] for error in element.get("ValidationErrors", [])]


def _get(http: httpx.Client, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = http.get(f"{API}{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_typed_in_records_follow_the_put_rules_outside_the_api(
    http: httpx.Client, tenant_id: str
) -> None:
    base = f"/_sandbox/orgs/{tenant_id}"
    contacts = http.post(
        f"{base}/contacts",
        json={
            "Contacts": [{"Name": "Supplier Co", "ContactNumber": "SUP-1"}, {"Name": "supplier co"}]
        },
    )
    assert contacts.status_code == 200, contacts.text
    supplier, clash = contacts.json()["Contacts"]
    assert (supplier["HasValidationErrors"], clash["HasValidationErrors"]) == (False, True)
    assert "supplier co is already assigned" in _messages(clash)[0]

    typed = _type_in(
        http,
        tenant_id,
        invoice("INV-1", "", Contact={"Name": "Walk-in Customer"}, Url="https://other.example/1"),
        _bill("B-1", {"ContactID": supplier["ContactID"]}),
        _bill("B-1", {"Name": "Supplier Co"}),  # bills' numbers may repeat
        invoice("inv-1", "", Contact={"Name": "Walk-in Customer"}),
        invoice("INV-9", "", Contact={"Name": "Walk-in Customer"}, Status="VOIDED"),
    )
    assert [element["HasErrors"] for element in typed] == [False, False, False, True, True]
    assert _messages(typed[3]) == ["Invoice # must be unique."]
    assert _messages(typed[4]) == ["Invoice not of valid status for creation"]
    assert typed[0]["Url"] == "https://other.example/1"
    assert typed[1]["Contact"]["ContactID"] == typed[2]["Contact"]["ContactID"]

    # Nothing of it went through the Accounting API: no log, no calls counted.
    assert http.get("/_sandbox/requests").json()["requests"] == []
    assert http.get("/_sandbox/stats").json()["totals"]["calls"] == 0

    # The API sees them like any other: the typed-in number is taken for a PUT.
    headers = api_headers(connect(http, tenant_id), tenant_id)
    refused = http.put(
        f"{API}/Invoices", headers=headers, json=invoice("INV-1", typed[0]["Contact"]["ContactID"])
    )
    assert refused.status_code == 400
    assert _messages(refused.json()["Elements"][0]) == ["Invoice # must be unique."]
    found = _get(http, headers, "/Contacts", where='Name=="Walk-in Customer"')["Contacts"]
    assert len(found) == 1 and found[0]["IsCustomer"] is True


def test_control_writes_refuse_unreadable_bodies_and_unknown_tenants(
    http: httpx.Client, tenant_id: str
) -> None:
    for kind in ("invoices", "contacts"):
        bad = http.post(f"/_sandbox/orgs/{tenant_id}/{kind}", content=b"{not json")
        assert bad.status_code == 400
        assert bad.json()["Type"] == "PostDataInvalidException"
        assert http.post(f"/_sandbox/orgs/nope/{kind}", json={}).status_code == 404
    lines = [{"Description": "x", "Quantity": "ten", "UnitAmount": 1, "AccountCode": "200"}]
    unreadable = http.post(
        f"/_sandbox/orgs/{tenant_id}/invoices",
        json={"Invoices": [invoice("INV-1", "", Contact={"Name": "A"}, LineItems=lines)]},
    )
    assert unreadable.status_code == 400


def test_payments_make_an_invoice_paid_and_frozen(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    contact = _contact(http, headers)
    created = _type_in(
        http,
        tenant_id,
        invoice("INV-1", contact["ContactID"]),
        invoice("INV-2", contact["ContactID"], Status="DRAFT"),
    )
    invoice_id = created[0]["InvoiceID"]
    pay = f"/_sandbox/orgs/{tenant_id}/invoices/{invoice_id}/payments"

    part = http.post(pay, json={"Amount": 500.25})
    assert part.status_code == 200, part.text
    partly = part.json()["Invoices"][0]
    assert (partly["Status"], partly["AmountPaid"], partly["AmountDue"]) == (
        "AUTHORISED",
        500.25,
        1224.75,
    )
    rest = http.post(pay)  # no body: whatever is still due
    paid = rest.json()["Invoices"][0]
    assert (paid["Status"], paid["AmountPaid"], paid["AmountDue"]) == ("PAID", 1725.0, 0.0)
    assert [p["Amount"] for p in paid["Payments"]] == [500.25, 1224.75]
    assert "FullyPaidOnDate" in paid

    again = http.post(pay, json={"Amount": 1})
    assert again.status_code == 400
    assert again.json()["detail"] == "Payments can only be made against Authorised documents"
    draft_pay = http.post(f"/_sandbox/orgs/{tenant_id}/invoices/INV-2/payments")
    assert draft_pay.status_code == 400
    assert http.post(f"/_sandbox/orgs/{tenant_id}/invoices/INV-404/payments").status_code == 404

    for change in ({"Reference": "late edit"}, {"Status": "VOIDED"}, {"Status": "DELETED"}):
        by_id = http.post(f"{API}/Invoices/{invoice_id}", headers=headers, json=change)
        assert by_id.status_code == 400
        assert _messages(by_id.json()["Elements"][0]) == [NOT_MODIFIABLE]
    by_number = http.post(
        f"{API}/Invoices",
        headers=headers,
        params={"summarizeErrors": "false"},
        json={"Invoices": [invoice("INV-1", contact["ContactID"])]},
    )
    assert _messages(by_number.json()["Invoices"][0]) == [NOT_MODIFIABLE]
    stored = _get(http, headers, f"/Invoices/{invoice_id}")["Invoices"][0]
    assert (stored["Status"], stored["Reference"]) == ("PAID", "")


def test_post_with_a_taken_sales_number_updates_and_put_refuses(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    contact_id = _contact(http, headers)["ContactID"]
    first = http.put(f"{API}/Invoices", headers=headers, json=invoice("INV-1", contact_id))
    invoice_id = first.json()["Invoices"][0]["InvoiceID"]
    duplicate = invoice("inv-1", contact_id, Reference="second try")
    refused = http.put(f"{API}/Invoices", headers=headers, json=duplicate)
    assert refused.status_code == 400
    assert _messages(refused.json()["Elements"][0]) == ["Invoice # must be unique."]

    posted = http.post(f"{API}/Invoices", headers=headers, json=duplicate)
    assert posted.status_code == 200, posted.text
    updated = posted.json()["Invoices"][0]
    assert (updated["InvoiceID"], updated["Reference"]) == (invoice_id, "second try")
    assert http.get(f"/_sandbox/orgs/{tenant_id}/invoices").json()["count"] == 1


def _identity(element: dict[str, Any]) -> tuple[Any, ...]:
    contact = element["Contact"]
    return (
        element["Url"],
        element["Type"],
        element["Status"],
        element["Total"],
        element["InvoiceNumber"],
        contact["ContactID"],
        contact["ContactNumber"],
        contact["Name"],
    )


def test_url_and_identity_fields_on_every_read(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    contact = _contact(http, headers, ContactNumber="CUS-42")
    body = invoice("INV-1", contact["ContactID"], Status="DRAFT", Url="https://app.example/i/1")
    created = http.put(f"{API}/Invoices", headers=headers, json=body).json()["Invoices"][0]
    invoice_id = created["InvoiceID"]
    assert created["Url"] == "https://app.example/i/1"
    change = {"Url": "https://app.example/i/1?v=2", "Status": "AUTHORISED"}
    updated = http.post(f"{API}/Invoices/{invoice_id}", headers=headers, json=change)
    assert updated.status_code == 200, updated.text

    expected = (
        "https://app.example/i/1?v=2",
        "ACCREC",
        "AUTHORISED",
        1725.0,
        "INV-1",
        contact["ContactID"],
        "CUS-42",
        "Harbour Cafe",
    )
    reads = [
        _get(http, headers, "/Invoices", InvoiceNumbers="inv-1")["Invoices"],
        _get(http, headers, "/Invoices", IDs=invoice_id)["Invoices"],
        _get(http, headers, f"/Invoices/{invoice_id}")["Invoices"],
        _get(http, headers, "/Invoices/INV-1")["Invoices"],
        http.get(f"/_sandbox/orgs/{tenant_id}/invoices").json()["Invoices"],
    ]
    for read in reads:
        assert [_identity(element) for element in read] == [expected]


def test_invoice_numbers_find_both_types_in_every_status(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    contact = _contact(http, headers)
    contact_id = contact["ContactID"]
    voided, deleted = http.put(
        f"{API}/Invoices",
        headers=headers,
        json={"Invoices": [invoice("X-1", contact_id), invoice("X-2", contact_id, Status="DRAFT")]},
    ).json()["Invoices"]
    cancel = [
        {"InvoiceID": voided["InvoiceID"], "Status": "VOIDED"},
        {"InvoiceID": deleted["InvoiceID"], "Status": "DELETED"},
    ]
    assert http.post(f"{API}/Invoices", headers=headers, json={"Invoices": cancel}).is_success
    later = [_bill("x-1", {"ContactID": contact_id}), invoice("X-2", contact_id)]
    assert http.put(f"{API}/Invoices", headers=headers, json={"Invoices": later}).is_success

    found = _get(http, headers, "/Invoices", InvoiceNumbers="x-1,X-2")["Invoices"]
    assert sorted((i["InvoiceNumber"], i["Type"], i["Status"]) for i in found) == [
        ("X-1", "ACCREC", "VOIDED"),
        ("X-2", "ACCREC", "AUTHORISED"),
        ("X-2", "ACCREC", "DELETED"),
        ("x-1", "ACCPAY", "AUTHORISED"),
    ]
    active = _get(http, headers, "/Invoices", InvoiceNumbers="X-1,X-2", Statuses="AUTHORISED")
    assert len(active["Invoices"]) == 2


def test_ids_take_many_guids(http: httpx.Client, tenant_id: str, headers: dict[str, str]) -> None:
    contact_id = _contact(http, headers)["ContactID"]
    batch = {"Invoices": [invoice(f"INV-{n}", contact_id) for n in range(60)]}
    created = http.put(f"{API}/Invoices", headers=headers, json=batch).json()["Invoices"]
    ids = [element["InvoiceID"] for element in created]
    found = _get(http, headers, "/Invoices", IDs=",".join([*ids, str(uuid.uuid4())]))
    assert sorted(i["InvoiceID"] for i in found["Invoices"]) == sorted(ids)


def test_unit_amounts_keep_two_places_unless_unitdp_4(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    contact_id = _contact(http, headers)["ContactID"]

    def put(number: str, unit: Any, **params: str) -> dict[str, Any]:
        line = {"Description": "kWh", "Quantity": 1000, "UnitAmount": unit, "AccountCode": "200"}
        body = {"Invoices": [invoice(number, contact_id, LineItems=[line])]}
        saved = http.put(f"{API}/Invoices", headers=headers, params=params, json=body)
        assert saved.status_code == 200, saved.text
        element: dict[str, Any] = saved.json()["Invoices"][0]
        return element

    four = put("E-4", 0.1648, unitdp="4")
    two = put("E-2", "0.1648")  # a numeric string, as some clients send
    assert [(e["LineItems"][0]["UnitAmount"], e["SubTotal"]) for e in (four, two)] == [
        (0.1648, 164.8),
        (0.16, 160.0),
    ]
    plain = _get(http, headers, f"/Invoices/{four['InvoiceID']}")["Invoices"][0]
    opted = _get(http, headers, f"/Invoices/{four['InvoiceID']}", unitdp=4)["Invoices"][0]
    assert (plain["LineItems"][0]["UnitAmount"], opted["LineItems"][0]["UnitAmount"]) == (
        0.16,
        0.1648,
    )
    assert plain["SubTotal"] == 164.8  # what was computed at 4 places stays

    # Read as written, not through a binary float (which would make it 1.005 and round up).
    exact = (
        b'{"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": "'
        + contact_id.encode()
        + b'"}, "InvoiceNumber": "E-X", "DueDate": "2026-12-20", "Status": "AUTHORISED",'
        b' "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1.004999999999999999,'
        b' "AccountCode": "200"}]}]}'
    )
    saved = http.put(f"{API}/Invoices", headers=headers, content=exact)
    assert saved.json()["Invoices"][0]["LineItems"][0]["UnitAmount"] == 1.0

    # A failed element echoes the request's numbers back as numbers.
    unknown = {"InvoiceID": str(uuid.uuid4()), "LineItems": [{"UnitAmount": 0.125}]}
    refused = http.post(f"{API}/Invoices", headers=headers, json=unknown)
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["LineItems"][0]["UnitAmount"] == 0.125


def test_contact_lookups_and_rules(http: httpx.Client, headers: dict[str, str]) -> None:
    saved = _contact(http, headers, ContactNumber="CUS-1")
    by_name = _get(http, headers, "/Contacts", where='Name=="Harbour Cafe"')["Contacts"]
    assert [c["ContactID"] for c in by_name] == [saved["ContactID"]]
    assert _get(http, headers, "/Contacts", where='Name=="Harbour"')["Contacts"] == []
    by_number = _get(http, headers, "/Contacts/CUS-1")["Contacts"][0]
    assert by_number["Name"] == "Harbour Cafe"

    for method in (http.put, http.post):
        clash = method(f"{API}/Contacts", headers=headers, json={"Name": "Harbour Cafe"})
        assert clash.status_code == 400
        assert _messages(clash.json()["Elements"][0]) == [NAME_TAKEN]
    archive = {"ContactID": saved["ContactID"], "ContactStatus": "ARCHIVED"}
    assert http.post(f"{API}/Contacts", headers=headers, json=archive).is_success
    assert http.put(f"{API}/Contacts", headers=headers, json={"Name": "Harbour Cafe"}).is_success

    numbers = {
        "Contacts": [
            {"Name": "A", "ContactNumber": "n" * 50},
            {"Name": "B", "ContactNumber": "n" * 51},
        ]
    }
    checked = http.put(
        f"{API}/Contacts", headers=headers, params={"summarizeErrors": "false"}, json=numbers
    )
    assert [_messages(c) for c in checked.json()["Contacts"]] == [
        [],
        ["The Contact Number must not exceed 50 characters."],
    ]
