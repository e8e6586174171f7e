"""Every seed case, end to end: the stack as ``make run`` starts it, driven over HTTP only
(``local_infra.demo``, the code ``make demo`` runs), with assertions on the sync-log API and on
the Xero sandbox. Each test has its own invoices and leaves the organisation as it found it."""

from typing import Any

import httpx

from local_infra import demo as cases
from local_infra.demo import Demo


def get(demo: Demo, url: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {demo.api_key}"}
    response = httpx.get(url, headers=headers, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def detail(demo: Demo, invoice_id: str) -> dict[str, Any]:
    found = demo.status(invoice_id)
    assert found is not None, invoice_id
    return found


def test_a_clean_invoice_is_synced_once(demo: Demo) -> None:
    [row] = cases.clean_invoice(demo)

    assert row.status == "synced" and row.error_code is None
    synced = detail(demo, row.invoice_id)
    assert synced["xero_invoice_id"]
    assert demo.xero_copies(row.invoice_number) == 1
    listed = get(demo, f"{demo.sync_log_url}/v1/invoices", invoice_id=row.invoice_id)["items"]
    assert [item["status"] for item in listed] == ["synced"]


def test_a_missing_contact_fails_then_syncs_with_auto_create_on(demo: Demo) -> None:
    failed, synced = cases.missing_contact(demo)

    assert (failed.status, failed.error_code) == ("failed", "contact_missing")
    assert failed.remediation and "auto_create_contacts" in failed.remediation
    assert synced.status == "synced"
    history = detail(demo, synced.invoice_id)["history"]
    assert [e["error_code"] for e in history if e["status"] == "failed"] == ["contact_missing"]
    assert any(e.get("reason") == "manual" for e in history)
    assert demo.xero_copies(synced.invoice_number) == 1
    settings = get(demo, demo.connector("/settings"))
    assert settings["auto_create_contacts"] is False  # restored


def test_a_currency_not_enabled_fails_with_its_remediation(demo: Demo) -> None:
    [row] = cases.currency_not_enabled(demo)

    assert (row.status, row.error_code) == ("failed", "currency_not_enabled")
    last_error = detail(demo, row.invoice_id)["last_error"]
    assert "EUR" in last_error["message"] + " ".join(last_error["xero_messages"])
    assert last_error["remediation"]
    assert demo.xero_copies(row.invoice_number) == 0
    failing = get(
        demo,
        f"{demo.sync_log_url}/v1/invoices",
        org_id=demo.org_id,
        status="failed",
        error_code="currency_not_enabled",
    )["items"]
    assert row.invoice_id in {item["invoice_id"] for item in failing}


def test_an_unmapped_tax_rate_fails_then_mapped_and_resynced_by_filter(demo: Demo) -> None:
    failed, synced = cases.tax_rate_unmapped(demo)

    assert (failed.status, failed.error_code) == ("failed", "tax_rate_unmapped")
    assert synced.status == "synced"
    after = detail(demo, synced.invoice_id)
    [batch_id] = {e["batch_id"] for e in after["history"] if e.get("batch_id")}
    report = get(demo, f"{demo.sync_log_url}/v1/batches/{batch_id}")
    assert report["total"] >= 1 and report["synced"] == report["total"]
    assert report["failed"] == report["pending"] == 0
    assert demo.xero_copies(synced.invoice_number) == 1
    assert "EXEMPT" not in demo.mappings()["tax_rates"]  # restored


def test_manual_and_automatic_sync_of_one_invoice_make_one_xero_copy(demo: Demo) -> None:
    [row] = cases.manual_and_automatic(demo)

    assert row.status == "synced"
    history = detail(demo, row.invoice_id)["history"]
    outcomes = [e["outcome"] for e in history if e["status"] == "synced"]
    assert len(outcomes) >= 2 and outcomes.count("created") == 1
    assert any(e.get("reason") == "manual" for e in history)
    assert demo.xero_copies(row.invoice_number) == 1


def test_an_expired_connection_fails_then_reconnect_resyncs_automatically(demo: Demo) -> None:
    failed, synced = cases.expired_connection(demo)

    assert (failed.status, failed.error_code) == ("failed", "connection_expired")
    assert failed.remediation and "/connection" in failed.remediation
    assert synced.status == "synced"
    history = detail(demo, synced.invoice_id)["history"]
    assert any(e.get("reason") == "reconnect" for e in history)
    assert demo.xero_copies(synced.invoice_number) == 1
    assert demo.connection_status() == "connected"
    connections = get(demo, f"{demo.sync_log_url}/v1/connections", org_id=demo.org_id)
    assert connections and connections[0]["status"] == "connected"
