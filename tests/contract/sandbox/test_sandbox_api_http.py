"""The Accounting API and control API over plain HTTP: limits, faults, idempotency, filters,
request log and stats."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.eventually import eventually_sync

from .conftest import REDIRECT_URI, Server, api_headers, connect, create_org, invoice

API = "/api.xro/2.0"


@pytest.fixture
def headers(http: httpx.Client, tenant_id: str) -> dict[str, str]:
    return api_headers(connect(http, tenant_id), tenant_id)


def _contact_id(http: httpx.Client, headers: dict[str, str], name: str = "Harbour Cafe") -> str:
    saved = http.put(f"{API}/Contacts", headers=headers, json={"Contacts": [{"Name": name}]})
    assert saved.status_code == 200, saved.text
    contact_id: str = saved.json()["Contacts"][0]["ContactID"]
    return contact_id


def _invoice_count(http: httpx.Client, tenant: str) -> int:
    count: int = http.get(f"/_sandbox/orgs/{tenant}/invoices").json()["count"]
    return count


def test_every_response_carries_the_limit_headers(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    http.put("/_sandbox/limits", json={"per_minute": 60, "per_day": 5000, "app_per_minute": 10000})
    first = http.get(f"{API}/Organisation", headers=headers)
    second = http.get(f"{API}/Currencies", headers=headers)
    assert [first.headers["X-MinLimit-Remaining"], second.headers["X-MinLimit-Remaining"]] == [
        "59",
        "58",
    ]
    assert second.headers["X-DayLimit-Remaining"] == "4998"
    assert second.headers["X-AppMinLimit-Remaining"] == "9998"


def test_minute_window_resets_under_time_scale(http: httpx.Client, headers: dict[str, str]) -> None:
    # 1200: a Xero minute lasts 50 ms, so the test waits for a window without a long sleep.
    http.put("/_sandbox/limits", json={"per_minute": 2, "time_scale": 1200})
    assert http.get(f"{API}/Currencies", headers=headers).status_code == 200
    assert http.get(f"{API}/Currencies", headers=headers).status_code == 200
    limited = http.get(f"{API}/Currencies", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Problem"] == "minute"
    assert limited.headers["Retry-After"] == "1"  # at least one second, even when scaled
    eventually_sync(
        lambda: http.get(f"{API}/Currencies", headers=headers).status_code == 200,
        what="the next (scaled) minute to allow a call",
        timeout=5,
        interval=0.02,
    )


def test_day_and_app_limits(http: httpx.Client, server: Server) -> None:
    first = create_org(http, name="A")
    second = create_org(http, name="B")
    headers_a = api_headers(connect(http, first), first)
    headers_b = api_headers(connect(http, second), second)
    http.put("/_sandbox/limits", json={"per_day": 1, "app_per_minute": 100})
    assert http.get(f"{API}/Currencies", headers=headers_a).status_code == 200
    day = http.get(f"{API}/Currencies", headers=headers_a)
    assert (day.status_code, day.headers["X-Rate-Limit-Problem"]) == (429, "day")
    assert int(day.headers["Retry-After"]) > 80_000  # the rest of the Xero day
    assert http.get(f"{API}/Currencies", headers=headers_b).status_code == 200  # per tenant

    http.put("/_sandbox/limits", json={"per_day": 1000, "app_per_minute": 1})
    assert http.get(f"{API}/Currencies", headers=headers_a).status_code == 200
    app = http.get(f"{API}/Currencies", headers=headers_b)
    assert (app.status_code, app.headers["X-Rate-Limit-Problem"]) == (429, "appminute")
    stats = http.get("/_sandbox/stats").json()
    assert stats["totals"]["responses_429"] == 2
    assert stats["totals"]["by_problem_429"] == {"day": 1, "appminute": 1}
    assert stats["tenants"][second]["responses_429"] == 1


def test_refused_calls_do_not_consume_quota(http: httpx.Client, headers: dict[str, str]) -> None:
    http.put("/_sandbox/limits", json={"per_minute": 1, "per_day": 10})
    assert http.get(f"{API}/Currencies", headers=headers).status_code == 200
    for _ in range(3):
        assert http.get(f"{API}/Currencies", headers=headers).status_code == 429
    http.put("/_sandbox/limits", json={"per_minute": 100})  # new windows
    response = http.get(f"{API}/Currencies", headers=headers)
    assert response.headers["X-DayLimit-Remaining"] == "9"


async def test_concurrent_limit_counts_requests_held_by_latency(
    server: Server, http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await client.put("/_sandbox/limits", json={"concurrent": 2})
        await client.put("/_sandbox/faults", json={"latency_ms": 300, "tenant_id": tenant_id})
        results = await asyncio.gather(
            *(client.get(f"{API}/Currencies", headers=headers) for _ in range(4))
        )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 429, 429]
    refused = [r for r in results if r.status_code == 429]
    assert {r.headers["X-Rate-Limit-Problem"] for r in refused} == {"concurrent"}


def test_error_fault_does_not_write(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    contact_id = _contact_id(http, headers)
    http.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503})
    failed = http.put(f"{API}/Invoices", headers=headers, json=invoice("INV-1", contact_id))
    assert failed.status_code == 503
    assert "X-MinLimit-Remaining" in failed.headers
    assert _invoice_count(http, tenant_id) == 0
    http.put("/_sandbox/faults", json={"error_rate": 0})
    ok = http.put(f"{API}/Invoices", headers=headers, json=invoice("INV-1", contact_id))
    assert ok.status_code == 200
    assert _invoice_count(http, tenant_id) == 1


def test_an_injected_429_says_when_to_come_back_as_xeros_do(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    http.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 429})
    refused = http.get(f"{API}/Currencies", headers=headers)
    http.put("/_sandbox/faults", json={"error_rate": 0})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert http.get("/_sandbox/stats").json()["totals"]["by_problem_429"]["minute"] >= 1


def test_latency_fault_applies_after_the_write(
    http: httpx.Client, server: Server, tenant_id: str, headers: dict[str, str]
) -> None:
    contact_id = _contact_id(http, headers)
    http.put("/_sandbox/faults", json={"latency_ms": 600})
    body = {"Invoices": [invoice("INV-1", contact_id)]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.put(
            f"{server.base_url}{API}/Invoices",
            headers={**headers, "Idempotency-Key": "k-1"},
            json=body,
            timeout=0.2,
        )
    # The write happened although the client gave up; the retry with its key replays it.
    assert _invoice_count(http, tenant_id) == 1
    http.put("/_sandbox/faults", json={"latency_ms": 0})
    retry = http.put(f"{API}/Invoices", headers={**headers, "Idempotency-Key": "k-1"}, json=body)
    assert retry.status_code == 200
    assert _invoice_count(http, tenant_id) == 1


def test_idempotency_key_rules(http: httpx.Client, tenant_id: str, headers: dict[str, str]) -> None:
    contact_id = _contact_id(http, headers)
    too_long = {**headers, "Idempotency-Key": "k" * 129}
    response = http.put(f"{API}/Invoices", headers=too_long, json=invoice("INV-1", contact_id))
    assert response.status_code == 400
    assert _invoice_count(http, tenant_id) == 0

    keyed = {**headers, "Idempotency-Key": "key-a"}
    first = http.put(f"{API}/Invoices", headers=keyed, json=invoice("INV-1", contact_id))
    replay = http.put(f"{API}/Invoices", headers=keyed, json=invoice("INV-1", contact_id))
    assert replay.json() == first.json()
    conflict = http.put(f"{API}/Invoices", headers=keyed, json=invoice("INV-2", contact_id))
    assert conflict.status_code == 400
    assert "Idempotency" in conflict.json()["Detail"]
    assert _invoice_count(http, tenant_id) == 1

    # A refused (400) first answer is replayed as well, status included.
    bad = {**headers, "Idempotency-Key": "key-b"}
    refused = http.put(f"{API}/Invoices", headers=bad, json=invoice("INV-1", contact_id))
    again = http.put(f"{API}/Invoices", headers=bad, json=invoice("INV-1", contact_id))
    assert (refused.status_code, again.status_code) == (400, 400)
    assert again.json() == refused.json()


def test_contact_by_name_is_matched_or_created_once(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    named = {"Name": "Fresh Customer Ltd", "EmailAddress": "ap@fresh.example"}
    batch = {
        "Invoices": [
            invoice("INV-1", "", Contact=named),
            invoice("INV-2", "", Contact={"Name": "fresh customer ltd"}),
        ]
    }
    saved = http.put(f"{API}/Invoices", headers=headers, json=batch).json()["Invoices"]
    assert saved[0]["Contact"]["ContactID"] == saved[1]["Contact"]["ContactID"]
    contacts = http.get(f"{API}/Contacts", headers=headers, params={"searchTerm": "fresh"})
    assert len(contacts.json()["Contacts"]) == 1
    assert contacts.json()["Contacts"][0]["IsCustomer"] is True


def test_invoice_filters(http: httpx.Client, headers: dict[str, str]) -> None:
    first = _contact_id(http, headers, "One")
    second = _contact_id(http, headers, "Two")
    batch = [invoice(f"INV-{n}", first if n % 2 else second) for n in range(1, 106)]
    batch[0]["Status"] = "DRAFT"
    assert http.put(f"{API}/Invoices", headers=headers, json={"Invoices": batch}).is_success

    def numbers(**params: Any) -> list[str]:
        found = http.get(f"{API}/Invoices", headers=headers, params=params).json()["Invoices"]
        return [i["InvoiceNumber"] for i in found]

    assert numbers(InvoiceNumbers="INV-3,inv-4,INV-999") == ["INV-3", "INV-4"]
    assert numbers(Statuses="DRAFT") == ["INV-1"]
    assert len(numbers(ContactIDs=second)) == 52
    assert numbers(where='InvoiceNumber=="INV-7"') == ["INV-7"]
    assert numbers(where='Status=="DRAFT" AND Contact.ContactID==guid("' + first + '")') == [
        "INV-1"
    ]
    page_two = http.get(f"{API}/Invoices", headers=headers, params={"page": 2}).json()
    assert [i["InvoiceNumber"] for i in page_two["Invoices"]] == [
        f"INV-{n}" for n in range(101, 106)
    ]
    assert page_two["pagination"] == {"page": 2, "pageSize": 100, "pageCount": 2, "itemCount": 105}
    one = http.get(f"{API}/Invoices/INV-5", headers=headers).json()["Invoices"][0]
    by_id = http.get(f"{API}/Invoices/{one['InvoiceID']}", headers=headers).json()["Invoices"][0]
    assert by_id["InvoiceNumber"] == "INV-5"
    missing = http.get(f"{API}/Invoices/INV-999", headers=headers)
    assert missing.status_code == 404
    bad_where = http.get(f"{API}/Invoices", headers=headers, params={"where": "Total > 5"})
    assert bad_where.status_code == 400


def test_invoice_arithmetic_for_each_line_amount_type(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    contact_id = _contact_id(http, headers)
    lines = [{"Description": "A", "Quantity": 3, "UnitAmount": 33.33, "AccountCode": "200"}]
    batch = [
        invoice("E", contact_id, LineAmountTypes="Exclusive", LineItems=lines),
        invoice("I", contact_id, LineAmountTypes="Inclusive", LineItems=lines),
        invoice("N", contact_id, LineAmountTypes="NoTax", LineItems=lines),
    ]
    saved = http.put(f"{API}/Invoices", headers=headers, json={"Invoices": batch}).json()
    totals = [(i["SubTotal"], i["TotalTax"], i["Total"]) for i in saved["Invoices"]]
    assert totals == [(99.99, 15.0, 114.99), (86.95, 13.04, 99.99), (99.99, 0.0, 99.99)]
    assert saved["Invoices"][0]["LineItems"][0]["TaxType"] == "OUTPUT2"  # from the account


def test_request_log_masks_secrets(http: httpx.Client, tenant_id: str) -> None:
    token = connect(http, tenant_id)
    http.post(
        "/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=("sandbox", "sandbox"),
    )
    http.get(f"{API}/Organisation", headers=api_headers(token, tenant_id))
    entries = http.get("/_sandbox/requests").json()["requests"]
    text = str(entries)
    assert token["refresh_token"] not in text
    assert token["access_token"] not in text
    exchange = [e for e in entries if e["path"] == "/connect/token"]
    assert exchange[0]["body"]["code"] == "***"
    assert exchange[0]["body"]["code_verifier"] == "***"
    assert exchange[1]["body"]["refresh_token"] == "***"
    assert exchange[0]["headers"]["authorization"] == "***"
    authorize = next(e for e in entries if e["path"] == "/identity/connect/authorize")
    assert REDIRECT_URI.split("//")[1].split("/")[0] in authorize["query"]
    api = entries[-1]
    assert (api["status"], api["tenant_id"], api["endpoint"]) == (
        200,
        tenant_id,
        "GET /Organisation",
    )


def test_stats_count_calls_per_tenant_and_endpoint(
    http: httpx.Client, tenant_id: str, headers: dict[str, str]
) -> None:
    _contact_id(http, headers)
    http.get(f"{API}/invoices", headers=headers)  # Xero's paths are case-insensitive
    http.get(f"{API}/Invoices", headers=headers)
    stats = http.get("/_sandbox/stats").json()
    mine = stats["tenants"][tenant_id]
    assert mine["by_endpoint"] == {"PUT /Contacts": 1, "GET /Invoices": 2}
    assert mine["by_status"] == {"200": 3}
    assert stats["totals"]["by_endpoint"]["POST /connect/token"] == 1


def test_control_api_orgs_and_reset(http: httpx.Client) -> None:
    tenant = create_org(
        http,
        name="Custom",
        base_currency="AUD",
        currencies=["USD"],
        tax_rates=[{"TaxType": "OUTPUT", "Name": "GST on Income", "EffectiveRate": 10}],
        accounts=[{"Code": "4000", "Name": "Sales", "Type": "REVENUE"}],
        contacts=[{"Name": "Seeded Ltd", "ContactNumber": "S-1"}],
    )
    headers = api_headers(connect(http, tenant), tenant)
    currencies = http.get(f"{API}/Currencies", headers=headers).json()["Currencies"]
    assert [c["Code"] for c in currencies] == ["AUD", "USD"]
    seeded = http.get(f"{API}/Contacts/S-1", headers=headers).json()["Contacts"][0]
    assert seeded["Name"] == "Seeded Ltd"
    lines = [{"Description": "x", "Quantity": 1, "UnitAmount": 100, "AccountCode": "4000"}]
    body = invoice("INV-1", seeded["ContactID"], LineItems=lines, CurrencyCode="AUD")
    saved = http.put(f"{API}/Invoices", headers=headers, json=body).json()["Invoices"][0]
    assert (saved["TotalTax"], saved["Total"]) == (0.0, 100.0)  # account without TaxType
    listed = http.get(f"/_sandbox/orgs/{tenant}/invoices").json()
    assert listed["count"] == 1
    assert listed["Invoices"][0]["InvoiceNumber"] == "INV-1"

    assert http.post("/_sandbox/reset").is_success
    assert http.get(f"/_sandbox/orgs/{tenant}/invoices").status_code == 404
    assert http.get("/_sandbox/stats").json()["totals"]["calls"] == 0
