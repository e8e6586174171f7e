"""The sandbox driven by Xero's own Python SDK: if its OpenAPI-generated models parse every
answer, the connector (which speaks the same wire format) can trust the sandbox."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import pytest
from urllib3.util.retry import Retry
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import (
    Contact,
    Contacts,
    CurrencyCode,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
)
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, RateLimitException
from xero_python.exceptions.http_status_exceptions import BadRequestException
from xero_python.identity import IdentityApi

from .conftest import Server, connect

# The SDK's models have no type hints; the test only needs them to parse.
SdkApi = Any


class Sdk:
    def __init__(self, server: Server, token: dict[str, Any]) -> None:
        self.store: dict[str, Any] = {"token": token}
        self.client = ApiClient(
            Configuration(oauth2_token=OAuth2Token(client_id="sandbox", client_secret="sandbox")),
            pool_threads=1,
        )
        self.client.oauth2_token_getter(lambda: self.store["token"])
        self.client.oauth2_token_saver(self._save)
        self.client.set_oauth2_token(token)
        # urllib3 under the SDK would otherwise sleep Retry-After and retry a 429 by itself.
        no_retry = Retry(total=0, respect_retry_after_header=False)
        self.client.rest_client.pool_manager.connection_pool_kw["retries"] = no_retry
        self.accounting: SdkApi = AccountingApi(
            self.client, base_url=f"{server.base_url}/api.xro/2.0"
        )
        self.identity: SdkApi = IdentityApi(self.client, base_url=server.base_url)

    def _save(self, token: dict[str, Any]) -> None:
        self.store["token"] = token


@pytest.fixture
def sdk(server: Server, http: httpx.Client, tenant_id: str, monkeypatch: pytest.MonkeyPatch) -> Sdk:
    # The SDK hard-codes identity.xero.com for refresh and revocation.
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{server.base_url}/connect/token")
    monkeypatch.setattr(TokenApi, "revoke_token_url", f"{server.base_url}/connect/revocation")
    return Sdk(server, connect(http, tenant_id))


def _v(value: Any) -> Any:
    """The SDK turns enum fields (CurrencyCode, Status, ...) into Enums."""
    return getattr(value, "value", value)


def _contact(name: str, number: str | None = None) -> Contact:
    return Contact(name=name, contact_number=number, email_address=f"{name[:4]}@example.com")


def _invoice(number: str, contact_id: str, **overrides: Any) -> Invoice:
    line = LineItem(
        description="Consulting",
        quantity=2.0,
        unit_amount=100.0,
        account_code=overrides.pop("account_code", "200"),
        tax_type=overrides.pop("tax_type", "OUTPUT2"),
    )
    fields: dict[str, Any] = {
        "type": "ACCREC",
        "contact": Contact(contact_id=contact_id),
        "invoice_number": number,
        "date": date(2026, 11, 20),
        "due_date": date(2026, 12, 20),
        "line_amount_types": LineAmountTypes.EXCLUSIVE,
        "status": "AUTHORISED",
        "line_items": [line],
    }
    fields.update(overrides)
    return Invoice(**fields)


def test_connections_and_settings_parse(sdk: Sdk, tenant_id: str) -> None:
    connections = sdk.identity.get_connections()
    assert [c.tenant_id for c in connections] == [tenant_id]
    assert connections[0].tenant_type == "ORGANISATION"

    organisation = sdk.accounting.get_organisations(tenant_id).organisations[0]
    assert _v(organisation.base_currency) == "NZD"
    assert _v(organisation.country_code) == "NZ"
    assert organisation.name == "Harbour Books Ltd"

    currencies = sdk.accounting.get_currencies(tenant_id).currencies
    assert {_v(c.code) for c in currencies} == {"NZD", "AUD"}

    rates = {r.tax_type: r for r in sdk.accounting.get_tax_rates(tenant_id).tax_rates}
    assert rates["OUTPUT2"].effective_rate == 15
    assert _v(rates["OUTPUT2"].status) == "ACTIVE"
    assert _v(rates["OUTPUT"].status) == "ARCHIVED"

    accounts = {a.code: a for a in sdk.accounting.get_accounts(tenant_id).accounts}
    assert accounts["200"].name == "Sales"
    assert _v(accounts["200"]._class) == "REVENUE"


def test_refresh_through_the_sdk_rotates_tokens(sdk: Sdk, tenant_id: str) -> None:
    first = dict(sdk.store["token"])
    # Make the SDK believe the access token is about to expire: it must refresh by itself.
    sdk.store["token"] = {**first, "expires_at": time.time() - 5}
    assert sdk.accounting.get_organisations(tenant_id).organisations
    refreshed = sdk.store["token"]
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert refreshed["expires_in"] == 1800

    # The explicit refresh call rotates again.
    again = sdk.client.refresh_oauth2_token()
    assert again["refresh_token"] != refreshed["refresh_token"]


def test_contacts_batch_with_per_element_errors(sdk: Sdk, tenant_id: str) -> None:
    batch = Contacts(
        contacts=[
            _contact("Harbour Cafe", "C-1"),
            _contact("Harbour Cafe"),
            _contact("Kiwi Bikes", "C-1"),
        ]
    )
    result = sdk.accounting.create_contacts(tenant_id, batch, summarize_errors=False)
    flags = [c.has_validation_errors for c in result.contacts]
    assert flags == [False, True, True]
    assert result.contacts[0].contact_id
    messages = [e.message for e in result.contacts[1].validation_errors]
    assert messages == [
        "The contact name Harbour Cafe is already assigned to another contact. The contact "
        "name must be unique across all active contacts."
    ]
    assert "C-1 is already assigned" in result.contacts[2].validation_errors[0].message

    found = sdk.accounting.get_contacts(tenant_id, where='Name=="harbour cafe"').contacts
    assert [c.contact_id for c in found] == [result.contacts[0].contact_id]
    by_number = sdk.accounting.get_contact_by_contact_number(tenant_id, "C-1").contacts
    assert by_number[0].name == "Harbour Cafe"


def test_invoice_batch_and_summarized_400(sdk: Sdk, tenant_id: str) -> None:
    contact_id = (
        sdk.accounting.create_contacts(tenant_id, Contacts(contacts=[_contact("Harbour Cafe")]))
        .contacts[0]
        .contact_id
    )

    mixed = Invoices(
        invoices=[
            _invoice("INV-100", contact_id),
            _invoice("INV-101", contact_id, account_code="999"),
            _invoice("INV-102", contact_id, currency_code=CurrencyCode.EUR),
        ]
    )
    result = sdk.accounting.create_invoices(tenant_id, mixed, summarize_errors=False)
    assert [i.has_errors for i in result.invoices] == [False, True, True]
    saved = result.invoices[0]
    assert (saved.sub_total, saved.total_tax, saved.total, saved.amount_due) == (200, 30, 230, 230)
    assert str(saved.date) == "2026-11-20"
    assert result.invoices[1].validation_errors[0].message == (
        "Account code '999' is not a valid code for this document."
    )
    assert result.invoices[2].validation_errors[0].message == (
        "Organisation is not subscribed to currency EUR"
    )

    # Default summarizeErrors: one bad element makes a 400, yet the good one is saved.
    summarized = Invoices(
        invoices=[_invoice("INV-103", contact_id), _invoice("INV-104", contact_id, tax_type="XYZ")]
    )
    with pytest.raises(BadRequestException) as refused:
        sdk.accounting.create_invoices(tenant_id, summarized)
    error = refused.value.error_data
    assert error["Type"] == "ValidationException"
    assert [e["InvoiceNumber"] for e in error["Elements"]] == ["INV-104"]
    numbers = {i.invoice_number for i in sdk.accounting.get_invoices(tenant_id).invoices}
    assert numbers == {"INV-100", "INV-103"}


def test_duplicate_invoice_number_is_refused(sdk: Sdk, tenant_id: str) -> None:
    contact_id = (
        sdk.accounting.create_contacts(tenant_id, Contacts(contacts=[_contact("Harbour Cafe")]))
        .contacts[0]
        .contact_id
    )
    sdk.accounting.create_invoices(tenant_id, Invoices(invoices=[_invoice("INV-7", contact_id)]))
    with pytest.raises((AccountingBadRequestException, BadRequestException)) as refused:
        sdk.accounting.create_invoices(
            tenant_id, Invoices(invoices=[_invoice("INV-7", contact_id)])
        )
    messages = refused.value.error_data["Elements"][0]["ValidationErrors"]
    assert messages == [{"Message": "Invoice # must be unique."}]
    found = sdk.accounting.get_invoices(tenant_id, invoice_numbers=["INV-7"]).invoices
    assert len(found) == 1


def test_idempotency_key_replay_creates_nothing_new(sdk: Sdk, tenant_id: str) -> None:
    contact_id = (
        sdk.accounting.create_contacts(tenant_id, Contacts(contacts=[_contact("Harbour Cafe")]))
        .contacts[0]
        .contact_id
    )
    batch = Invoices(invoices=[_invoice("INV-50", contact_id), _invoice("INV-51", contact_id)])
    first = sdk.accounting.create_invoices(tenant_id, batch, idempotency_key="batch-50")
    replay = sdk.accounting.create_invoices(tenant_id, batch, idempotency_key="batch-50")
    assert [i.invoice_id for i in replay.invoices] == [i.invoice_id for i in first.invoices]
    assert [i.updated_date_utc for i in replay.invoices] == [
        i.updated_date_utc for i in first.invoices
    ]
    assert len(sdk.accounting.get_invoices(tenant_id).invoices) == 2

    other = Invoices(invoices=[_invoice("INV-52", contact_id)])
    with pytest.raises(BadRequestException) as reused:
        sdk.accounting.create_invoices(tenant_id, other, idempotency_key="batch-50")
    assert reused.value.status == 400
    assert len(sdk.accounting.get_invoices(tenant_id).invoices) == 2


def test_update_and_void_by_invoice_id(sdk: Sdk, tenant_id: str) -> None:
    contact_id = (
        sdk.accounting.create_contacts(tenant_id, Contacts(contacts=[_contact("Harbour Cafe")]))
        .contacts[0]
        .contact_id
    )
    created = sdk.accounting.create_invoices(
        tenant_id, Invoices(invoices=[_invoice("INV-9", contact_id, status="DRAFT")])
    ).invoices[0]
    updated = sdk.accounting.update_invoice(
        tenant_id,
        created.invoice_id,
        Invoices(invoices=[Invoice(reference="PO-7781", status="AUTHORISED")]),
    ).invoices[0]
    assert (updated.invoice_id, updated.reference, _v(updated.status)) == (
        created.invoice_id,
        "PO-7781",
        "AUTHORISED",
    )
    voided = sdk.accounting.update_invoice(
        tenant_id, created.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    ).invoices[0]
    assert _v(voided.status) == "VOIDED"
    assert voided.amount_due == 0


def test_paid_invoice_parses_and_refuses_changes(
    sdk: Sdk, http: httpx.Client, tenant_id: str
) -> None:
    contact_id = (
        sdk.accounting.create_contacts(tenant_id, Contacts(contacts=[_contact("Harbour Cafe")]))
        .contacts[0]
        .contact_id
    )
    created = sdk.accounting.create_invoices(
        tenant_id, Invoices(invoices=[_invoice("INV-8", contact_id, url="https://app.example/8")])
    ).invoices[0]
    paid = http.post(f"/_sandbox/orgs/{tenant_id}/invoices/{created.invoice_id}/payments")
    assert paid.status_code == 200, paid.text
    found = sdk.accounting.get_invoice(tenant_id, created.invoice_id).invoices[0]
    assert (_v(found.status), found.amount_due, found.amount_paid) == ("PAID", 0, 230)
    assert found.url == "https://app.example/8"
    assert [p.amount for p in found.payments] == [230]
    assert found.fully_paid_on_date is not None
    with pytest.raises(BadRequestException) as refused:
        sdk.accounting.update_invoice(
            tenant_id, created.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
        )
    messages = refused.value.error_data["Elements"][0]["ValidationErrors"]
    assert messages == [{"Message": "Invoice not of valid status for modification"}]


def test_rate_limit_429_carries_retry_after(sdk: Sdk, http: httpx.Client, tenant_id: str) -> None:
    http.put("/_sandbox/limits", json={"per_minute": 2}).raise_for_status()
    sdk.accounting.get_currencies(tenant_id)
    sdk.accounting.get_currencies(tenant_id)
    with pytest.raises(RateLimitException) as limited:
        sdk.accounting.get_currencies(tenant_id)
    headers = limited.value.headers
    assert limited.value.rate_limit == "minute"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["X-MinLimit-Remaining"] == "0"
