"""Sandbox responses validated against Xero's own OpenAPI schemas (xero_accounting.yaml and
xero-identity.yaml, OAS 3.0). The spec lives outside this repository, next to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from .conftest import api_headers, connect, create_org, invoice

SPEC_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "xero-openapi"
ACCOUNTING = SPEC_DIR / "xero_accounting.yaml"
IDENTITY = SPEC_DIR / "xero-identity.yaml"

Spec = dict[str, Any]


def _load(path: Path) -> Spec:
    if not path.exists():
        pytest.skip(f"{path} is absent (the Xero OpenAPI specs sit outside this repository)")
    with path.open() as handle:
        loaded: Spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return loaded


@pytest.fixture(scope="module")
def accounting_spec() -> Spec:
    return _load(ACCOUNTING)


@pytest.fixture(scope="module")
def identity_spec() -> Spec:
    return _load(IDENTITY)


def _errors(spec: Spec, schema: Spec, instance: Any, *, formats: bool = True) -> list[str]:
    validator = OAS30ReadValidator(
        {**schema, "components": spec["components"]},
        format_checker=oas30_format_checker if formats else None,
    )
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def assert_matches(spec: Spec, name: str, instance: Any) -> None:
    errors = _errors(spec, {"$ref": f"#/components/schemas/{name}"}, instance)
    assert not errors, f"{name}: " + "; ".join(errors[:10])


def test_the_validator_has_teeth(accounting_spec: Spec) -> None:
    broken = {"Invoices": [{"Status": "NOT-A-STATUS", "InvoiceID": "not-a-guid", "Total": "1"}]}
    assert len(_errors(accounting_spec, {"$ref": "#/components/schemas/Invoices"}, broken)) == 3


@pytest.fixture
def populated(http: httpx.Client) -> tuple[str, dict[str, str]]:
    tenant = create_org(http, name="Schema Org", currencies=["NZD", "AUD", "USD"])
    headers = api_headers(connect(http, tenant), tenant)
    contacts = {
        "Contacts": [
            {
                "Name": "Harbour Cafe",
                "ContactNumber": "cus_42",
                "EmailAddress": "a@harbour.example",
            },
            {"Name": "Kiwi Bikes", "FirstName": "Aroha", "LastName": "Ngata"},
        ]
    }
    saved = http.put("/api.xro/2.0/Contacts", headers=headers, json=contacts)
    assert saved.status_code == 200, saved.text
    contact_id = saved.json()["Contacts"][0]["ContactID"]
    batch = {
        "Invoices": [
            invoice("INV-1", contact_id),
            invoice("INV-2", contact_id, LineAmountTypes="Inclusive", CurrencyCode="AUD"),
            invoice("INV-3", contact_id, LineAmountTypes="NoTax", Status="DRAFT", Reference="R"),
            invoice("INV-4", "", Contact={"Name": "New Customer Ltd"}, Url="https://app.example/4"),
        ]
    }
    created = http.put("/api.xro/2.0/Invoices", headers=headers, json=batch)
    assert created.status_code == 200, created.text
    paid = http.post(f"/_sandbox/orgs/{tenant}/invoices/INV-1/payments")  # Payments, PAID
    assert paid.status_code == 200, paid.text
    return tenant, headers


@pytest.mark.parametrize(
    ("resource", "schema"),
    [
        ("Invoices", "Invoices"),
        ("Contacts", "Contacts"),
        ("TaxRates", "TaxRates"),
        ("Currencies", "Currencies"),
        ("Accounts", "Accounts"),
        ("Organisation", "Organisations"),
    ],
)
def test_get_responses_match_the_schema(
    http: httpx.Client,
    accounting_spec: Spec,
    populated: tuple[str, dict[str, str]],
    resource: str,
    schema: str,
) -> None:
    _, headers = populated
    response = http.get(f"/api.xro/2.0/{resource}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body[schema], f"{resource} came back empty, nothing was validated"
    assert_matches(accounting_spec, schema, body)


def test_paged_and_single_reads_match_the_schema(
    http: httpx.Client, accounting_spec: Spec, populated: tuple[str, dict[str, str]]
) -> None:
    _, headers = populated
    paged = http.get("/api.xro/2.0/Invoices", headers=headers, params={"page": 1}).json()
    assert paged["pagination"]["itemCount"] == 4
    assert_matches(accounting_spec, "Invoices", paged)
    one = http.get("/api.xro/2.0/Invoices/INV-2", headers=headers).json()
    assert_matches(accounting_spec, "Invoices", one)
    contact = http.get("/api.xro/2.0/Contacts/cus_42", headers=headers).json()
    assert_matches(accounting_spec, "Contacts", contact)


def test_write_responses_and_errors_match_the_schema(
    http: httpx.Client, accounting_spec: Spec, populated: tuple[str, dict[str, str]]
) -> None:
    _, headers = populated
    contact_id = http.get(
        "/api.xro/2.0/Contacts", headers=headers, params={"where": 'Name=="Harbour Cafe"'}
    ).json()["Contacts"][0]["ContactID"]
    # (A POST reusing a taken number would update that invoice, so the error is another one.)
    bad_line = [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "999"}]
    batch = {
        "Invoices": [
            invoice("INV-10", contact_id),
            invoice("INV-11", contact_id, LineItems=bad_line),
        ]
    }
    mixed = http.post(
        "/api.xro/2.0/Invoices", headers=headers, params={"summarizeErrors": "false"}, json=batch
    )
    assert mixed.status_code == 200
    assert [i["HasErrors"] for i in mixed.json()["Invoices"]] == [False, True]
    assert_matches(accounting_spec, "Invoices", mixed.json())

    refused = http.put(
        "/api.xro/2.0/Invoices", headers=headers, json={"Invoices": [invoice("INV-1", contact_id)]}
    )
    assert refused.status_code == 400
    assert_matches(accounting_spec, "Error", refused.json())
    contacts = http.put(
        "/api.xro/2.0/Contacts",
        headers=headers,
        params={"summarizeErrors": "false"},
        json={"Contacts": [{"Name": "Harbour Cafe"}, {"Name": "Fresh Name"}]},
    )
    assert [c["HasValidationErrors"] for c in contacts.json()["Contacts"]] == [True, False]
    assert_matches(accounting_spec, "Contacts", contacts.json())


def test_control_answers_are_xero_elements(
    http: httpx.Client, accounting_spec: Spec, populated: tuple[str, dict[str, str]]
) -> None:
    tenant, _ = populated
    typed_in = {"Name": "Typed Ltd"}
    typed = http.post(
        f"/_sandbox/orgs/{tenant}/invoices",
        params={"unitdp": "4"},
        json={
            "Invoices": [
                invoice("INV-20", "", Contact=typed_in),
                invoice("INV-1", "", Contact=typed_in),
            ]
        },
    )
    assert [i["HasErrors"] for i in typed.json()["Invoices"]] == [False, True]
    assert_matches(accounting_spec, "Invoices", typed.json())
    contacts = http.post(f"/_sandbox/orgs/{tenant}/contacts", json={"Contacts": [{"Name": "C"}]})
    assert_matches(accounting_spec, "Contacts", contacts.json())
    listed = http.get(f"/_sandbox/orgs/{tenant}/invoices").json()
    assert_matches(accounting_spec, "Invoices", {"Invoices": listed["Invoices"]})


def test_connections_match_the_identity_schema(http: httpx.Client, identity_spec: Spec) -> None:
    tenant = create_org(http)
    token = connect(http, tenant)
    listed = http.get("/connections", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert listed.status_code == 200
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}}
    assert len(listed.json()) == 1
    # Xero writes these .NET-style, without an offset, as the spec's own example shows
    # ("2019-12-07T18:46:19.5165400"); that is not RFC 3339, so formats are checked by pattern.
    errors = _errors(identity_spec, schema, listed.json(), formats=False)
    assert not errors, errors
    created = listed.json()[0]["createdDateUtc"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}", created), created
